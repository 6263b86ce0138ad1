package kernel

import (
	"strings"
	"testing"
)

func TestDoctorKernelFacts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []Fact // the first facts: module, threaded NAPI, NUMA
	}{
		{
			name: "module loaded, two nodes",
			files: map[string]string{
				"/sys/module/wireguard/version":          "1.0.0",
				"/sys/class/net/lo/threaded":             "0",
				"/sys/devices/system/node/node0/cpulist": "0-15",
				"/sys/devices/system/node/node1/cpulist": "16-31",
				"/sys/devices/system/node/possible":      "0-1",
			},
			want: []Fact{
				{OK: true, Fact: "WireGuard module loaded (version 1.0.0)"},
				{OK: true, Fact: "threaded NAPI supported (/sys/class/net/lo/threaded exists)"},
				{OK: true, Fact: "2 NUMA nodes: node0 CPUs 0-15; node1 CPUs 16-31"},
			},
		},
		{
			name:  "old kernel",
			files: map[string]string{"/sys/class/net/lo/mtu": "65536"},
			want: []Fact{
				{Fact: "no WireGuard module in this kernel"},
				{Fact: "no threaded NAPI: no /sys/class/net/*/threaded"},
				{OK: true, Fact: "no NUMA information (one node): numa_node has nothing to place"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Doctor(newFakeTree(t, tt.files))
			if len(got) < len(tt.want) {
				t.Fatalf("Doctor = %+v, want at least %d facts", got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				// The module may also be found in this machine's
				// /lib/modules; only a loaded one comes from the tree.
				if i == 0 && !w.OK && g.OK && strings.Contains(g.Fact, "loads on first use") {
					continue
				}
				if g.OK != w.OK || g.Fact != w.Fact {
					t.Errorf("fact %d = %+v, want %+v", i, g, w)
				}
				if !g.OK && g.Advice == "" {
					t.Errorf("warning %q has no advice", g.Fact)
				}
			}
		})
	}
}
