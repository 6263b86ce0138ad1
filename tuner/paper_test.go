package tuner

import (
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results/paper"
)

// The rules' paper numbers come from results/paper: every claim and value
// they name exists, and they render as the paper states them.
func TestPaperNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		eff  Effect
		says []string
		gain float64
	}{
		{"multi-tunnel", multiTunnelEffect(), []string{"up to 4 tunnels", "~13 Gbit/s plateau", "over 5 Gbit/s for one tunnel"}, 1.6},
		{"threaded-napi", threadedEffect(), []string{"near 13 Gbit/s beyond 4 tunnels", "Inline's over 90 Gbit/s is 2×"}, 0},
		{"numa-local", numaEffect(), []string{"+31 % on one tunnel", "+45 % with", "up to ~20 tunnels"}, 0.31},
		{"inline", inlineEffect(), []string{"over 90 Gbit/s at 32 tunnels", "2× the best of vanilla", "~65 Gbit/s"}, 1},
		{"vanilla-threaded", vanillaThreadedEffect(), []string{"up to about 12 tunnels"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.says {
				if !strings.Contains(tc.eff.Text, s) {
					t.Errorf("effect %q does not say %q", tc.eff.Text, s)
				}
			}
			if tc.eff.Gain != tc.gain {
				t.Errorf("gain %g, want %g", tc.eff.Gain, tc.gain)
			}
		})
	}
	if got := inlineTunnels(); got != 12 {
		t.Errorf("inline pays off from %d tunnels, want 12", got)
	}
	if got := claimPct("overlap-rx-tun"); got != "+14 %" {
		t.Errorf("overlap gain %q, want +14 %%", got)
	}
	if got := gbit(paper.Value{Gbps: 7, Bound: paper.Min}); got != "over 7 Gbit/s" {
		t.Errorf("bound = %q", got)
	}
}
