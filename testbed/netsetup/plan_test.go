package netsetup

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/testbed"
)

func TestPlanFor(t *testing.T) {
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		cfg  Config
		want Plan
	}{
		{Config{Role: testbed.Source, Tunnels: 2, FlowsPerTunnel: 1, LAN: "eth1"}, Plan{
			Role: testbed.Source, Ports: []Port{LAN},
			Addrs:  []Addr{{LAN, p("198.18.0.2/24")}, {LAN, p("198.18.1.1/32")}, {LAN, p("198.18.2.1/32")}},
			Routes: []Route{{p("198.19.0.0/16"), a("198.18.0.1")}},
		}},
		{Config{Role: testbed.GW1, Tunnels: 32, FlowsPerTunnel: 1, LAN: "eth1", WAN: "eth2"}, Plan{
			Role: testbed.GW1, Ports: []Port{LAN, WAN},
			Addrs:      []Addr{{LAN, p("198.18.0.1/24")}, {WAN, p("198.18.255.1/24")}},
			Routes:     []Route{{p("198.18.0.0/16"), a("198.18.0.2")}},
			Forwarding: true,
		}},
		{Config{Role: testbed.GW2, Tunnels: 1, FlowsPerTunnel: 1, LAN: "eth1", WAN: "eth2"}, Plan{
			Role: testbed.GW2, Ports: []Port{WAN, LAN},
			Addrs:      []Addr{{WAN, p("198.18.255.2/24")}, {LAN, p("198.19.0.1/24")}},
			Routes:     []Route{{p("198.19.0.0/16"), a("198.19.0.2")}},
			Forwarding: true,
		}},
		{Config{Role: testbed.Drain, Tunnels: 1, FlowsPerTunnel: 2, LAN: "eth1"}, Plan{
			Role: testbed.Drain, Ports: []Port{LAN},
			Addrs:  []Addr{{LAN, p("198.19.0.2/24")}, {LAN, p("198.19.1.1/32")}, {LAN, p("198.19.1.2/32")}},
			Routes: []Route{{p("198.18.0.0/16"), a("198.19.0.1")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Role, func(t *testing.T) {
			got, err := PlanFor(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no role", Config{Tunnels: 1, FlowsPerTunnel: 1, LAN: "a"}, "no role given"},
		{"bad role", Config{Role: "gw3", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a"}, `"gw3" is not a role`},
		{"gateway without wan", Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a"}, "gw1 needs its WAN interface"},
		{"source with wan", Config{Role: "source", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a", WAN: "b"}, "source has no WAN"},
		{"no lan", Config{Role: "drain", Tunnels: 1, FlowsPerTunnel: 1}, "no LAN interface"},
		{"same interface", Config{Role: "gw2", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a", WAN: "a"}, "same interface"},
		{"too many tunnels", Config{Role: "gw2", Tunnels: 251, FlowsPerTunnel: 1, LAN: "a", WAN: "b"}, "251 tunnels"},
		{"bad mtu", Config{Role: "drain", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a", MTU: 100}, "MTU 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in, want, kind string
	}{
		{"enp65s0f0np0", "enp65s0f0np0", "name"},
		{"1C:34:DA:5A:1B:20", "1c:34:da:5a:1b:20", "mac"},
		{"1c-34-da-5a-1b-20", "1c:34:da:5a:1b:20", "mac"},
		{"10.10.1.2", "10.10.1.2", "ip"},
		{"averyveryverylongname", "", "error"},
		{"fe80::1", "", "error"},
		{"eth0/1", "", "error"},
		{"", "", "error"},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.in)
		kind := "error"
		switch {
		case err != nil:
		case s.MAC != nil:
			kind = "mac"
		case s.IP.IsValid():
			kind = "ip"
		default:
			kind = "name"
		}
		if kind != tt.kind || (err == nil && s.String() != tt.want) {
			t.Errorf("ParseSpec(%q) = %v (%s), %v; want %s %q", tt.in, s, kind, err, tt.kind, tt.want)
		}
	}
}
