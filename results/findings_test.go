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

func TestSummarizeFindings(t *testing.T) {
	cpuBound := func(host string) Finding {
		return Finding{Host: host, Kind: "cpu-bound", Cores: []int{0, 1}, Shared: true,
			Summary: host + ": cpu-bound: cores 0,1 busy ≥90%, mean busy 100%; cores shared by all hosts of the local testbed: figures are machine-wide"}
	}
	hot := Finding{Host: "gw2", Kind: "black-hole", Core: 1, Summary: "gw2: black-hole: core 1 busy 99%"}
	rep := func(i int, fs ...Finding) Repetition { return Repetition{Index: i, Findings: fs} }
	run := &Run{Points: []Point{
		{Series: "wggo", Tunnels: 1, FlowsPerTunnel: 1, Repetitions: []Repetition{rep(0, cpuBound("gw1"), cpuBound("gw2")), rep(1, cpuBound("gw1"), cpuBound("gw2"))}},
		{Series: "wggo", Tunnels: 2, FlowsPerTunnel: 1, Repetitions: []Repetition{rep(0, cpuBound("gw1"), cpuBound("gw2")), rep(1)}},
		{Series: "inline", Tunnels: 4, FlowsPerTunnel: 2, Repetitions: []Repetition{rep(0, cpuBound("gw1"), cpuBound("gw2"), hot), rep(1, cpuBound("gw2"))}},
	}}
	got := SummarizeFindings(run)
	want := []FindingRow{
		{Kind: "cpu-bound", Hosts: []string{"gw1", "gw2"}, Cores: []int{0, 1}, Points: []string{"wggo@1,2", "inline@4×2"},
			Repetitions: 5, Of: 6, Shared: true, Evidence: "cores 0,1 busy ≥90%, mean busy 100%"},
		{Kind: "black-hole", Hosts: []string{"gw2"}, Cores: []int{1}, Points: []string{"inline@4×2"},
			Repetitions: 1, Of: 2, Evidence: "core 1 busy 99%"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SummarizeFindings (-want +got):\n%s", diff)
	}
}
