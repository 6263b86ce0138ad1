package wgconf

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidateSet(t *testing.T) {
	k := newTestKeys(t)
	cfg := func(name, allowed string, tableOff bool) *Config {
		return &Config{Name: name, Interface: Interface{PrivateKey: k.priv, TableOff: tableOff},
			Peers: []Peer{{PublicKey: k.pub, AllowedIPs: []netip.Prefix{netip.MustParsePrefix(allowed)}}}}
	}
	tests := []struct {
		name string
		cfgs []*Config
		want string // "" means valid
	}{
		{"two tunnels", []*Config{cfg("wg0", "198.19.1.0/24", false), cfg("wg1", "198.19.2.0/24", false)}, ""},
		{"none", nil, "no WireGuard configs"},
		{"same name twice", []*Config{cfg("wg0", "198.19.1.0/24", false), cfg("wg0", "198.19.2.0/24", false)}, "two configs for device wg0"},
		{"default route", []*Config{cfg("wg0", "0.0.0.0/0", false)}, "config wg0: AllowedIPs 0.0.0.0/0 would route everything"},
		{"default route with Table = off", []*Config{cfg("wg0", "0.0.0.0/0", true)}, ""},
		{"invalid config", []*Config{{Name: "wg/0"}}, "interface name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSet(tt.cfgs)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("ValidateSet: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("ValidateSet: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
