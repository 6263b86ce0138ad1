package runner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/scenarios"
)

func TestParseLinks(t *testing.T) {
	addrs := `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: lan    inet 198.18.0.1/24 scope global lan\       valid_lft forever preferred_lft forever
3: wan    inet 198.18.255.1/24 scope global wan\       valid_lft forever preferred_lft forever
4: mgmt    inet 198.18.254.38/30 brd 198.18.254.39 scope global mgmt\       valid_lft forever preferred_lft forever
5: wgab-0    inet 198.18.1.1/32 scope global wgab-0\       valid_lft forever preferred_lft forever
`
	links := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: lan@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \    link/ether f6:87:f6:42:51:8c brd ff:ff:ff:ff:ff:ff link-netns x
3: wan@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc noqueue state UP mode DEFAULT group default \    link/ether f6:87:f6:42:51:8d brd ff:ff:ff:ff:ff:ff link-netns y
4: mgmt@if33: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \    link/ether ce:e7:7b:4e:4e:9e brd ff:ff:ff:ff:ff:ff link-netnsid 1
5: wgab-0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc fq_codel state UNKNOWN mode DEFAULT group default qlen 500\    link/none
`
	want := map[string]int{"lan": 1500, "wan": 9000} // not lo, mgmt or the tunnel
	if diff := cmp.Diff(want, parseLinks(addrs, links)); diff != "" {
		t.Errorf("parseLinks (-want +got):\n%s", diff)
	}
	if got := tunnelMTU(scenarios.Point{MTU: 1500}); got != 1420 {
		t.Errorf("tunnelMTU(1500) = %d, want 1420", got)
	}
	if got := tunnelMTU(scenarios.Point{}); got != 0 {
		t.Errorf("tunnelMTU without a sweep = %d, want 0 (the datapath's default)", got)
	}
}

func TestCarrier(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"2: wan: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 8920 qdisc fq_codel state UP mode DEFAULT", true},
		{"2: wan: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 8920 qdisc fq_codel state DOWN mode DEFAULT", false},
		{"2: wan: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT", true}, // down on purpose
		{"5: lan@if4: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1280 qdisc noqueue state UP", true},
		{"", true},
	}
	for _, tt := range tests {
		if got := carrier(tt.line); got != tt.want {
			t.Errorf("carrier(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
