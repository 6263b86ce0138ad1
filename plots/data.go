package plots

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/results"
)

// stat is the throughput of one point as figures use it.
type stat struct {
	Tunnels, Flows int // tunnels and flows per tunnel
	N, Total       int // successful and attempted repetitions
	Mean           float64
	Err            float64 // error bar half-width, 0 when none
	HasErr         bool
}

// line is one series of one run, with its points sorted by tunnels then
// flows per tunnel.
type line struct {
	Run      int
	RunLabel string
	Series   string
	Datapath string
	Label    string // what legends call it
	Points   []stat
}

// skipped is a series that did not run.
type skipped struct {
	Label  string
	Reason string
}

// dataset is what several runs hold, ready to plot.
type dataset struct {
	Lines   []line
	Skipped []skipped
}

// runLabels returns a label per run: opts.RunLabels where given, else the
// scenario name, with the start time added where two runs share a name.
func runLabels(runs []*results.Run, given []string) []string {
	labels := make([]string, len(runs))
	count := map[string]int{}
	for i, r := range runs {
		switch {
		case i < len(given) && given[i] != "":
			labels[i] = given[i]
		case r != nil && r.Scenario.Name != "":
			labels[i] = r.Scenario.Name
		default:
			labels[i] = fmt.Sprintf("run%d", i+1)
		}
		count[labels[i]]++
	}
	for i, r := range runs {
		if count[labels[i]] < 2 || (i < len(given) && given[i] != "") {
			continue
		}
		if r != nil && !r.Started.IsZero() {
			labels[i] += "@" + r.Started.UTC().Format("0102-150405")
		}
	}
	// Still the same (same start time, or labels given twice): number them.
	again := map[string]int{}
	for _, l := range labels {
		again[l]++
	}
	for i := range labels {
		if again[labels[i]] > 1 {
			labels[i] += fmt.Sprintf("#%d", i+1)
		}
	}
	return labels
}

// finite reports whether v is a usable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// pointStat returns the statistics of p as figures draw them. The stored
// summary is used when it is sound; otherwise (no summary, NaN) it is
// recomputed from the successful repetitions.
func pointStat(p results.Point, eb ErrorBars) stat {
	s := p.Summary
	if s.N == 0 || !finite(s.MeanGbps) || !finite(s.StddevGbps) || !finite(s.CI95Gbps) {
		cp := p
		cp.Resummarize()
		s = cp.Summary
	}
	st := stat{Tunnels: p.Tunnels, Flows: p.FlowsPerTunnel, N: s.N, Total: len(p.Repetitions), Mean: s.MeanGbps}
	if st.Total < st.N { // a summary without its repetitions (points.csv)
		st.Total = st.N
	}
	if s.N >= 2 {
		switch eb {
		case CI95:
			st.Err, st.HasErr = s.CI95Gbps, true
		case Stddev:
			st.Err, st.HasErr = s.StddevGbps, true
		}
		if !finite(st.Err) || st.Err < 0 {
			st.Err, st.HasErr = 0, false
		}
	}
	if !finite(st.Mean) {
		st.N, st.Mean = 0, 0
	}
	return st
}

// collect gathers the series of runs in the order the scenarios list them.
// A series with no point at all is listed as skipped with the reason the
// run gives, or "no point was measured".
func collect(runs []*results.Run, opts Options) dataset {
	labels := runLabels(runs, opts.RunLabels)
	// A series name in two runs or more is ambiguous on its own.
	seen := map[string]int{}
	for _, r := range runs {
		if r == nil {
			continue
		}
		for _, name := range seriesNames(r) {
			seen[name]++
		}
	}
	var ds dataset
	for i, r := range runs {
		if r == nil {
			continue
		}
		for _, name := range seriesNames(r) {
			label := name
			if seen[name] > 1 {
				label = labels[i] + "/" + name
			}
			if reason := skipReason(r, name); reason != "" {
				ds.Skipped = append(ds.Skipped, skipped{Label: label, Reason: reason})
				continue
			}
			ln := line{Run: i, RunLabel: labels[i], Series: name, Label: label}
			for _, p := range r.Points {
				if p.Series != name {
					continue
				}
				if ln.Datapath == "" {
					ln.Datapath = string(p.Datapath)
				}
				ln.Points = append(ln.Points, pointStat(p, opts.ErrorBars))
			}
			if len(ln.Points) == 0 {
				ds.Skipped = append(ds.Skipped, skipped{Label: label, Reason: "no point was measured"})
				continue
			}
			slices.SortStableFunc(ln.Points, func(a, b stat) int {
				return cmp.Or(cmp.Compare(a.Tunnels, b.Tunnels), cmp.Compare(a.Flows, b.Flows))
			})
			ds.Lines = append(ds.Lines, ln)
		}
	}
	return ds
}

// seriesNames lists the series of r: those of run.Series, then any name
// only the points use (a hand-edited or older run file).
func seriesNames(r *results.Run) []string {
	var names []string
	has := map[string]bool{}
	add := func(n string) {
		if !has[n] {
			has[n] = true
			names = append(names, n)
		}
	}
	for _, s := range r.Series {
		add(s.Name)
	}
	for _, p := range r.Points {
		add(p.Series)
	}
	return names
}

// skipReason returns why series name of r did not run, "" when it ran.
func skipReason(r *results.Run, name string) string {
	for _, s := range r.Series {
		if s.Name == name && s.Skipped != "" {
			return s.Skipped
		}
	}
	return ""
}

// hasData reports whether any point of ds has a successful repetition.
func (ds dataset) hasData() bool {
	for _, l := range ds.Lines {
		for _, p := range l.Points {
			if p.N > 0 {
				return true
			}
		}
	}
	return false
}

// describeRuns names the runs for an error message.
func describeRuns(runs []*results.Run) string {
	var names []string
	for _, r := range runs {
		if r != nil {
			names = append(names, fmt.Sprintf("%q", r.Scenario.Name))
		}
	}
	if len(names) == 0 {
		return "no run"
	}
	return "run " + strings.Join(names, ", ")
}

// scenarioTitle names the scenarios of runs for a title.
func scenarioTitle(runs []*results.Run) string {
	var names []string
	for _, r := range runs {
		if r == nil {
			continue
		}
		n := r.Scenario.Name
		if n == "" {
			n = "unnamed scenario"
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "wgbench"
	}
	return strings.Join(names, " + ")
}

// protocolName returns "TCP" or "UDP" when every run uses it, else "".
func protocolName(runs []*results.Run) string {
	proto := ""
	for _, r := range runs {
		if r == nil {
			continue
		}
		p := strings.ToUpper(string(r.Scenario.Traffic.Protocol))
		if proto == "" {
			proto = p
		} else if proto != p {
			return ""
		}
	}
	return proto
}

// plural returns "n word" with an s when n != 1.
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
