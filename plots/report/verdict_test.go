package report

import (
	"os"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// costedRun is a shared-core run of wggo and inline at 1, 2 and 4 tunnels,
// three repetitions each, inline faster and cheaper, with cpu-bound
// findings on both gateways everywhere.
func costedRun() *results.Run {
	clock := results.Clock{Hz: 2e9, Source: results.ClockNominal}
	r := &results.Run{Status: results.StatusComplete, Clock: &clock, Testbed: results.TestbedInfo{Driver: "local", SharedCores: true},
		Scenario: scenarios.Scenario{Name: "multi-tunnel"}}
	gbps := map[string][]float64{"wggo": {0.70, 0.72, 0.74}, "inline": {1.80, 1.85, 1.90}}
	secs := map[string]float64{"wggo": 10, "inline": 4} // datapath CPU seconds per 1e9 bytes
	for _, s := range []scenarios.Series{{Name: "plain", Datapath: scenarios.Plain}, {Name: "wggo", Datapath: scenarios.WireGuardGo}, {Name: "inline", Datapath: scenarios.Inline}} {
		r.Scenario.Series = append(r.Scenario.Series, s)
		r.Series = append(r.Series, results.SeriesStatus{Name: s.Name, Datapath: s.Datapath})
		for _, t := range []int{1, 2, 4} {
			p := results.Point{Series: s.Name, Datapath: s.Datapath, Tunnels: t, FlowsPerTunnel: 1, Complete: true}
			for i := range 3 {
				g := 5.0 // plain: no tunnel, fastest of all, left out of the verdict
				if v, ok := gbps[s.Name]; ok {
					g = v[i]
				}
				sec := secs[s.Name] * (1 + 0.02*float64(i))
				if s.Name == "wggo" && t == 1 {
					sec = 3 // wggo is cheaper at one tunnel
				}
				c := results.NewRepCost(results.ByThread, 3, []float64{0, 0, 0, sec, 0, 0}, 1e9, 1368, clock)
				fs := []results.Finding{
					{Host: "gw1", Kind: "cpu-bound", Cores: []int{0, 1}, Shared: true, Summary: "gw1: cpu-bound: cores 0,1 busy 100%; cores shared by all hosts of the local testbed: figures are machine-wide"},
					{Host: "gw2", Kind: "cpu-bound", Cores: []int{0, 1}, Shared: true, Summary: "gw2: cpu-bound: cores 0,1 busy 100%; cores shared by all hosts of the local testbed: figures are machine-wide"},
				}
				p.Repetitions = append(p.Repetitions, results.Repetition{Index: i, AggregateBps: g * 1e9, Cost: &c, Findings: fs})
			}
			p.Resummarize()
			r.Points = append(r.Points, p)
		}
	}
	return r
}

func TestVerdict(t *testing.T) {
	v := Verdict(costedRun(), "1. [warning] gw1: the cores are shared >>> run on separate machines")
	if len(v) != 4 {
		t.Fatalf("verdict has %d sentences, want 4:\n%s", len(v), strings.Join(v, "\n"))
	}
	for i, want := range [][]string{
		{"At 4 tunnels, inline is the fastest: 1.85 ± 0.12 Gbit/s", "+1.13 Gbit/s, 2.6× over wggo (0.72 ± 0.05", "Welch 95 % CI of the difference ±", "beyond the repetitions' spread"},
		{"inline is the cheapest per byte: 8.2 ± 0.4 gateway cycles per byte at 4 tunnels against 20.4 ± 1.0 for wggo", "by thread, 2.00 GHz nominal clock", "cheapest at 2 of 3 points (not at 1 tunnel)"},
		{"cpu-bound on gw1 and gw2 (cores 0,1) in 27 of 27 repetitions, on cores every testbed host shares"},
		{"Top suggestion: [warning] gw1: the cores are shared"},
	} {
		for _, w := range want {
			if !strings.Contains(v[i], w) {
				t.Errorf("sentence %d %q\nlacks %q", i+1, v[i], w)
			}
		}
	}
	if strings.Contains(strings.Join(v, " "), "plain") {
		t.Errorf("the verdict compares with plain (no tunnel): %q", v)
	}
}

// TestVerdictOneRepetition: with one repetition per point there is no CI
// and the verdict says so, rather than "no clear winner".
func TestVerdictOneRepetition(t *testing.T) {
	r := costedRun()
	for i := range r.Points {
		r.Points[i].Repetitions = r.Points[i].Repetitions[:1]
		r.Points[i].Resummarize()
	}
	v := Verdict(r, "")
	if len(v) == 0 || !strings.Contains(v[0], "unknown (fewer than two repetitions), so no verdict: run with repetitions ≥ 2 to tell") ||
		strings.Contains(v[0], "no clear winner") {
		t.Errorf("verdict with one repetition per point: %q", v)
	}
}

func TestReportOpensWithVerdict(t *testing.T) {
	dir := t.TempDir()
	run := costedRun()
	path, err := Write(dir, run, nil, Extra{Suggestions: []string{"1. [warning] gw1: first", "2. [info] gw2: second"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	v, f := strings.Index(page, `id="verdict"`), strings.Index(page, `id="findings"`)
	if v < 0 || f < 0 || v > f || v > strings.Index(page, "<nav>") {
		t.Errorf("verdict at %d, findings at %d: the page must open with the verdict", v, f)
	}
	if strings.Contains(page, "<li>1. ") || strings.Contains(page, "<li>2. ") {
		t.Error("suggestions keep their own numbers inside a numbered list (1. 1.)")
	}
	if n := strings.Count(page, "share one machine"); n != 1 {
		t.Errorf("the shared-cores caveat is said %d times, want once", n)
	}
	if strings.Contains(page, "local testbed: figures are machine-wide") {
		t.Error("findings repeat the shared-cores caveat")
	}
	// One grouped row for 54 cpu-bound findings of 9 points.
	if n := strings.Count(page, "<td><b>cpu-bound</b></td>"); n != 1 {
		t.Errorf("%d cpu-bound rows, want one grouped row", n)
	}
	for _, want := range []string{"plain@1,2,4; wggo@1,2,4; inline@1,2,4", "<td>gw1, gw2</td><td>0,1</td>", "27 / 27", "8.2 ± 0.4", "nominal clock, 2.00 GHz"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
