package report

import (
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/results"
)

// TestPointRowModeSwitches checks that a hybrid tunnel's switches show in
// its point's notes, and that inline tunnels add none.
func TestPointRowModeSwitches(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := results.Point{Series: "hybrid", Tunnels: 1, FlowsPerTunnel: 1, Complete: true,
		Repetitions: []results.Repetition{{Index: 0, AggregateBps: 1e9, Tunnels: []results.TunnelCounters{{
			Device: "wg0",
			GW1Mode: &results.TunnelMode{Mode: "hybrid", Active: "hybrid", Changes: 1,
				Log: []results.ModeChange{{At: at, To: "hybrid", Cores: "1-3"}}},
			GW2Mode: &results.TunnelMode{Mode: "inline", Active: "inline"},
		}}}}}
	p.Resummarize()
	notes := strings.Join(pointRowOf(p).Notes, "\n")
	want := "rep 0, gw1 wg0: 1 mode switch, ended hybrid: 03:04:05.000 → hybrid (cores 1-3)"
	if !strings.Contains(notes, want) || strings.Contains(notes, "gw2") {
		t.Errorf("notes:\n%s\nwant %q and nothing of gw2's inline tunnel", notes, want)
	}
}
