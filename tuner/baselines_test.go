package tuner

import (
	"strings"
	"testing"

	"github.com/wgbench/wgbench/scenarios"
)

// TestBaselinesGetNoAdvice: a run whose tunnels do not scale triggers the
// inline advice on a WireGuard series, and none on the same points of an
// OpenVPN or IPsec series; a mixed run advises on the WireGuard series
// only and leaves the caller's run whole.
func TestBaselinesGetNoAdvice(t *testing.T) {
	wggo := scenarios.Series{Name: "wggo", Datapath: scenarios.WireGuardGo}
	ovpn := scenarios.Series{Name: "openvpn", Datapath: scenarios.OpenVPN}
	esp := scenarios.Series{Name: "ipsec", Datapath: scenarios.IPsec}
	mentions := func(sugg []Suggestion, what string) bool {
		for _, s := range sugg {
			if strings.Contains(s.Fact+" "+s.Advice, what) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name   string
		series []scenarios.Series
		want   []string // series the advice names
		never  []string
	}{
		{"wireguard alone", []scenarios.Series{wggo}, []string{"on wggo"}, nil},
		{"openvpn alone", []scenarios.Series{ovpn}, nil, []string{"openvpn"}},
		{"ipsec alone", []scenarios.Series{esp}, nil, []string{"ipsec"}},
		{"mixed", []scenarios.Series{wggo, ovpn, esp}, []string{"on wggo"}, []string{"openvpn", "ipsec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := runOf(tt.series)
			for _, s := range tt.series {
				run.Points = append(run.Points, pt(s.Name, s.Datapath, 1, 5), pt(s.Name, s.Datapath, 16, 6))
			}
			points := len(run.Points)
			sugg := Suggest(Hosts{}, run)
			for _, w := range tt.want {
				if !mentions(sugg, w) {
					t.Errorf("no advice names %q; got %d suggestions", w, len(sugg))
				}
			}
			for _, n := range tt.never {
				if mentions(sugg, n) {
					t.Errorf("advice names the baseline %q", n)
				}
			}
			if len(run.Points) != points || len(run.Series) != len(tt.series) {
				t.Errorf("Suggest changed the caller's run: %d points, %d series", len(run.Points), len(run.Series))
			}
		})
	}
}
