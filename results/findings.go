package results

import (
	"fmt"
	"slices"
	"strings"
)

// FindingGroup gathers the findings of one kind about the same cores at
// one point of one series, over its repetitions and gateways: the unit a
// person reads ("black hole on core 3 of gw2 in 4/5 repetitions").
type FindingGroup struct {
	Series         string   `json:"series"`
	Tunnels        int      `json:"tunnels"`
	FlowsPerTunnel int      `json:"flows_per_tunnel"`
	Kind           string   `json:"kind"`
	Cores          []int    `json:"cores"`
	Hosts          []string `json:"hosts"`
	// Repetitions is how many repetitions had the finding, of Of.
	Repetitions int `json:"repetitions"`
	Of          int `json:"of"`
	// Example is the summary of the last such finding.
	Example string `json:"example"`
}

// Line renders g in one line.
func (g FindingGroup) Line() string {
	cores := make([]string, len(g.Cores))
	for i, c := range g.Cores {
		cores[i] = fmt.Sprint(c)
	}
	noun := "core"
	if len(cores) > 1 {
		noun = "cores"
	}
	return fmt.Sprintf("[%s tunnels=%d flows/tunnel=%d] %s on %s, %s %s, in %d/%d repetitions — %s",
		g.Series, g.Tunnels, g.FlowsPerTunnel, g.Kind, strings.Join(g.Hosts, "+"), noun, strings.Join(cores, ","), g.Repetitions, g.Of, g.Example)
}

// GroupFindings gathers a run's findings by series, point, kind and cores,
// in the order of the points.
func GroupFindings(run *Run) []FindingGroup {
	var out []FindingGroup
	for _, p := range run.Points {
		index := map[string]int{}
		seen := map[string]map[int]bool{} // group → repetitions counted
		for _, rp := range p.Repetitions {
			for _, f := range rp.Findings {
				cores := f.Cores
				if len(cores) == 0 {
					cores = []int{f.Core}
				}
				key := fmt.Sprint(f.Kind, cores)
				i, ok := index[key]
				if !ok {
					i = len(out)
					index[key] = i
					seen[key] = map[int]bool{}
					out = append(out, FindingGroup{Series: p.Series, Tunnels: p.Tunnels, FlowsPerTunnel: p.FlowsPerTunnel,
						Kind: f.Kind, Cores: slices.Clone(cores), Of: len(p.Repetitions)})
				}
				g := &out[i]
				if !slices.Contains(g.Hosts, f.Host) {
					g.Hosts = append(g.Hosts, f.Host)
					slices.Sort(g.Hosts)
				}
				if !seen[key][rp.Index] {
					seen[key][rp.Index] = true
					g.Repetitions++
				}
				g.Example = f.Summary
			}
		}
	}
	return out
}

// FindingRow is one finding kind on the same gateways and cores, gathered
// over every point and repetition it held for: a row of a compact findings
// table.
type FindingRow struct {
	Kind  string   `json:"kind"`
	Hosts []string `json:"hosts"`
	Cores []int    `json:"cores"`
	// Points lists the points it held for, by series ("wggo@1,2,4": the
	// tunnel counts; "×f" marks flows per tunnel above one).
	Points []string `json:"points"`
	// Repetitions is how many repetitions had it, of Of (the repetitions
	// of those points).
	Repetitions int `json:"repetitions"`
	Of          int `json:"of"`
	// Shared is true when the cores are shared with other testbed hosts.
	Shared bool `json:"shared,omitempty"`
	// Evidence is the last such finding's summary without the gateway,
	// the kind and the shared-cores caveat (said once elsewhere).
	Evidence string `json:"evidence"`
}

// SummarizeFindings gathers a run's findings by kind, gateways and cores
// over all points: the most frequent first.
func SummarizeFindings(run *Run) []FindingRow {
	type acc struct {
		row    FindingRow
		series []string
		labels map[string][]string
	}
	var order []*acc
	byKey := map[string]*acc{}
	for _, g := range GroupFindings(run) {
		key := fmt.Sprint(g.Kind, g.Hosts, g.Cores)
		a := byKey[key]
		if a == nil {
			a = &acc{row: FindingRow{Kind: g.Kind, Hosts: g.Hosts, Cores: g.Cores}, labels: map[string][]string{}}
			byKey[key] = a
			order = append(order, a)
		}
		if _, ok := a.labels[g.Series]; !ok {
			a.series = append(a.series, g.Series)
		}
		label := fmt.Sprint(g.Tunnels)
		if g.FlowsPerTunnel > 1 {
			label += fmt.Sprintf("×%d", g.FlowsPerTunnel)
		}
		a.labels[g.Series] = append(a.labels[g.Series], label)
		a.row.Repetitions += g.Repetitions
		a.row.Of += g.Of
		a.row.Evidence = Evidence(g.Example)
	}
	shared := sharedKinds(run)
	out := make([]FindingRow, 0, len(order))
	for _, a := range order {
		for _, s := range a.series {
			a.row.Points = append(a.row.Points, s+"@"+strings.Join(a.labels[s], ","))
		}
		a.row.Shared = shared[a.row.Kind]
		out = append(out, a.row)
	}
	slices.SortStableFunc(out, func(x, y FindingRow) int { return y.Repetitions - x.Repetitions })
	return out
}

// sharedKinds reports, per finding kind, whether any such finding was on
// shared cores.
func sharedKinds(run *Run) map[string]bool {
	out := map[string]bool{}
	for _, p := range run.Points {
		for _, rp := range p.Repetitions {
			for _, f := range rp.Findings {
				out[f.Kind] = out[f.Kind] || f.Shared
			}
		}
	}
	return out
}

// sharedClause starts the caveat the detector appends on shared cores.
const sharedClause = "; cores shared by all hosts"

// Evidence shortens a finding's summary for a table cell: without its
// "<gateway>: <kind>: " prefix and the shared-cores caveat.
func Evidence(summary string) string {
	if i := strings.Index(summary, sharedClause); i >= 0 {
		summary = summary[:i]
	}
	for range 2 {
		if head, rest, ok := strings.Cut(summary, ": "); ok && !strings.ContainsAny(head, " ,") {
			summary = rest
		}
	}
	return summary
}
