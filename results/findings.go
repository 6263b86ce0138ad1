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
