package results

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Summarize returns the statistics of a set of throughput measurements in
// Gbit/s: the count, the mean, the sample standard deviation (divisor n-1),
// the half-width of the 95 % confidence interval of the mean from
// Student's t distribution with n-1 degrees of freedom, and the extremes.
//
// Values that are not finite (NaN, ±Inf) are left out, so one bad
// measurement cannot make the run file unwritable; N counts the values
// used. The standard deviation and the confidence interval are 0 when
// fewer than two values remain, and the whole Summary is zero when none
// does.
func Summarize(gbps []float64) Summary {
	var s Summary
	var sum float64
	for _, v := range gbps {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if s.N == 0 || v < s.MinGbps {
			s.MinGbps = v
		}
		if s.N == 0 || v > s.MaxGbps {
			s.MaxGbps = v
		}
		s.N++
		sum += v
	}
	if s.N == 0 {
		return Summary{}
	}
	s.MeanGbps = sum / float64(s.N)
	if s.N < 2 {
		return s
	}
	var ss float64
	for _, v := range gbps {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		d := v - s.MeanGbps
		ss += d * d
	}
	s.StddevGbps = math.Sqrt(ss / float64(s.N-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(s.N - 1)}.Quantile(0.975)
	s.CI95Gbps = t * s.StddevGbps / math.Sqrt(float64(s.N))
	return s
}

// Resummarize recomputes p.Summary from the successful repetitions of p,
// taking each one's AggregateBps in Gbit/s.
func (p *Point) Resummarize() {
	gbps := make([]float64, 0, len(p.Repetitions))
	for _, r := range p.Repetitions {
		if r.OK() {
			gbps = append(gbps, r.AggregateBps/1e9)
		}
	}
	p.Summary = Summarize(gbps)
	p.Cost = summarizeCost(p.Repetitions)
}

// OKRepetitions returns how many repetitions of p succeeded.
func (p *Point) OKRepetitions() int {
	n := 0
	for _, r := range p.Repetitions {
		if r.OK() {
			n++
		}
	}
	return n
}

// Difference is the difference of two means with Welch's 95 % confidence
// interval (unequal variances).
type Difference struct {
	// Diff is mean(b) - mean(a).
	Diff float64 `json:"diff"`
	// CI95 is the half-width of the interval; +Inf when either side has
	// fewer than two values (no spread to judge by).
	CI95 float64 `json:"ci95"`
	// DF is the Welch–Satterthwaite degrees of freedom.
	DF float64 `json:"df"`
}

// ExcludesZero reports whether the interval Diff ± CI95 leaves out zero:
// the difference is beyond the repetitions' spread.
func (d Difference) ExcludesZero() bool {
	return !math.IsInf(d.CI95, 0) && math.Abs(d.Diff) > d.CI95
}

// Welch returns mean(b) - mean(a) with Welch's 95 % confidence interval.
// Values that are not finite are left out.
func Welch(a, b []float64) Difference {
	sa, sb := Summarize(a), Summarize(b)
	d := Difference{Diff: sb.MeanGbps - sa.MeanGbps, CI95: math.Inf(1)}
	if sa.N < 2 || sb.N < 2 {
		return d
	}
	va := sa.StddevGbps * sa.StddevGbps / float64(sa.N)
	vb := sb.StddevGbps * sb.StddevGbps / float64(sb.N)
	se := math.Sqrt(va + vb)
	if se == 0 {
		d.CI95, d.DF = 0, float64(sa.N+sb.N-2)
		return d
	}
	d.DF = (va + vb) * (va + vb) / (va*va/float64(sa.N-1) + vb*vb/float64(sb.N-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: d.DF}.Quantile(0.975)
	d.CI95 = t * se
	return d
}

// RepetitionGbps returns the aggregate throughput of p's successful
// repetitions in Gbit/s.
func (p *Point) RepetitionGbps() []float64 {
	var out []float64
	for _, r := range p.Repetitions {
		if r.OK() {
			out = append(out, r.AggregateBps/1e9)
		}
	}
	return out
}

// RepetitionCyclesPerByte returns the cycles per byte of p's successful
// repetitions that have a cost.
func (p *Point) RepetitionCyclesPerByte() []float64 {
	var out []float64
	for _, r := range p.Repetitions {
		if r.OK() && r.Cost != nil && r.Cost.Bytes > 0 {
			out = append(out, r.Cost.CyclesPerByte)
		}
	}
	return out
}
