package report

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// Verdict answers a run in two to four sentences with their numbers: the
// fastest series and by how much (Welch 95 % CI of the difference), the
// cheapest per byte and whether it is so at every point, the bottleneck the
// detector named, and the top suggestion (given, as the tuner words it).
func Verdict(run *results.Run, topSuggestion string) []string {
	var out []string
	if s := fastest(run); s != "" {
		out = append(out, s)
	}
	if s := cheapest(run); s != "" {
		out = append(out, s)
	}
	if rows := results.SummarizeFindings(run); len(rows) > 0 {
		f := rows[0]
		out = append(out, fmt.Sprintf("The detector's bottleneck: %s on %s (%s) in %d of %d repetitions%s.",
			f.Kind, strings.Join(f.Hosts, " and "), cpuset.Set(f.Cores).Words(), f.Repetitions, f.Of, sharedSuffix(f.Shared)))
	} else if len(run.Points) > 0 {
		out = append(out, "The detector found no saturated core.")
	}
	if s := strings.TrimSpace(stripNumber(topSuggestion)); s != "" {
		out = append(out, "Top suggestion: "+s)
	}
	if len(out) == 0 {
		out = append(out, "Nothing was measured.")
	}
	return out
}

func sharedSuffix(shared bool) string {
	if shared {
		return ", on cores every testbed host shares"
	}
	return ""
}

var numberPrefix = regexp.MustCompile(`^\s*\d+\.\s+`)

// stripNumber drops a leading "1. " (the list numbers the suggestion).
func stripNumber(s string) string { return numberPrefix.ReplaceAllString(s, "") }

// pointKey names a point of a series.
type pointKey struct{ tunnels, flows int }

func (k pointKey) String() string {
	s := fmt.Sprintf("%d %s", k.tunnels, plural(k.tunnels, "tunnel", "tunnels"))
	if k.flows > 1 {
		s += fmt.Sprintf(" × %d flows", k.flows)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// contenders returns the points of the series that carry tunnels (all
// series when none does), by series in run order.
func contenders(run *results.Run) (names []string, points map[string]map[pointKey]*results.Point) {
	points = map[string]map[pointKey]*results.Point{}
	tunnelled := slices.ContainsFunc(run.Points, func(p results.Point) bool { return p.Datapath != scenarios.Plain })
	for i := range run.Points {
		p := &run.Points[i]
		if p.Summary.N == 0 || (tunnelled && p.Datapath == scenarios.Plain) {
			continue
		}
		if points[p.Series] == nil {
			points[p.Series] = map[pointKey]*results.Point{}
			names = append(names, p.Series)
		}
		points[p.Series][pointKey{p.Tunnels, p.FlowsPerTunnel}] = p
	}
	return names, points
}

// sharedPoint is the largest point every named series measured (ok says
// whether there is one).
func sharedPoint(names []string, points map[string]map[pointKey]*results.Point, has func(*results.Point) bool) (pointKey, bool) {
	var keys []pointKey
	for k := range points[names[0]] {
		all := true
		for _, n := range names {
			p := points[n][k]
			if p == nil || !has(p) {
				all = false
				break
			}
		}
		if all {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return pointKey{}, false
	}
	return slices.MaxFunc(keys, func(a, b pointKey) int {
		return cmp.Or(cmp.Compare(a.tunnels*a.flows, b.tunnels*b.flows), cmp.Compare(a.tunnels, b.tunnels))
	}), true
}

// fastest says which series is fastest at the largest shared point.
func fastest(run *results.Run) string {
	names, points := contenders(run)
	if len(names) == 0 {
		return ""
	}
	k, ok := sharedPoint(names, points, func(*results.Point) bool { return true })
	if !ok {
		return ""
	}
	sorted := slices.Clone(names)
	slices.SortStableFunc(sorted, func(a, b string) int {
		return cmp.Compare(points[b][k].Summary.MeanGbps, points[a][k].Summary.MeanGbps)
	})
	best := points[sorted[0]][k]
	if len(sorted) == 1 {
		return fmt.Sprintf("At %s, %s carried %.2f ± %.2f Gbit/s (mean ± 95 %% CI, n=%d).", k, best.Series, best.Summary.MeanGbps, best.Summary.CI95Gbps, best.Summary.N)
	}
	next := points[sorted[1]][k]
	d := results.Welch(next.RepetitionGbps(), best.RepetitionGbps())
	rel := ""
	if next.Summary.MeanGbps > 0 {
		rel = fmt.Sprintf(", %.1f×", best.Summary.MeanGbps/next.Summary.MeanGbps)
	}
	judge := "beyond the repetitions' spread"
	switch {
	case d.CI95 > 1e300:
		judge = "so no verdict: run with repetitions ≥ 2 to tell"
	case !d.ExcludesZero():
		judge = "within the repetitions' spread: no clear winner"
	}
	return fmt.Sprintf("At %s, %s is the fastest: %.2f ± %.2f Gbit/s, %+.2f Gbit/s%s over %s (%.2f ± %.2f; Welch 95 %% CI of the difference %s, %s).",
		k, best.Series, best.Summary.MeanGbps, best.Summary.CI95Gbps, d.Diff, rel, next.Series,
		next.Summary.MeanGbps, next.Summary.CI95Gbps, ciText(d), judge)
}

// ciText renders ± the CI, or why there is none.
func ciText(d results.Difference) string {
	if d.CI95 > 1e300 {
		return "unknown (fewer than two repetitions)"
	}
	return fmt.Sprintf("±%.2f", d.CI95)
}

// cheapest says which series costs the least per byte, at the largest
// shared point and how often at the others.
func cheapest(run *results.Run) string {
	names, points := contenders(run)
	var costed []string
	for _, n := range names {
		for _, p := range points[n] {
			if p.Cost != nil {
				costed = append(costed, n)
				break
			}
		}
	}
	if len(costed) == 0 {
		return ""
	}
	hasCost := func(p *results.Point) bool { return p.Cost != nil }
	k, ok := sharedPoint(costed, points, hasCost)
	if !ok {
		return ""
	}
	sorted := slices.Clone(costed)
	slices.SortStableFunc(sorted, func(a, b string) int {
		return cmp.Compare(points[a][k].Cost.CyclesPerByte, points[b][k].Cost.CyclesPerByte)
	})
	best := points[sorted[0]][k]
	clock := ""
	if run.Clock != nil {
		clock = fmt.Sprintf(", %.2f GHz %s clock", run.Clock.Hz/1e9, run.Clock.Source)
	}
	how := "by core"
	if best.Cost.Method == results.ByThread {
		how = "by thread"
	}
	if len(sorted) == 1 {
		return fmt.Sprintf("%s costs %.1f ± %.1f gateway cycles per byte at %s (%s%s).", best.Series, best.Cost.CyclesPerByte, best.Cost.CyclesPerByteCI95, k, how, clock)
	}
	next := points[sorted[1]][k]
	// At how many points is best cheaper than every other series?
	wins, of := 0, 0
	var not []string
	for pk, p := range points[best.Series] {
		if p.Cost == nil {
			continue
		}
		beaten, compared := false, false
		for _, n := range costed {
			if n == best.Series {
				continue
			}
			if o := points[n][pk]; o != nil && o.Cost != nil {
				compared = true
				beaten = beaten || o.Cost.CyclesPerByte <= p.Cost.CyclesPerByte
			}
		}
		if !compared {
			continue
		}
		of++
		if beaten {
			not = append(not, pk.String())
		} else {
			wins++
		}
	}
	every := fmt.Sprintf("cheapest at %d of %d points", wins, of)
	if wins == of {
		every = fmt.Sprintf("cheapest at every point measured (%d)", of)
	} else {
		slices.Sort(not)
		every += " (not at " + strings.Join(not, ", ") + ")"
	}
	return fmt.Sprintf("%s is the cheapest per byte: %.1f ± %.1f gateway cycles per byte at %s against %.1f ± %.1f for %s (%.1f× less; %s%s), %s.",
		best.Series, best.Cost.CyclesPerByte, best.Cost.CyclesPerByteCI95, k, next.Cost.CyclesPerByte, next.Cost.CyclesPerByteCI95, next.Series,
		next.Cost.CyclesPerByte/max(best.Cost.CyclesPerByte, 1e-9), how, clock, every)
}
