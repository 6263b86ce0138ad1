package results

import (
	"math"
	"testing"
	"time"
)

// Quantiles of Student's t distribution at 0.975, from printed tables.
const (
	t975df1 = 12.7062047362
	t975df4 = 2.7764451052
	t975df9 = 2.2621571628
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{name: "empty", in: nil, want: Summary{}},
		{name: "one value has no spread", in: []float64{5}, want: Summary{N: 1, MeanGbps: 5, MinGbps: 5, MaxGbps: 5}},
		{
			name: "two values, df=1",
			in:   []float64{3, 1},
			// sd = sqrt(2), ci = t * sqrt(2)/sqrt(2)
			want: Summary{N: 2, MeanGbps: 2, StddevGbps: math.Sqrt2, CI95Gbps: t975df1, MinGbps: 1, MaxGbps: 3},
		},
		{
			name: "five values, df=4",
			in:   []float64{4, 2, 5, 1, 3},
			// sd = sqrt(10/4), ci = t * sd / sqrt(5)
			want: Summary{N: 5, MeanGbps: 3, StddevGbps: math.Sqrt(2.5), CI95Gbps: t975df4 * math.Sqrt(2.5) / math.Sqrt(5), MinGbps: 1, MaxGbps: 5},
		},
		{
			name: "ten values, df=9",
			in:   []float64{9.1, 9.3, 9.0, 9.4, 9.2, 9.6, 9.5, 9.3, 9.1, 9.5},
			// sum of squared deviations is 0.36.
			want: Summary{N: 10, MeanGbps: 9.3, StddevGbps: 0.2, CI95Gbps: t975df9 * 0.2 / math.Sqrt(10), MinGbps: 9.0, MaxGbps: 9.6},
		},
		{
			name: "equal values",
			in:   []float64{9.4, 9.4, 9.4},
			want: Summary{N: 3, MeanGbps: 9.4, MinGbps: 9.4, MaxGbps: 9.4},
		},
		{
			name: "non-finite values are left out",
			in:   []float64{math.NaN(), 4, math.Inf(1), 2, math.Inf(-1)},
			want: Summary{N: 2, MeanGbps: 3, StddevGbps: math.Sqrt2, CI95Gbps: t975df1, MinGbps: 2, MaxGbps: 4},
		},
		{name: "only non-finite values", in: []float64{math.NaN()}, want: Summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.in)
			checkSummary(t, got, tt.want)
		})
	}
}

// checkSummary compares summaries with a relative tolerance that covers the
// ten digits of the table quantiles.
func checkSummary(t *testing.T, got, want Summary) {
	t.Helper()
	if got.N != want.N {
		t.Errorf("N = %d, want %d", got.N, want.N)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"mean", got.MeanGbps, want.MeanGbps},
		{"stddev", got.StddevGbps, want.StddevGbps},
		{"ci95", got.CI95Gbps, want.CI95Gbps},
		{"min", got.MinGbps, want.MinGbps},
		{"max", got.MaxGbps, want.MaxGbps},
	} {
		if math.Abs(f.got-f.want) > 1e-9*math.Max(1, math.Abs(f.want)) {
			t.Errorf("%s = %.12g, want %.12g", f.name, f.got, f.want)
		}
	}
}

func TestResummarize(t *testing.T) {
	rep := func(bps float64, err string) Repetition {
		return Repetition{Started: time.Unix(0, 0), AggregateBps: bps, Error: err}
	}
	tests := []struct {
		name string
		reps []Repetition
		want Summary
	}{
		{name: "no repetitions", want: Summary{}},
		{
			name: "failed repetitions are left out",
			reps: []Repetition{rep(9e9, ""), rep(50e9, "iperf3: connection refused"), rep(11e9, "")},
			want: Summary{N: 2, MeanGbps: 10, StddevGbps: math.Sqrt2, CI95Gbps: t975df1, MinGbps: 9, MaxGbps: 11},
		},
		{
			name: "all failed",
			reps: []Repetition{rep(1e9, "timeout"), rep(2e9, "timeout")},
			want: Summary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A stale summary must be replaced, not merged.
			p := Point{Repetitions: tt.reps, Summary: Summary{N: 99, MeanGbps: 123}}
			p.Resummarize()
			checkSummary(t, p.Summary, tt.want)
		})
	}
}

func TestWelch(t *testing.T) {
	tests := []struct {
		name     string
		a, b     []float64
		diff     float64
		excludes bool
	}{
		{"same values", []float64{1, 2, 3}, []float64{1, 2, 3}, 0, false},
		{"halved", []float64{10, 10.2, 9.9}, []float64{5, 5.1, 4.95}, -5.0166666666666667, true},
		{"overlapping", []float64{1, 3, 5}, []float64{2, 4, 6}, 1, false},
		{"one value a side", []float64{1}, []float64{5}, 4, false},
		{"constant, different", []float64{2, 2}, []float64{3, 3}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Welch(tt.a, tt.b)
			if math.Abs(d.Diff-tt.diff) > 1e-9 || d.ExcludesZero() != tt.excludes {
				t.Errorf("Welch = %+v (excludes zero %v), want diff %g, excludes zero %v", d, d.ExcludesZero(), tt.diff, tt.excludes)
			}
		})
	}
	// A textbook case: the interval of two samples of 3 (Welch df 2.94).
	d := Welch([]float64{1, 2, 3}, []float64{4, 6, 8})
	if math.Abs(d.DF-2.9412) > 1e-3 || math.Abs(d.CI95-4.155) > 0.01 {
		t.Errorf("Welch df %.4f ci %.3f, want df 2.94, ci 4.155 (t 3.218 × se 1.291)", d.DF, d.CI95)
	}
}
