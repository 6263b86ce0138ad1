package main

import (
	"strings"
	"testing"
)

func TestGroupTuneLines(t *testing.T) {
	in := strings.Join([]string{
		"Info:    gw1,gw2: no tunnel devices up",
		"Info:    gw1,gw2: short of CPU in series plain at 1 tunnel × 1 flow (100 % busy, 0 % idle): more cores",
		"Info:    gw1,gw2: short of CPU in series plain at 2 tunnels × 1 flow (97 % busy, 3 % idle): more cores",
		"Info:    gw1,gw2: short of CPU in series wggo at 4 tunnels × 2 flows (99 % busy, 1 % idle): more cores",
		"Info:    gw2: short of CPU in series wggo at 4 tunnels × 2 flows (99 % busy, 1 % idle): more cores",
		"Warning: gw2: black hole in series wggo at 1 tunnel × 1 flow >>> threaded NAPI",
		"         apply:    echo 1 > /sys/class/net/wg0/threaded",
		"Warning: gw2: black hole in series wggo at 2 tunnels × 1 flow >>> threaded NAPI",
		"         apply:    echo 1 > /sys/class/net/wg0/threaded",
		"OK       host: one NUMA node",
		"",
	}, "\n")
	want := strings.Join([]string{
		"Info:    gw1,gw2: no tunnel devices up",
		"Info:    gw1,gw2: short of CPU at 3 points (plain@1,2 wggo@4×2) (97–100 % busy, 0–3 % idle): more cores",
		"Info:    gw2: short of CPU in series wggo at 4 tunnels × 2 flows (99 % busy, 1 % idle): more cores",
		"Warning: gw2: black hole in series wggo at 1 tunnel × 1 flow >>> threaded NAPI",
		"         apply:    echo 1 > /sys/class/net/wg0/threaded",
		"Warning: gw2: black hole in series wggo at 2 tunnels × 1 flow >>> threaded NAPI",
		"         apply:    echo 1 > /sys/class/net/wg0/threaded",
		"OK       host: one NUMA node",
		"",
	}, "\n")
	if got := string(groupTuneLines([]byte(in))); got != want {
		t.Errorf("grouped:\n%s\nwant:\n%s", got, want)
	}
}
