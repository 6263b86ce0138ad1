package paper

import (
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// TestOSMCompare: a vpn-compare run finds the OSM paper, sets each
// WireGuard series at one tunnel against OpenVPN, and says the latency
// claim cannot be tested.
func TestOSMCompare(t *testing.T) {
	for _, name := range []string{"vpn-compare", "cloudlab-vpn-compare"} {
		d, err := For(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d.Paper, "OSM") || !strings.Contains(d.Setup, "VMs") || !strings.Contains(d.Setup, "one tunnel") {
			t.Errorf("%s: paper %q, setup %q; want OSM, set up with VMs and one tunnel", name, d.Paper, d.Setup)
		}
	}
	d, _ := OSM()
	run := &results.Run{Scenario: scenarios.Scenario{Name: "vpn-compare"}}
	for _, s := range []string{"wggo", "inline", "openvpn", "ipsec"} {
		run.Series = append(run.Series, results.SeriesStatus{Name: s})
	}
	run.Points = []results.Point{point("wggo", 1, 0.5), point("inline", 1, 1.5), point("openvpn", 1, 0.1), point("openvpn", 2, 0.2), point("ipsec", 1, 1)}
	c, err := Compare(d, run)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, cr := range c.Claims {
		if cr.Claim.ID != "osm-throughput" || cr.RunSeries[1] != "openvpn" || cr.Claim.Ratio != 5.3 {
			t.Errorf("unexpected claim row %+v", cr)
		}
		got[cr.RunSeries[0]] = cr.Measured
	}
	if len(got) != 2 || got["wggo"] < 4.99 || got["wggo"] > 5.01 || got["inline"] < 14.99 || got["inline"] > 15.01 {
		t.Errorf("WireGuard/OpenVPN ratios %v, want wggo 5 and inline 15", got)
	}
	if len(c.Missing) != 1 || !strings.Contains(c.Missing[0], "latency") {
		t.Errorf("missing %q, want the latency claim", c.Missing)
	}
	if _, err := For("single-tunnel"); err != nil {
		t.Errorf("For(single-tunnel): %v; want HPSR 2025", err)
	}
	if _, err := For("nope"); err == nil || !strings.Contains(err.Error(), "vpn-compare") {
		t.Errorf("For(nope) = %v; want the scenarios of both papers", err)
	}
}
