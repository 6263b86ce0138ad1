package tuner

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/wgbench/wgbench/results"
)

// Verdicts of an A/B comparison.
const (
	// VerdictBetter: B's mean is higher and the 95 % confidence interval
	// of the difference excludes zero.
	VerdictBetter = "better"
	// VerdictWorse: B's mean is lower, likewise beyond the spread.
	VerdictWorse = "worse"
	// VerdictUnclear: the difference is within the repetitions' spread.
	VerdictUnclear = "no clear change"
	// VerdictNoSpread: a side has fewer than two repetitions, so the
	// spread is unknown; the difference is reported without a verdict.
	VerdictNoSpread = "no spread to judge (need ≥ 2 repetitions per side)"
	// VerdictNotMeasured: a side was not measured.
	VerdictNotMeasured = "not measured"
	// VerdictMixed: better at some points, worse at others.
	VerdictMixed = "mixed"
)

// Delta is the A/B comparison of two measured points.
type Delta struct {
	// A and B name the points ("1 tunnel × 4 flows").
	A string `json:"a"`
	B string `json:"b"`
	// SummaryA and SummaryB are their statistics (Gbit/s).
	SummaryA results.Summary `json:"summary_a"`
	SummaryB results.Summary `json:"summary_b"`
	// DeltaGbps is B − A; DeltaPct the same relative to A.
	DeltaGbps float64 `json:"delta_gbps"`
	DeltaPct  float64 `json:"delta_pct"`
	// CI95Gbps is the half-width of the 95 % confidence interval of the
	// difference (Welch's t), 0 when a side has fewer than two
	// repetitions.
	CI95Gbps float64 `json:"ci95_gbps"`
	Verdict  string  `json:"verdict"`
	// Notes are the points' notes (knobs skipped or adjusted).
	Notes []string `json:"notes,omitempty"`
}

// compare compares B against A.
func compare(a, b results.Summary) Delta {
	d := Delta{SummaryA: a, SummaryB: b}
	if a.N == 0 || b.N == 0 {
		d.Verdict = VerdictNotMeasured
		return d
	}
	d.DeltaGbps = b.MeanGbps - a.MeanGbps
	if a.MeanGbps != 0 {
		d.DeltaPct = 100 * d.DeltaGbps / a.MeanGbps
	}
	if a.N < 2 || b.N < 2 {
		d.Verdict = VerdictNoSpread
		return d
	}
	va, vb := a.StddevGbps*a.StddevGbps/float64(a.N), b.StddevGbps*b.StddevGbps/float64(b.N)
	se := math.Sqrt(va + vb)
	if se > 0 {
		df := (va + vb) * (va + vb) / (va*va/float64(a.N-1) + vb*vb/float64(b.N-1))
		d.CI95Gbps = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975) * se
	}
	switch {
	case d.DeltaGbps > d.CI95Gbps:
		d.Verdict = VerdictBetter
	case -d.DeltaGbps > d.CI95Gbps:
		d.Verdict = VerdictWorse
	default:
		d.Verdict = VerdictUnclear
	}
	return d
}

// Item is the verification of one suggestion (or hand-made variant) in
// one baseline series.
type Item struct {
	// Suggestion is the rule ID the variant verifies (or the label after
	// the baseline's name, for a hand-made variant).
	Suggestion string `json:"suggestion"`
	// Known is true when Suggestion is one of the suggestions given.
	Known bool `json:"known"`
	// Expected is the suggestion's expected effect, if known.
	Expected string `json:"expected,omitempty"`
	// Baseline and Variant are the series compared (the same series for
	// a comparison between points of one series).
	Baseline string `json:"baseline"`
	Variant  string `json:"variant"`
	// Measured is false when a side was not run; Reason says why.
	Measured bool   `json:"measured"`
	Reason   string `json:"reason,omitempty"`
	// Points are the per-point comparisons.
	Points []Delta `json:"points,omitempty"`
	// Verdict sums the points up.
	Verdict string `json:"verdict"`
}

// VerifyReport is the A/B comparison of a verification run.
type VerifyReport struct {
	// Scenario is the scenario's name; Status and Error the run's.
	Scenario string `json:"scenario"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	Items    []Item `json:"items"`
}

// Compare pairs every variant series of the run ("<baseline>.<label>")
// with its baseline and compares them point by point, and, inside every
// series whose sweep has both, compares one tunnel carrying k flows with
// k tunnels carrying one flow each (the multi-tunnel suggestion). The
// suggestions, when given, name what each variant verifies.
func Compare(run *results.Run, sugg []Suggestion) *VerifyReport {
	rep := &VerifyReport{Scenario: run.Scenario.Name, Status: run.Status, Error: run.Error}
	skipped := map[string]string{}
	for _, s := range run.Series {
		if s.Skipped != "" {
			skipped[s.Name] = s.Skipped
		}
	}
	known := map[string]*Suggestion{}
	for i := range sugg {
		if known[sugg[i].ID] == nil {
			known[sugg[i].ID] = &sugg[i]
		}
	}
	names := make([]string, len(run.Scenario.Series))
	for i, s := range run.Scenario.Series {
		names[i] = s.Name
	}
	for _, v := range run.Scenario.Series {
		base, label, ok := splitVariant(v.Name, names)
		if !ok {
			continue
		}
		it := Item{Suggestion: resolveLabel(label), Baseline: base, Variant: v.Name}
		if s := known[it.Suggestion]; s != nil {
			it.Known, it.Expected = true, s.Effect.Text+" ("+s.Effect.Source+")"
		}
		switch {
		case skipped[v.Name] != "":
			it.Reason = "variant " + v.Name + " skipped: " + skipped[v.Name]
		case skipped[base] != "":
			it.Reason = "baseline " + base + " skipped: " + skipped[base]
		default:
			it.Measured = true
			for _, p := range run.Points {
				if p.Series != base {
					continue
				}
				q := findPoint(run, v.Name, p.Tunnels, p.FlowsPerTunnel)
				d := Delta{A: pointName(p.Tunnels, p.FlowsPerTunnel), Verdict: VerdictNotMeasured}
				if q != nil {
					d = compare(p.Summary, q.Summary)
					d.A = pointName(p.Tunnels, p.FlowsPerTunnel)
					d.Notes = append(slices.Clone(p.Notes), q.Notes...)
				}
				d.B = d.A
				it.Points = append(it.Points, d)
			}
		}
		it.Verdict = verdictOf(it)
		rep.Items = append(rep.Items, it)
	}
	// Split comparisons inside each series.
	for _, s := range run.Scenario.Series {
		if _, _, ok := splitVariant(s.Name, names); ok {
			continue
		}
		it := Item{Suggestion: "multi-tunnel", Baseline: s.Name, Variant: s.Name}
		if k := known["multi-tunnel"]; k != nil {
			it.Known, it.Expected = true, k.Effect.Text+" ("+k.Effect.Source+")"
		}
		for _, p := range run.Points {
			if p.Series != s.Name || p.Tunnels != 1 || p.FlowsPerTunnel < 2 {
				continue
			}
			q := findPoint(run, s.Name, p.FlowsPerTunnel, 1)
			if q == nil {
				continue
			}
			d := compare(p.Summary, q.Summary)
			d.A, d.B = pointName(1, p.FlowsPerTunnel), pointName(q.Tunnels, 1)
			d.Notes = append(slices.Clone(p.Notes), q.Notes...)
			it.Points = append(it.Points, d)
		}
		if len(it.Points) == 0 {
			continue
		}
		it.Measured = skipped[s.Name] == ""
		if !it.Measured {
			it.Reason = "series " + s.Name + " skipped: " + skipped[s.Name]
		}
		it.Verdict = verdictOf(it)
		rep.Items = append(rep.Items, it)
	}
	return rep
}

// splitVariant splits "<baseline>.<label>" where baseline is the longest
// other series name that prefixes it.
func splitVariant(name string, names []string) (base, label string, ok bool) {
	for _, n := range names {
		if n != name && strings.HasPrefix(name, n+".") && len(n) > len(base) {
			base = n
		}
	}
	if base == "" {
		return "", "", false
	}
	return base, name[len(base)+1:], true
}

// verdictOf sums up an item's points.
func verdictOf(it Item) string {
	if !it.Measured {
		return VerdictNotMeasured
	}
	count := map[string]int{}
	for _, d := range it.Points {
		count[d.Verdict]++
	}
	judged := count[VerdictBetter] + count[VerdictWorse] + count[VerdictUnclear]
	switch {
	case judged == 0 && count[VerdictNoSpread] > 0:
		return VerdictNoSpread
	case judged == 0:
		return VerdictNotMeasured
	case count[VerdictBetter] > 0 && count[VerdictWorse] > 0:
		return VerdictMixed
	case count[VerdictBetter] > 0:
		return VerdictBetter
	case count[VerdictWorse] > 0:
		return VerdictWorse
	}
	return VerdictUnclear
}

// WriteText writes the report, one block per item: the verdict line, then
// one line per point.
func (v *VerifyReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Verification of scenario %s (run %s", v.Scenario, v.Status)
	if v.Error != "" {
		fmt.Fprintf(&b, ": %s", v.Error)
	}
	b.WriteString(")\n")
	if len(v.Items) == 0 {
		b.WriteString("nothing to compare: the scenario has no variant series (<baseline>.<suggestion>) and no 1-tunnel × k-flow / k-tunnel × 1-flow pair\n")
	}
	for _, it := range v.Items {
		what := it.Baseline + " → " + it.Variant
		if it.Baseline == it.Variant {
			what = "inside " + it.Baseline
		}
		label := it.Suggestion
		switch {
		case it.Known:
		case slices.Contains(RuleIDs, it.Suggestion):
			label += " (not among the current suggestions)"
		default:
			label += " (hand-made variant)"
		}
		fmt.Fprintf(&b, "%-9s %s [%s]: %s", verdictTag(it.Verdict), label, what, it.Verdict)
		if it.Reason != "" {
			fmt.Fprintf(&b, ": %s", it.Reason)
		}
		b.WriteString("\n")
		if it.Expected != "" {
			fmt.Fprintf(&b, "          expected: %s\n", it.Expected)
		}
		for _, d := range it.Points {
			point := d.A
			if d.B != d.A {
				point = d.A + " → " + d.B
			}
			if d.Verdict == VerdictNotMeasured {
				fmt.Fprintf(&b, "          %s: not measured\n", point)
				continue
			}
			fmt.Fprintf(&b, "          %s: %s → %s Gbit/s (%+.1f %%", point, stat(d.SummaryA), stat(d.SummaryB), d.DeltaPct)
			if d.CI95Gbps > 0 {
				fmt.Fprintf(&b, ", difference %+.3f ± %.3f at 95 %%", d.DeltaGbps, d.CI95Gbps)
			}
			fmt.Fprintf(&b, "): %s\n", d.Verdict)
			for _, n := range d.Notes {
				fmt.Fprintf(&b, "            note: %s\n", n)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdictTag(v string) string {
	switch v {
	case VerdictBetter:
		return "Better:"
	case VerdictWorse:
		return "Worse:"
	case VerdictNotMeasured:
		return "Skipped:"
	case VerdictMixed:
		return "Mixed:"
	case VerdictNoSpread:
		return "Unjudged:"
	}
	return "Same:"
}

// stat formats a summary as "mean ± CI (n=N)".
func stat(s results.Summary) string {
	if s.N < 2 {
		return fmt.Sprintf("%.3f (n=%d)", s.MeanGbps, s.N)
	}
	return fmt.Sprintf("%.3f ± %.3f (n=%d)", s.MeanGbps, s.CI95Gbps, s.N)
}
