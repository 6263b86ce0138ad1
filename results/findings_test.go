package results

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupFindings(t *testing.T) {
	bh := func(host string, core int) Finding {
		return Finding{Host: host, Kind: "black-hole", Core: core, Summary: host + " core busy"}
	}
	run := &Run{Points: []Point{
		{Series: "kernel", Tunnels: 8, FlowsPerTunnel: 1, Repetitions: []Repetition{
			{Index: 0, Findings: []Finding{bh("gw2", 3), bh("gw1", 3)}},
			{Index: 1, Findings: []Finding{bh("gw2", 3)}},
			{Index: 2},
		}},
		{Series: "kernel-threaded", Tunnels: 8, FlowsPerTunnel: 1, Repetitions: []Repetition{
			{Index: 0, Findings: []Finding{{Host: "gw2", Kind: "cpu-bound", Cores: []int{0, 1}, Summary: "all busy"}}},
		}},
	}}
	got := GroupFindings(run)
	want := []FindingGroup{
		{Series: "kernel", Tunnels: 8, FlowsPerTunnel: 1, Kind: "black-hole", Cores: []int{3}, Hosts: []string{"gw1", "gw2"}, Repetitions: 2, Of: 3, Example: "gw2 core busy"},
		{Series: "kernel-threaded", Tunnels: 8, FlowsPerTunnel: 1, Kind: "cpu-bound", Cores: []int{0, 1}, Hosts: []string{"gw2"}, Repetitions: 1, Of: 1, Example: "all busy"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("GroupFindings (-want +got):\n%s", d)
	}
	if l := got[0].Line(); !strings.Contains(l, "black-hole on gw1+gw2, core 3, in 2/3 repetitions") {
		t.Errorf("Line() = %q", l)
	}
}
