package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wgbench/wgbench/plots"
	"github.com/wgbench/wgbench/results"
)

// errRegression is returned (exit status 1) when run B is slower than run A
// at some point beyond the tolerance and the spread.
var errRegression = errors.New("regression")

// pointDiff is one point both runs measured.
type pointDiff struct {
	Series         string  `json:"series"`
	Tunnels        int     `json:"tunnels"`
	FlowsPerTunnel int     `json:"flows_per_tunnel"`
	AGbps          float64 `json:"a_gbps"`
	ACI95          float64 `json:"a_ci95"`
	AN             int     `json:"a_n"`
	BGbps          float64 `json:"b_gbps"`
	BCI95          float64 `json:"b_ci95"`
	BN             int     `json:"b_n"`
	// DiffGbps is B - A with Welch's 95 % CI half-width (null when a side
	// has fewer than two repetitions).
	DiffGbps float64  `json:"diff_gbps"`
	CI95     *float64 `json:"diff_ci95"`
	// Relative is DiffGbps / AGbps.
	Relative float64 `json:"relative"`
	// ACyclesPerByte and BCyclesPerByte are the points' costs, 0 without.
	ACyclesPerByte float64 `json:"a_cycles_per_byte,omitempty"`
	BCyclesPerByte float64 `json:"b_cycles_per_byte,omitempty"`
	// Verdict is "slower", "faster" or "same".
	Verdict string `json:"verdict"`
}

// runComparison is what compare A B reports.
type runComparison struct {
	A         string      `json:"a"`
	B         string      `json:"b"`
	Tolerance float64     `json:"tolerance"`
	Points    []pointDiff `json:"points"`
	OnlyA     []string    `json:"only_in_a,omitempty"`
	OnlyB     []string    `json:"only_in_b,omitempty"`
	Slower    int         `json:"slower"`
	Figure    string      `json:"figure,omitempty"`
}

// parseTolerance reads "5%", "5" (percent) or "0.05".
func parseTolerance(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--tolerance %q: want a percentage such as 5%%", s)
	}
	if pct || v >= 1 {
		v /= 100
	}
	return v, nil
}

func pointLabel(series string, t, f int) string {
	return fmt.Sprintf("%s@%d×%d", series, t, f)
}

// compareRuns puts every point of b beside the same point of a. A point
// of b is slower when it lost more than tol of a's mean and Welch's 95 %
// CI of the difference leaves out zero; faster likewise.
func compareRuns(aDir string, a *results.Run, bDir string, b *results.Run, tol float64) runComparison {
	c := runComparison{A: aDir, B: bDir, Tolerance: tol}
	type key struct {
		s    string
		t, f int
	}
	inA := map[key]*results.Point{}
	for i := range a.Points {
		p := &a.Points[i]
		inA[key{p.Series, p.Tunnels, p.FlowsPerTunnel}] = p
	}
	seen := map[key]bool{}
	for i := range b.Points {
		pb := &b.Points[i]
		k := key{pb.Series, pb.Tunnels, pb.FlowsPerTunnel}
		pa := inA[k]
		if pa == nil || pa.Summary.N == 0 || pb.Summary.N == 0 {
			c.OnlyB = append(c.OnlyB, pointLabel(k.s, k.t, k.f))
			continue
		}
		seen[k] = true
		d := results.Welch(pa.RepetitionGbps(), pb.RepetitionGbps())
		pd := pointDiff{Series: k.s, Tunnels: k.t, FlowsPerTunnel: k.f,
			AGbps: pa.Summary.MeanGbps, ACI95: pa.Summary.CI95Gbps, AN: pa.Summary.N,
			BGbps: pb.Summary.MeanGbps, BCI95: pb.Summary.CI95Gbps, BN: pb.Summary.N,
			DiffGbps: d.Diff, Verdict: "same"}
		if !math.IsInf(d.CI95, 0) {
			ci := d.CI95
			pd.CI95 = &ci
		}
		if pa.Summary.MeanGbps > 0 {
			pd.Relative = d.Diff / pa.Summary.MeanGbps
		}
		if pa.Cost != nil {
			pd.ACyclesPerByte = pa.Cost.CyclesPerByte
		}
		if pb.Cost != nil {
			pd.BCyclesPerByte = pb.Cost.CyclesPerByte
		}
		switch {
		case d.ExcludesZero() && pd.Relative < -tol:
			pd.Verdict = "slower"
			c.Slower++
		case d.ExcludesZero() && pd.Relative > tol:
			pd.Verdict = "faster"
		}
		c.Points = append(c.Points, pd)
	}
	for i := range a.Points {
		p := &a.Points[i]
		if k := (key{p.Series, p.Tunnels, p.FlowsPerTunnel}); !seen[k] {
			c.OnlyA = append(c.OnlyA, pointLabel(k.s, k.t, k.f))
		}
	}
	return c
}

// printRunComparison writes c as a table.
func printRunComparison(w io.Writer, c runComparison) {
	fmt.Fprintf(w, "A: %s\nB: %s\ntolerance: B may be %.1f %% slower than A at a point before it counts (and Welch's 95 %% CI of B−A must leave out zero)\n\n", c.A, c.B, 100*c.Tolerance)
	if len(c.Points) == 0 {
		fmt.Fprintln(w, "the runs share no measured point")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "series\ttunnels\tflows/tunnel\tA Gbit/s\t±CI\tB Gbit/s\t±CI\tB−A\tWelch 95% CI\tchange\tA cycles/B\tB cycles/B\tverdict\t")
		for _, p := range c.Points {
			ci := "n/a"
			if p.CI95 != nil {
				ci = fmt.Sprintf("±%.3f", *p.CI95)
			}
			cost := func(v float64) string {
				if v == 0 {
					return "—"
				}
				return fmt.Sprintf("%.1f", v)
			}
			verdict := p.Verdict
			if verdict == "slower" {
				verdict = "SLOWER"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%+.3f\t%s\t%+.1f%%\t%s\t%s\t%s\t\n", p.Series, p.Tunnels, p.FlowsPerTunnel,
				p.AGbps, p.ACI95, p.BGbps, p.BCI95, p.DiffGbps, ci, 100*p.Relative, cost(p.ACyclesPerByte), cost(p.BCyclesPerByte), verdict)
		}
		tw.Flush()
	}
	if len(c.OnlyA) > 0 {
		fmt.Fprintf(w, "only in A: %s\n", strings.Join(c.OnlyA, " "))
	}
	if len(c.OnlyB) > 0 {
		fmt.Fprintf(w, "only in B: %s\n", strings.Join(c.OnlyB, " "))
	}
	if c.Figure != "" {
		fmt.Fprintf(w, "figure: %s\n", c.Figure)
	}
	if c.Slower > 0 {
		fmt.Fprintf(w, "\nFAIL: %d of %d points of B are slower than A beyond the tolerance and the spread\n", c.Slower, len(c.Points))
	} else {
		fmt.Fprintf(w, "\nPASS: no point of B is slower than A beyond the tolerance and the spread (%d compared)\n", len(c.Points))
	}
}

// runCompareRuns compares the run folders a and b, writes the overlay
// figure and the report, and returns errRegression when B regressed.
func runCompareRuns(w io.Writer, aDir, bDir, tolerance, format, figure string) error {
	tol, err := parseTolerance(tolerance)
	if err != nil {
		return usageError{err}
	}
	_, a, err := results.Open(aDir)
	if err != nil {
		return err
	}
	_, b, err := results.Open(bDir)
	if err != nil {
		return err
	}
	c := compareRuns(aDir, a, bDir, b, tol)
	if figure == "" {
		figure = filepath.Join(bDir, plots.PlotsDirName, "compare-runs.png")
	}
	if figure != "-" {
		labels := []string{"A " + filepath.Base(filepath.Clean(aDir)), "B " + filepath.Base(filepath.Clean(bDir))}
		opts := plots.Options{RunLabels: labels}
		p, perr := plots.Throughput([]*results.Run{a, b}, opts)
		if perr == nil {
			perr = os.MkdirAll(filepath.Dir(figure), 0o755)
		}
		if perr == nil {
			perr = plots.Save(p, figure, opts)
		}
		if perr != nil {
			fmt.Fprintf(w, "warning: no overlay figure: %v\n", perr)
		} else {
			c.Figure = figure
		}
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return err
		}
	default:
		printRunComparison(w, c)
	}
	if c.Slower > 0 {
		return fmt.Errorf("%w: %d of %d points of %s are slower than %s by more than %.1f %% (Welch 95 %% CI excludes zero)", errRegression, c.Slower, len(c.Points), bDir, aDir, 100*tol)
	}
	return nil
}
