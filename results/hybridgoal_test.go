package results

import (
	"testing"

	"github.com/wgbench/wgbench/scenarios"
)

// goalPoint is a point of series at tunnels with one repetition per value of
// gbps.
func goalPoint(series string, tunnels int, gbps ...float64) Point {
	p := Point{Series: series, Tunnels: tunnels, FlowsPerTunnel: 1}
	for i, g := range gbps {
		p.Repetitions = append(p.Repetitions, Repetition{Index: i, AggregateBps: g * 1e9})
	}
	p.Resummarize()
	return p
}

// TestHybridGoals checks the goals at 1 tunnel (against the faster of
// inline and wireguard-go) and at more (within 5 % of inline), their
// noise flag, and that a run without a hybrid and an inline series has
// none.
func TestHybridGoals(t *testing.T) {
	series := []scenarios.Series{
		{Name: "wggo", Datapath: scenarios.WireGuardGo},
		{Name: "inline", Datapath: scenarios.Inline},
		{Name: "hybrid", Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Mode: "hybrid"}},
	}
	run := &Run{Scenario: scenarios.Scenario{Series: series}, Points: []Point{
		goalPoint("wggo", 1, 2.9, 3.0, 3.1),
		goalPoint("inline", 1, 2.4, 2.5, 2.6),
		goalPoint("hybrid", 1, 3.2, 3.3, 3.4),
		goalPoint("wggo", 4, 1.7, 1.8),
		goalPoint("inline", 4, 3.5, 3.6, 3.7),
		goalPoint("hybrid", 4, 3.3, 3.35, 3.4),
		goalPoint("hybrid", 8, 5),
		goalPoint("inline", 8, 5.1),
	}}
	goals := HybridGoals(run)
	want := []struct {
		tunnels     int
		against     string
		base, ratio float64
		met, noise  bool
		line        string
	}{
		{1, "max(inline, wggo)", 3.0, 1.1, true, false, "1 tunnel: hybrid 3.300 / max(inline, wggo) 3.000 Gbit/s = 1.10x ≥ 1.00x met"},
		{4, "inline", 3.6, 3.35 / 3.6, false, false, "4 tunnels: hybrid 3.350 / inline 3.600 Gbit/s = 0.93x ≥ 0.95x missed"},
		{8, "inline", 5.1, 5 / 5.1, true, true, "8 tunnels: hybrid 5.000 / inline 5.100 Gbit/s = 0.98x ≥ 0.95x met (within the repetitions' noise)"},
	}
	if len(goals) != len(want) {
		t.Fatalf("%d goals %v, want %d", len(goals), goals, len(want))
	}
	for i, w := range want {
		g := goals[i]
		if g.Tunnels != w.tunnels || g.Against != w.against || abs(g.Base-w.base) > 1e-9 || abs(g.Ratio-w.ratio) > 1e-9 ||
			g.Met != w.met || g.Noise != w.noise || g.String() != w.line {
			t.Errorf("goal %d: %+v %q, want %+v", i, g, g.String(), w)
		}
	}
	run.Scenario.Series = series[:1]
	if g := HybridGoals(run); g != nil {
		t.Errorf("without a hybrid series: %v", g)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
