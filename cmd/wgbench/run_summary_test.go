package main

import (
	"bytes"
	"slices"
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

// TestPrintSummarySizes: a packet-size or MTU sweep shows which point a
// row is (size, MTU) and, for sizes, the packet rate and loss.
func TestPrintSummarySizes(t *testing.T) {
	run := &results.Run{}
	for _, size := range []int{64, 1420} {
		p := results.Point{Series: "inline", Datapath: "inline", Tunnels: 1, FlowsPerTunnel: 1, PacketSize: size, MTU: 1500}
		p.Repetitions = append(p.Repetitions, results.Repetition{AggregateBps: float64(size-28) * 8 * 1e6, LossPct: 0.05})
		p.Resummarize()
		run.Points = append(run.Points, p)
	}
	var b bytes.Buffer
	printSummary(&b, run)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("summary:\n%s", b.String())
	}
	head := strings.Fields(lines[0])
	for _, want := range []string{"MTU", "size", "Mpps", "loss"} {
		if !slices.Contains(head, want) {
			t.Errorf("header lacks %q: %q", want, lines[0])
		}
	}
	// 1 Mpps of either size (goodput = (size - 28 B of IP and UDP headers)
	// × 8 × 1e6 bit/s), 0.05 % loss.
	for i, size := range []string{"64", "1420"} {
		f := strings.Fields(lines[1+i])
		if !slices.Contains(f, size) || !slices.Contains(f, "1.0000") || !slices.Contains(f, "0.05") || !slices.Contains(f, "1500") {
			t.Errorf("row %d %q: want size %s, MTU 1500, 1.0000 Mpps, 0.05 %% loss", i, lines[1+i], size)
		}
	}
	var plain bytes.Buffer
	printSummary(&plain, &results.Run{Points: []results.Point{{Series: "a", Datapath: "wggo", Tunnels: 1, FlowsPerTunnel: 1}}})
	if strings.Contains(plain.String(), "Mpps") || strings.Contains(plain.String(), "MTU") {
		t.Errorf("a plain run shows size columns:\n%s", plain.String())
	}
}
