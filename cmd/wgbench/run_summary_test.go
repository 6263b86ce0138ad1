package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
)

func TestPrintSummaryCost(t *testing.T) {
	clock := results.Clock{Hz: 2.1e9, Source: results.ClockNominal, From: "/proc/cpuinfo cpu MHz"}
	run := &results.Run{Clock: &clock, Testbed: results.TestbedInfo{Driver: "local", SharedCores: true}}
	for _, s := range []string{"wggo", "inline"} {
		for _, tn := range []int{1, 2} {
			p := results.Point{Series: s, Datapath: "wggo", Tunnels: tn, FlowsPerTunnel: 1}
			for i := range 2 {
				c := results.NewRepCost(results.ByThread, 3, []float64{0, 0, 0, 4, 0, 0}, 1e9, 1368, clock) // 8.4 cycles/B
				f := results.Finding{Host: "gw1", Kind: "cpu-bound", Cores: []int{0, 1}, Shared: true, Summary: "gw1: cpu-bound: busy"}
				p.Repetitions = append(p.Repetitions, results.Repetition{Index: i, AggregateBps: 1e9, Cost: &c, Findings: []results.Finding{f}})
			}
			p.Resummarize()
			run.Points = append(run.Points, p)
		}
	}
	var b bytes.Buffer
	printSummary(&b, run)
	out := b.String()
	for _, want := range []string{"cycles/B", "gw cores", "8.4", "1.33", "2.10 GHz nominal clock", "attributed by thread",
		"cpu-bound on gw1, cores 0,1, in 8/8 repetitions: wggo@1,2 inline@1,2"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "share these cores"); n != 1 {
		t.Errorf("shared-cores caveat said %d times, want once:\n%s", n, out)
	}
}
