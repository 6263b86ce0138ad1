package scenarios

import (
	"strings"
	"testing"
)

// TestTestbedWAN: testbed.wan names two ports for the local driver, from
// the file or from --set.
func TestTestbedWAN(t *testing.T) {
	const series = "series:\n  - datapath: wggo\n"
	for _, tc := range []struct {
		name string
		yaml string
		sets []string
		want string // error text; "" for none
	}{
		{name: "in the file", yaml: "name: t\ntestbed:\n  wan: {gw1: enp1s0f0, gw2: enp1s0f1}\n" + series},
		{name: "by --set", yaml: "name: t\n" + series, sets: []string{"testbed.wan.gw1=eth1", "testbed.wan.gw2=eth2"}},
		{name: "one port", yaml: "name: t\n" + series, sets: []string{"testbed.wan.gw1=eth1"}, want: "testbed.wan: give both gw1 and gw2"},
		{name: "same port", yaml: "name: t\ntestbed:\n  wan: {gw1: eth1, gw2: eth1}\n" + series, want: "eth1 is gw1's port too"},
		{name: "ssh driver", yaml: "name: t\ntestbed:\n  driver: ssh\n  inventory: h.yaml\n  wan: {gw1: a, gw2: b}\n" + series, want: "only the local driver takes WAN ports"},
		{name: "not a name", yaml: "name: t\ntestbed:\n  wan: {gw1: a/b, gw2: b}\n" + series, want: `"a/b" is not an interface name`},
		{name: "unknown key", yaml: "name: t\ntestbed:\n  wan: {gw3: a}\n" + series, want: "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tc.yaml), tc.sets)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Parse = %v, want an error with %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Testbed.WAN.GW1 == "" || s.Testbed.WAN.GW2 == "" {
				t.Fatalf("WAN = %+v, want both ports", s.Testbed.WAN)
			}
			// The ports survive the scenario's own YAML (run folders keep it).
			y, err := s.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(y), "gw1: "+s.Testbed.WAN.GW1) {
				t.Errorf("YAML() lost the ports:\n%s", y)
			}
		})
	}
}
