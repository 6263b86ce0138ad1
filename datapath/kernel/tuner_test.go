package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/internal/knobs"
)

// stockFiles is a 4-CPU, 2-node machine with two stock WireGuard tunnels
// (wg0, wg1), a physical WAN NIC eth1 on node 1 with two receive queues,
// a veth, and a NAPI thread of another namespace's wg0 (pid 77).
func stockFiles() map[string]string {
	return map[string]string{
		"/sys/devices/system/cpu/online":            "0-3",
		"/sys/devices/system/node/node0/cpulist":    "0-1",
		"/sys/devices/system/node/node1/cpulist":    "2-3",
		"/sys/class/net/wg0/mtu":                    "1420",
		"/sys/class/net/wg1/mtu":                    "1420",
		"/sys/class/net/wg0/threaded":               "0",
		"/sys/class/net/wg1/threaded":               "0",
		"/sys/class/net/eth1/device/numa_node":      "1",
		"/sys/class/net/eth1/queues/rx-0/rps_cpus":  "0",
		"/sys/class/net/eth1/queues/rx-1/rps_cpus":  "0",
		"/sys/class/net/eth1/queues/tx-0/xps_cpus":  "0",
		"/sys/class/net/veth0/queues/rx-0/rps_cpus": "0",
		"/sys/class/net/veth0/threaded":             "0",
		"/proc/1/comm":                              "init",
		"/proc/77/comm":                             "napi/wg0-8190",
		"/proc/self/comm":                           "kernel.test",
		// eth1's MSI-X interrupts: two receive queues, a transmit
		// queue and the link interrupt, as e1000e names them.
		"/sys/class/net/eth1/device/msi_irqs/40": "msix",
		"/sys/class/net/eth1/device/msi_irqs/41": "msix",
		"/sys/class/net/eth1/device/msi_irqs/42": "msix",
		"/sys/class/net/eth1/device/msi_irqs/43": "msix",
		"/sys/kernel/irq/40/actions":             "eth1-rx-0",
		"/sys/kernel/irq/41/actions":             "eth1-rx-1",
		"/sys/kernel/irq/42/actions":             "eth1-tx-0",
		"/sys/kernel/irq/43/actions":             "eth1",
		"/proc/irq/40/smp_affinity_list":         "0-3",
		"/proc/irq/41/smp_affinity_list":         "0-3",
		"/proc/irq/42/smp_affinity_list":         "0-3",
		"/proc/irq/43/smp_affinity_list":         "0-3",
	}
}

// withTxQueues gives eth1 of stockFiles n transmit queues.
func withTxQueues(n int) map[string]string {
	f := stockFiles()
	for q := range n {
		f[fmt.Sprintf("/sys/class/net/eth1/queues/tx-%d/xps_cpus", q)] = "0"
	}
	return f
}

// patchedFiles adds the patched inline module's attributes to stockFiles.
func patchedFiles() map[string]string {
	f := stockFiles()
	for _, dev := range []string{"wg0", "wg1"} {
		f["/sys/class/net/"+dev+"/inline_en"] = "0"
		f["/sys/class/net/"+dev+"/encrypt_cpumask"] = "f"
		f["/sys/class/net/"+dev+"/decrypt_cpumask"] = "f"
		f["/sys/class/net/"+dev+"/peer_0/serial_work_cpu"] = "4"
	}
	return f
}

func stockEthtool() *fakeEthtool {
	return &fakeEthtool{feats: map[string]map[string]Feature{
		"eth1":  {featUDPGROForwarding: {Changeable: true}, featNtuple: {Changeable: true}},
		"veth0": {featUDPGROForwarding: {Changeable: true}, featNtuple: {}},
	}, rules: map[string]map[uint32]FlowRule{}}
}

type fixture struct {
	tree *fakeTree
	aff  *fakeAffinity
	eth  *fakeEthtool
	tun  *Tuner
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{tree: newFakeTree(t, files), aff: newFakeAffinity(0, 1, 2, 3), eth: stockEthtool()}
	f.tun = NewTuner(Host{Files: f.tree, Affinity: f.aff, Ethtool: f.eth}, nil)
	return f
}

func intp(n int) *int { return &n }

func TestApplyRecordsAndRestores(t *testing.T) {
	threaded := []Change{
		{KnobThreadedNAPI, "/sys/class/net/wg0/threaded", "0", "1"},
		{KnobThreadedNAPI, "/sys/class/net/wg1/threaded", "0", "1"},
	}
	tests := []struct {
		name    string
		files   map[string]string
		wan     string
		tuning  Tuning
		want    []Change
		threads map[int][]int // pid → affinity while applied
		feats   map[string]bool
		rules   map[uint32]FlowRule // ntuple rules on wan while applied
	}{
		{
			name:   "threaded NAPI",
			tuning: Tuning{ThreadedNAPI: true},
			want:   threaded,
		},
		{
			name:   "NAPI threads pinned round-robin",
			tuning: Tuning{ThreadedNAPI: true, NAPICPUs: []int{3, 2}},
			want: append(threaded[:2:2],
				Change{KnobNAPICPUs, "/proc/1000 (napi/wg0-8193) affinity", "0-3", "3"},
				Change{KnobNAPICPUs, "/proc/1001 (napi/wg1-8194) affinity", "0-3", "2"}),
			threads: map[int][]int{1000: {3}, 1001: {2}, 77: {0, 1, 2, 3}},
		},
		{
			name:   "NUMA node of the WAN NIC",
			wan:    "eth1",
			tuning: Tuning{ThreadedNAPI: true, NUMANode: intp(-1)},
			want: append(threaded[:2:2],
				Change{KnobNUMANode, "/proc/1000 (napi/wg0-8193) affinity", "0-3", "2"},
				Change{KnobNUMANode, "/proc/1001 (napi/wg1-8194) affinity", "0-3", "3"},
				Change{KnobNUMANode, "/sys/class/net/eth1/queues/rx-0/rps_cpus", "0", "c"},
				Change{KnobNUMANode, "/sys/class/net/eth1/queues/rx-1/rps_cpus", "0", "c"},
				Change{KnobNUMANode, "/sys/class/net/eth1/queues/tx-0/xps_cpus", "0", "c"},
				Change{KnobNUMANode, "/proc/irq/40/smp_affinity_list", "0-3", "2"},
				Change{KnobNUMANode, "/proc/irq/41/smp_affinity_list", "0-3", "3"}),
		},
		{
			name:   "NUMA node filters napi_cpus",
			wan:    "eth1",
			tuning: Tuning{ThreadedNAPI: true, NUMANode: intp(0), NAPICPUs: []int{3, 1, 2}, RPSCPUs: []int{0}, XPSCPUs: []int{1}, IRQCPUs: []int{1}},
			want: append(threaded[:2:2],
				Change{KnobNAPICPUs, "/proc/1000 (napi/wg0-8193) affinity", "0-3", "1"},
				Change{KnobNAPICPUs, "/proc/1001 (napi/wg1-8194) affinity", "0-3", "1"},
				Change{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-0/rps_cpus", "0", "1"},
				Change{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-1/rps_cpus", "0", "1"},
				Change{KnobXPSCPUs, "/sys/class/net/eth1/queues/tx-0/xps_cpus", "0", "2"},
				Change{KnobIRQCPUs, "/proc/irq/40/smp_affinity_list", "0-3", "1"},
				Change{KnobIRQCPUs, "/proc/irq/41/smp_affinity_list", "0-3", "1"}),
		},
		{
			name:   "NUMA node with softirq NAPI, patched module",
			wan:    "eth1",
			files:  patchedFiles(),
			tuning: Tuning{NUMANode: intp(-1)},
			want: []Change{
				{KnobNUMANode, "/sys/class/net/eth1/queues/rx-0/rps_cpus", "0", "c"},
				{KnobNUMANode, "/sys/class/net/eth1/queues/rx-1/rps_cpus", "0", "c"},
				{KnobNUMANode, "/sys/class/net/eth1/queues/tx-0/xps_cpus", "0", "c"},
				{KnobNUMANode, "/proc/irq/40/smp_affinity_list", "0-3", "2"},
				{KnobNUMANode, "/proc/irq/41/smp_affinity_list", "0-3", "3"},
				{KnobNUMANode, "/sys/class/net/wg0/encrypt_cpumask", "f", "c"},
				{KnobNUMANode, "/sys/class/net/wg1/encrypt_cpumask", "f", "c"},
				{KnobNUMANode, "/sys/class/net/wg0/decrypt_cpumask", "f", "c"},
				{KnobNUMANode, "/sys/class/net/wg1/decrypt_cpumask", "f", "c"},
			},
		},
		{
			name:   "NUMA alternation over the nodes, patched module",
			wan:    "eth1",
			files:  patchedFiles(),
			tuning: Tuning{Placement: PlacementNUMAAlternate, ThreadedNAPI: true, ListenPorts: []int{51820, 51821}},
			want: append(threaded[:2:2],
				Change{KnobNAPICPUs, "/proc/1000 (napi/wg0-8193) affinity", "0-3", "2-3"},
				Change{KnobNAPICPUs, "/proc/1001 (napi/wg1-8194) affinity", "0-3", "0-1"},
				Change{KnobSteering, "ethtool -K eth1 rx-ntuple-filter", "off", "on"},
				Change{KnobSteering, "ethtool -N eth1 (wg0)", "no rule", "flow-type udp4 dst-port 51820 action 0 loc 0"},
				Change{KnobSteering, "ethtool -N eth1 (wg1)", "no rule", "flow-type udp4 dst-port 51821 action 1 loc 1"},
				Change{KnobIRQCPUs, "/proc/irq/40/smp_affinity_list", "0-3", "2"},
				Change{KnobIRQCPUs, "/proc/irq/41/smp_affinity_list", "0-3", "0"},
				Change{KnobEncryptCPUs, "/sys/class/net/wg0/encrypt_cpumask", "f", "c"},
				Change{KnobEncryptCPUs, "/sys/class/net/wg1/encrypt_cpumask", "f", "3"},
				Change{KnobDecryptCPUs, "/sys/class/net/wg0/decrypt_cpumask", "f", "c"},
				Change{KnobDecryptCPUs, "/sys/class/net/wg1/decrypt_cpumask", "f", "3"},
				Change{KnobSerialCPUs, "/sys/class/net/wg0/peer_0/serial_work_cpu", "4", "3"},
				Change{KnobSerialCPUs, "/sys/class/net/wg1/peer_0/serial_work_cpu", "4", "1"}),
			rules: map[uint32]FlowRule{0: {51820, 0}, 1: {51821, 1}},
		},
		{
			name:  "symbolic CPU sets",
			wan:   "eth1",
			files: patchedFiles(),
			tuning: Tuning{IRQCPUs: []int{3}, Sets: map[string]string{
				KnobDecryptCPUs: "nic-node - rx-cores", KnobEncryptCPUs: "all - (nic-node - rx-cores)[0]", KnobRPSCPUs: "other-node"}},
			want: []Change{
				{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-0/rps_cpus", "0", "3"},
				{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-1/rps_cpus", "0", "3"},
				{KnobIRQCPUs, "/proc/irq/40/smp_affinity_list", "0-3", "3"},
				{KnobIRQCPUs, "/proc/irq/41/smp_affinity_list", "0-3", "3"},
				{KnobEncryptCPUs, "/sys/class/net/wg0/encrypt_cpumask", "f", "b"},
				{KnobEncryptCPUs, "/sys/class/net/wg1/encrypt_cpumask", "f", "b"},
				{KnobDecryptCPUs, "/sys/class/net/wg0/decrypt_cpumask", "f", "4"},
				{KnobDecryptCPUs, "/sys/class/net/wg1/decrypt_cpumask", "f", "4"},
			},
		},
		{
			name:   "RPS on every receive queue",
			wan:    "eth1",
			tuning: Tuning{RPSCPUs: []int{0, 1}},
			want: []Change{
				{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-0/rps_cpus", "0", "3"},
				{KnobRPSCPUs, "/sys/class/net/eth1/queues/rx-1/rps_cpus", "0", "3"},
			},
		},
		{
			name:   "XPS, CPUs spread over the transmit queues",
			files:  withTxQueues(3),
			wan:    "eth1",
			tuning: Tuning{XPSCPUs: []int{0, 1, 2, 3}},
			want: []Change{
				{KnobXPSCPUs, "/sys/class/net/eth1/queues/tx-0/xps_cpus", "0", "9"},
				{KnobXPSCPUs, "/sys/class/net/eth1/queues/tx-1/xps_cpus", "0", "2"},
				{KnobXPSCPUs, "/sys/class/net/eth1/queues/tx-2/xps_cpus", "0", "4"},
			},
		},
		{
			name:   "UDP GRO forwarding",
			wan:    "eth1",
			tuning: Tuning{UDPGROForwarding: true},
			want:   []Change{{KnobUDPGROForwarding, "ethtool -K eth1 rx-udp-gro-forwarding", "off", "on"}},
			feats:  map[string]bool{featUDPGROForwarding: true},
		},
		{
			name:   "IRQ affinity of each receive queue",
			wan:    "eth1",
			tuning: Tuning{IRQCPUs: []int{3, 2}},
			want: []Change{
				{KnobIRQCPUs, "/proc/irq/40/smp_affinity_list", "0-3", "3"},
				{KnobIRQCPUs, "/proc/irq/41/smp_affinity_list", "0-3", "2"},
			},
		},
		{
			name:   "steering each tunnel to its own queue",
			wan:    "eth1",
			tuning: Tuning{Steering: true, ListenPorts: []int{51820, 51821}},
			want: []Change{
				{KnobSteering, "ethtool -K eth1 rx-ntuple-filter", "off", "on"},
				{KnobSteering, "ethtool -N eth1 (wg0)", "no rule", "flow-type udp4 dst-port 51820 action 0 loc 0"},
				{KnobSteering, "ethtool -N eth1 (wg1)", "no rule", "flow-type udp4 dst-port 51821 action 1 loc 1"},
			},
			rules: map[uint32]FlowRule{0: {51820, 0}, 1: {51821, 1}},
		},
		{
			name:   "emulated inline on the patched module",
			files:  patchedFiles(),
			wan:    "eth1",
			tuning: Tuning{Placement: PlacementEmulatedInline, PlacementCPUs: []int{2, 3}, ListenPorts: []int{51820, 51821}},
			want: append(threaded[:2:2],
				Change{KnobNAPICPUs, "/proc/1000 (napi/wg0-8193) affinity", "0-3", "2"},
				Change{KnobNAPICPUs, "/proc/1001 (napi/wg1-8194) affinity", "0-3", "3"},
				Change{KnobSteering, "ethtool -K eth1 rx-ntuple-filter", "off", "on"},
				Change{KnobSteering, "ethtool -N eth1 (wg0)", "no rule", "flow-type udp4 dst-port 51820 action 0 loc 0"},
				Change{KnobSteering, "ethtool -N eth1 (wg1)", "no rule", "flow-type udp4 dst-port 51821 action 1 loc 1"},
				Change{KnobIRQCPUs, "/proc/irq/40/smp_affinity_list", "0-3", "2"},
				Change{KnobIRQCPUs, "/proc/irq/41/smp_affinity_list", "0-3", "3"},
				Change{KnobEncryptCPUs, "/sys/class/net/wg0/encrypt_cpumask", "f", "4"},
				Change{KnobEncryptCPUs, "/sys/class/net/wg1/encrypt_cpumask", "f", "8"},
				Change{KnobDecryptCPUs, "/sys/class/net/wg0/decrypt_cpumask", "f", "4"},
				Change{KnobDecryptCPUs, "/sys/class/net/wg1/decrypt_cpumask", "f", "8"},
				Change{KnobSerialCPUs, "/sys/class/net/wg0/peer_0/serial_work_cpu", "4", "2"},
				Change{KnobSerialCPUs, "/sys/class/net/wg1/peer_0/serial_work_cpu", "4", "3"}),
			rules: map[uint32]FlowRule{0: {51820, 0}, 1: {51821, 1}},
		},
		{
			name:   "patched inline module",
			files:  patchedFiles(),
			tuning: Tuning{InlineKernel: true, EncryptCPUs: []int{0, 1}, DecryptCPUs: []int{2, 3}, SerialCPUs: []int{1, 2}},
			want: []Change{
				{KnobInlineKernel, "/sys/class/net/wg0/inline_en", "0", "1"},
				{KnobInlineKernel, "/sys/class/net/wg1/inline_en", "0", "1"},
				{KnobEncryptCPUs, "/sys/class/net/wg0/encrypt_cpumask", "f", "3"},
				{KnobEncryptCPUs, "/sys/class/net/wg1/encrypt_cpumask", "f", "3"},
				{KnobDecryptCPUs, "/sys/class/net/wg0/decrypt_cpumask", "f", "c"},
				{KnobDecryptCPUs, "/sys/class/net/wg1/decrypt_cpumask", "f", "c"},
				{KnobSerialCPUs, "/sys/class/net/wg0/peer_0/serial_work_cpu", "4", "1"},
				{KnobSerialCPUs, "/sys/class/net/wg1/peer_0/serial_work_cpu", "4", "2"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = stockFiles()
			}
			f := newFixture(t, files)
			before := f.tree.snapshot()
			ethBefore := f.eth.state()
			if err := f.tun.Apply([]string{"wg0", "wg1"}, tt.wan, tt.tuning); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			rep := f.tun.Report()
			if diff := cmp.Diff(tt.want, rep.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			// The records match what the host now holds.
			now := f.tree.snapshot()
			for _, c := range rep.Changes {
				if strings.HasPrefix(c.Path, "/sys/") && now[c.Path] != c.After {
					t.Errorf("%s holds %q, record says %q", c.Path, now[c.Path], c.After)
				}
			}
			for pid, want := range tt.threads {
				got, _ := f.aff.Get(pid)
				if !cmp.Equal(got, want) {
					t.Errorf("affinity of %d = %v, want %v", pid, got, want)
				}
			}
			for name, on := range tt.feats {
				if got := f.eth.state()[tt.wan][name].Active; got != on {
					t.Errorf("%s %s active = %t, want %t", tt.wan, name, got, on)
				}
			}
			if tt.rules != nil {
				if diff := cmp.Diff(tt.rules, f.eth.rulesOf(tt.wan)); diff != "" {
					t.Errorf("ntuple rules (-want +got):\n%s", diff)
				}
			}
			if err := f.tun.Restore(); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if got := f.eth.rulesOf(tt.wan); len(got) != 0 {
				t.Errorf("ntuple rules left after Restore: %v", got)
			}
			after := f.tree.snapshot()
			for p, v := range before {
				if after[p] != v {
					t.Errorf("after Restore %s = %q, want %q", p, after[p], v)
				}
			}
			for pid := range f.aff.cpus {
				if got, _ := f.aff.Get(pid); !cmp.Equal(got, []int{0, 1, 2, 3}) {
					t.Errorf("after Restore thread %d has affinity %v, want 0-3", pid, got)
				}
			}
			if diff := cmp.Diff(ethBefore, f.eth.state()); diff != "" {
				t.Errorf("NIC features after Restore (-want +got):\n%s", diff)
			}
			if n := len(f.tun.Report().Changes); n != 0 {
				t.Errorf("%d changes still recorded after Restore", n)
			}
		})
	}
}

func TestApplyFailures(t *testing.T) {
	noThreaded := stockFiles()
	delete(noThreaded, "/sys/class/net/wg0/threaded")
	delete(noThreaded, "/sys/class/net/wg1/threaded")
	noRPS := stockFiles()
	delete(noRPS, "/sys/class/net/eth1/queues/rx-0/rps_cpus")
	delete(noRPS, "/sys/class/net/eth1/queues/rx-1/rps_cpus")
	noRPS["/sys/class/net/eth1/queues/rx-0/"] = ""
	oneQueue := stockFiles()
	delete(oneQueue, "/sys/class/net/eth1/queues/rx-1/rps_cpus")
	unnamedIRQs := stockFiles()
	unnamedIRQs["/sys/kernel/irq/40/actions"] = "eth1"
	unnamedIRQs["/sys/kernel/irq/41/actions"] = "eth1"
	singleNode := stockFiles()
	singleNode["/sys/class/net/eth1/device/numa_node"] = "-1"
	tests := []struct {
		name   string
		files  map[string]string
		wan    string
		tuning Tuning
		is     error
		want   string
	}{
		{"stock module, inline_en", nil, "", Tuning{InlineKernel: true}, ErrNeedsPatchedModule,
			"inline_kernel: needs the patched inline module: wg0 has no inline_en attribute"},
		{"stock module, encrypt mask", nil, "", Tuning{EncryptCPUs: []int{0}}, ErrNeedsPatchedModule,
			"encrypt_cpus: needs the patched inline module: wg0 has no encrypt_cpumask"},
		{"stock module, decrypt mask", nil, "", Tuning{DecryptCPUs: []int{0}}, ErrNeedsPatchedModule,
			"decrypt_cpus: needs the patched inline module: wg0 has no decrypt_cpumask"},
		{"stock module, serial work CPU", nil, "", Tuning{SerialCPUs: []int{0}}, ErrNeedsPatchedModule,
			"serial_cpus: needs the patched inline module: wg0 has no peer_<N>/serial_work_cpu"},
		{"steering on veth", nil, "veth0", Tuning{Steering: true}, ErrUnsupported,
			"steering: not supported on this host: the WAN NIC veth0 has no ntuple filters"},
		{"steering with one receive queue", oneQueue, "eth1", Tuning{Steering: true, ListenPorts: []int{1, 2}}, ErrUnsupported,
			"steering: not supported on this host: the WAN NIC eth1 has 1 receive queue"},
		{"steering without listen ports", nil, "eth1", Tuning{Steering: true}, nil,
			"steering: the listen ports of the tunnels are unknown"},
		{"IRQs of a veth", nil, "veth0", Tuning{IRQCPUs: []int{0}}, ErrUnsupported,
			"irq_cpus: not supported on this host: the NIC veth0 has no MSI interrupts"},
		{"IRQ names without queues", unnamedIRQs, "eth1", Tuning{IRQCPUs: []int{0}}, ErrUnsupported,
			"none of the NIC eth1's interrupts names a receive queue (its MSI interrupts: 40 eth1, 41 eth1, 42 eth1-tx-0, 43 eth1)"},
		{"IRQ on an offline CPU", nil, "eth1", Tuning{IRQCPUs: []int{7}}, ErrUnsupported, "CPU 7 is not online"},
		{"overlap avoidance on every CPU", nil, "eth1", Tuning{Placement: PlacementOverlapAvoidance, PlacementCPUs: []int{0, 1, 2, 3}, ListenPorts: []int{1, 2}},
			ErrUnsupported, "placement: not supported on this host: placement overlap-avoidance keeps CPUs 0-3 for receiving, which leaves no other online CPU"},
		{"placement on a veth", nil, "veth0", Tuning{Placement: PlacementEmulatedInline, PlacementCPUs: []int{1}, ListenPorts: []int{1, 2}},
			ErrUnsupported, "steering: not supported on this host: the WAN NIC veth0 has no ntuple filters"},
		{"placement with its own knob", nil, "eth1", Tuning{Placement: PlacementEmulatedInline, PlacementCPUs: []int{1}, ThreadedNAPI: true},
			nil, "placement emulated-inline sets threaded_napi itself"},
		{"NUMA node of a veth", nil, "veth0", Tuning{ThreadedNAPI: true, NUMANode: intp(-1)}, ErrUnsupported,
			"numa_node: not supported on this host: the WAN NIC veth0 has no NUMA node"},
		{"NUMA on a single-node machine", singleNode, "eth1", Tuning{ThreadedNAPI: true, NUMANode: intp(-1)}, ErrUnsupported,
			"a single-node machine"},
		{"missing NUMA node", nil, "", Tuning{ThreadedNAPI: true, NUMANode: intp(5)}, ErrUnsupported,
			"there is no NUMA node 5 (nodes: 0,1)"},
		{"napi_cpus off the NUMA node", nil, "", Tuning{ThreadedNAPI: true, NUMANode: intp(0), NAPICPUs: []int{2, 3}}, ErrUnsupported,
			"none of napi_cpus 2-3 is on NUMA node 0"},
		{"offline CPU", nil, "", Tuning{ThreadedNAPI: true, NAPICPUs: []int{9}}, ErrUnsupported,
			"napi_cpus: not supported on this host: CPU 9 is not online here (online CPUs: 0-3)"},
		{"no threaded NAPI", noThreaded, "", Tuning{ThreadedNAPI: true}, ErrUnsupported,
			"threaded_napi: not supported on this host: the kernel has no threaded NAPI"},
		{"no RPS", noRPS, "eth1", Tuning{RPSCPUs: []int{0}}, ErrUnsupported,
			"rps_cpus: not supported on this host: the kernel has no RPS"},
		{"no WAN NIC name", nil, "", Tuning{RPSCPUs: []int{0}}, nil, "rps_cpus: no WAN NIC to act on: none was named"},
		{"invalid tuning", nil, "", Tuning{NAPICPUs: []int{0}}, nil, "needs threaded_napi: true"},
		{"later knob fails", nil, "eth1", Tuning{ThreadedNAPI: true, NAPICPUs: []int{1}, RPSCPUs: []int{0}, InlineKernel: true},
			ErrNeedsPatchedModule, "inline_kernel: needs the patched inline module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = stockFiles()
			}
			f := newFixture(t, files)
			before := f.tree.snapshot()
			err := f.tun.Apply([]string{"wg0", "wg1"}, tt.wan, tt.tuning)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply error = %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Apply error %v is not %v", err, tt.is)
			}
			// A failed Apply leaves nothing changed (threads it started
			// aside: the kernel keeps them).
			after := f.tree.snapshot()
			for p, v := range before {
				if after[p] != v {
					t.Errorf("after the failure %s = %q, want %q", p, after[p], v)
				}
			}
			for pid := range f.aff.cpus {
				if got, _ := f.aff.Get(pid); !cmp.Equal(got, []int{0, 1, 2, 3}) {
					t.Errorf("after the failure thread %d has affinity %v, want 0-3", pid, got)
				}
			}
			if n := len(f.tun.Report().Changes); n != 0 {
				t.Errorf("%d changes still recorded", n)
			}
		})
	}
}

func TestApplyOptionalKnobsAreSkipped(t *testing.T) {
	f := newFixture(t, stockFiles())
	tu := Tuning{ThreadedNAPI: true, NUMANode: intp(-1), NAPICPUs: []int{1, 0}, Steering: true,
		Optional: []string{KnobNUMANode, KnobSteering}}
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "veth0", tu); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := f.tun.Report()
	if len(rep.Skipped) != 2 || rep.Skipped[0].Knob != KnobNUMANode || rep.Skipped[1].Knob != KnobSteering {
		t.Fatalf("skipped = %+v, want numa_node then steering", rep.Skipped)
	}
	for _, s := range rep.Skipped {
		if !strings.Contains(s.Reason, "not supported on this host") {
			t.Errorf("skip reason %q does not say why", s.Reason)
		}
	}
	// Pinning went ahead with napi_cpus alone.
	if got, _ := f.aff.Get(1000); !cmp.Equal(got, []int{1}) {
		t.Errorf("wg0's NAPI thread on %v, want [1]", got)
	}
	if got, _ := f.aff.Get(1001); !cmp.Equal(got, []int{0}) {
		t.Errorf("wg1's NAPI thread on %v, want [0]", got)
	}
	if rep.NUMANode != nil {
		t.Errorf("numa node %d reported although skipped", *rep.NUMANode)
	}
	if err := f.tun.Restore(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyOptionalThreadedNAPISkipsPinning(t *testing.T) {
	files := stockFiles()
	delete(files, "/sys/class/net/wg0/threaded")
	f := newFixture(t, files)
	tu := Tuning{ThreadedNAPI: true, NAPICPUs: []int{1}, Optional: []string{KnobThreadedNAPI}}
	err := f.tun.Apply([]string{"wg0"}, "", tu)
	if err == nil || !strings.Contains(err.Error(), "napi_cpus: threaded NAPI was skipped") {
		t.Fatalf("Apply error = %v, want pinning to fail for lack of threads", err)
	}
}

func TestRestoreToleratesGoneObjects(t *testing.T) {
	f := newFixture(t, stockFiles())
	if err := f.tun.Apply([]string{"wg0"}, "", Tuning{ThreadedNAPI: true, NAPICPUs: []int{2}}); err != nil {
		t.Fatal(err)
	}
	// The device and its thread vanish before Restore.
	f.aff.dead[1000] = true
	if err := os.RemoveAll(filepath.Join(f.tree.Sys, "class/net/wg0")); err != nil {
		t.Fatal(err)
	}
	if err := f.tun.Restore(); err != nil {
		t.Errorf("Restore of vanished objects: %v, want nil", err)
	}
}

func TestRestoreKeepsGoingPastAFailure(t *testing.T) {
	f := newFixture(t, stockFiles())
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "", Tuning{ThreadedNAPI: true}); err != nil {
		t.Fatal(err)
	}
	// wg1's switch, the newest change, can no longer be written: it is
	// a directory now, an error that does not mean "gone".
	p, err := f.tree.real("/sys/class/net/wg1/threaded")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	err = f.tun.Restore()
	if err == nil || !strings.Contains(err.Error(), "/sys/class/net/wg1/threaded") {
		t.Fatalf("Restore error = %v, want one naming wg1's threaded switch", err)
	}
	if got, _ := f.tree.Read("/sys/class/net/wg0/threaded"); got != "0" {
		t.Errorf("wg0 threaded = %q after Restore, want 0: Restore stopped at the failure", got)
	}
	if n := len(f.tun.Report().Changes); n != 0 {
		t.Errorf("Report holds %d changes after Restore, want none", n)
	}
}

func TestThreadedAlreadyOn(t *testing.T) {
	tests := []struct {
		name   string
		others []string // comm of other processes
		want   string   // error, or "" to pin pid 77
	}{
		{"one thread of that name: ours", nil, ""},
		{"two threads of that name", []string{"napi/wg0-8191"}, "cannot tell the NAPI threads of wg0 apart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := stockFiles()
			files["/sys/class/net/wg0/threaded"] = "1"
			for i, c := range tt.others {
				files[fmt.Sprintf("/proc/%d/comm", 90+i)] = c
			}
			f := newFixture(t, files)
			err := f.tun.Apply([]string{"wg0"}, "", Tuning{ThreadedNAPI: true, NAPICPUs: []int{1}})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Apply error = %v, want %q", err, tt.want)
				}
				for pid := range f.aff.cpus {
					if got, _ := f.aff.Get(pid); len(got) != 4 {
						t.Errorf("thread %d left pinned to %v", pid, got)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got, _ := f.aff.Get(77); !cmp.Equal(got, []int{1}) {
				t.Errorf("thread 77 on %v, want [1]", got)
			}
			if err := f.tun.Restore(); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.tree.Read("/sys/class/net/wg0/threaded"); got != "1" {
				t.Errorf("threaded restored to %q, want it left on (1)", got)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	node := 1
	r := Report{
		WANDevice:   "eth1",
		NUMANode:    &node,
		NAPIThreads: map[string][]NAPIThread{"wg0": {{PID: 812, Comm: "napi/wg0-8193"}}},
		Changes:     []Change{{KnobThreadedNAPI, "/sys/class/net/wg0/threaded", "0", "1"}},
		Skipped:     []Skip{{KnobSteering, "steering: not supported on this host: …"}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"wan_device":"eth1","numa_node":1,"napi_threads":{"wg0":[{"pid":812,"comm":"napi/wg0-8193"}]},` +
		`"changes":[{"knob":"threaded_napi","path":"/sys/class/net/wg0/threaded","before":"0","after":"1"}],` +
		`"skipped":[{"knob":"steering","reason":"steering: not supported on this host: …"}]}`
	if string(b) != want {
		t.Errorf("report JSON\n got %s\nwant %s", b, want)
	}
	empty, _ := json.Marshal(NewTuner(Host{}, nil).Report())
	if string(empty) != `{"changes":[]}` {
		t.Errorf("empty report JSON = %s", empty)
	}
}

func TestTuningValidate(t *testing.T) {
	tests := []struct {
		name string
		t    Tuning
		want string // "" for valid
	}{
		{"zero", Tuning{}, ""},
		{"threaded and pinned", Tuning{ThreadedNAPI: true, NAPICPUs: []int{0}, Optional: []string{KnobNAPICPUs}}, ""},
		{"pin without threads", Tuning{NAPICPUs: []int{0}}, "napi_cpus: pinning NAPI threads needs threaded_napi: true"},
		{"numa on softirq NAPI", Tuning{NUMANode: intp(0)}, ""},
		{"placement and threaded NAPI", Tuning{Placement: PlacementEmulatedInline, PlacementCPUs: []int{0}, ThreadedNAPI: true},
			"threaded_napi: placement emulated-inline sets threaded_napi itself"},
		{"placement cpus alone", Tuning{PlacementCPUs: []int{0}}, "cpus: on the kernel datapath cpus are the cores of a placement preset"},
		{"optional placement cpus", Tuning{Placement: PlacementOverlapAvoidance, PlacementCPUs: []int{0}, Optional: []string{"cpus"}}, ""},
		{"CPU set of a knob with a list", Tuning{RPSCPUs: []int{1}, Sets: map[string]string{KnobRPSCPUs: "all"}}, "rps_cpus has both a CPU list and the CPU set"},
		{"CPU set of no CPU-set knob", Tuning{Sets: map[string]string{KnobSteering: "all"}}, "takes no CPU set"},
		{"bad CPU set", Tuning{Sets: map[string]string{KnobRPSCPUs: "nic-node-rx"}}, `rps_cpus: "nic-node-rx" is not a CPU set: unknown set`},
		{"numa-alternate with threaded NAPI", Tuning{Placement: PlacementNUMAAlternate, ThreadedNAPI: true}, ""},
		{"numa-alternate and steering", Tuning{Placement: PlacementNUMAAlternate, Steering: true}, "steering: placement numa-alternate sets steering itself"},
		{"placement cpus as a set", Tuning{Placement: PlacementEmulatedInline, Sets: map[string]string{KnobPlacement: "nic-node"}}, ""},
		{"bad numa node", Tuning{ThreadedNAPI: true, NUMANode: intp(-2)}, "numa_node -2"},
		{"numa node past the table's range", Tuning{NUMANode: intp(1024)}, "numa_node 1024: want a node number (0..1023)"},
		{"unknown optional", Tuning{Optional: []string{"pin"}}, `optional knob "pin" is not a kernel datapath knob`},
		{"optional not set", Tuning{Optional: []string{KnobSteering}}, "optional knob steering is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNAPICommMatches(t *testing.T) {
	tests := []struct {
		comm, dev string
		want      bool
	}{
		{"napi/wg0-8193", "wg0", true},
		{"napi/wg0-8193", "wg", false},
		{"napi/wg0-", "wg0", false},
		{"napi/wg0-81x", "wg0", false},
		{"napi/wg01-8193", "wg0", false},
		{"napi/wg3fa2-0-8", "wg3fa2-0", true},   // cut to 15 bytes
		{"napi/wg3fa2-10-", "wg3fa2-10", true},  // only the dash survives
		{"napi/wg3fa2-10-", "wg3fa2-1", false},  // "-1-" is not "-10"
		{"napi/wg3fa2-249", "wg3fa2-249", true}, // not even the dash
		{"napi/wg3fa2-249", "wg3fa2-24", false}, // "-24-" is not "-249"
		{"napi/verylongde", "verylongdevname", true},
		{"napi/verylongde", "verylongdevnam2", true}, // indistinguishable
		{"kworker/0:1", "wg0", false},
		// Full names, as Linux 5.17 and later show them.
		{"napi/wgk26c829-0-0", "wgk26c829-0", true},
		{"napi/wgk26c829-10-0", "wgk26c829-1", false},
		{"napi/wgk26c829-0-0", "wgk26c829-1", false},
		{"napi/wgbtag0-249-0", "wgbtag0-249", true},
		{"napi/wgbtag0-249-0", "wgbtag0-24", false},
	}
	for _, tt := range tests {
		if got := NAPICommMatches(tt.comm, tt.dev); got != tt.want {
			t.Errorf("NAPICommMatches(%q, %q) = %t, want %t", tt.comm, tt.dev, got, tt.want)
		}
	}
}

func TestPlacementOnStockModuleSkipsPatchedParts(t *testing.T) {
	f := newFixture(t, stockFiles())
	tu := Tuning{Placement: PlacementOverlapAvoidance, PlacementCPUs: []int{0}, ListenPorts: []int{51820, 51821}}
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", tu); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := f.tun.Report()
	want := &PlacementReport{Name: PlacementOverlapAvoidance, CPUs: "0",
		Knobs:   []string{KnobThreadedNAPI, KnobNAPICPUs, KnobSteering, KnobIRQCPUs, KnobEncryptCPUs, KnobDecryptCPUs},
		Patched: []string{KnobEncryptCPUs, KnobDecryptCPUs}}
	if diff := cmp.Diff(want, rep.Placement); diff != "" {
		t.Errorf("placement report (-want +got):\n%s", diff)
	}
	var skipped []string
	for _, s := range rep.Skipped {
		skipped = append(skipped, s.Knob)
		if !strings.Contains(s.Reason, "needs the patched inline module") {
			t.Errorf("skip of %s says %q, want it to name the patched module", s.Knob, s.Reason)
		}
	}
	if !cmp.Equal(skipped, []string{KnobEncryptCPUs, KnobDecryptCPUs}) {
		t.Errorf("skipped %v, want the crypto masks", skipped)
	}
	// The receiving core 0 is kept free of the NAPI threads, which go
	// one per tunnel on the other cores; both tunnels' flows and IRQs
	// land on core 0 (one CPU for two queues).
	for pid, want := range map[int][]int{1000: {1}, 1001: {2}} {
		if got, _ := f.aff.Get(pid); !cmp.Equal(got, want) {
			t.Errorf("NAPI thread %d on %v, want %v", pid, got, want)
		}
	}
	for _, irq := range []string{"40", "41"} {
		if got, _ := f.tree.Read("/proc/irq/" + irq + "/smp_affinity_list"); got != "0" {
			t.Errorf("IRQ %s on %q, want 0", irq, got)
		}
	}
	if got, _ := f.tree.Read("/proc/irq/42/smp_affinity_list"); got != "0-3" {
		t.Errorf("transmit IRQ 42 moved to %q", got)
	}
	if err := f.tun.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.tree.Read("/proc/irq/40/smp_affinity_list"); got != "0-3" {
		t.Errorf("IRQ 40 on %q after Restore, want 0-3", got)
	}
}

func TestQueueIRQNames(t *testing.T) {
	tests := []struct {
		action string
		queue  int
		ok     bool
	}{
		{"eth0-rx-0", 0, true},
		{"ens1f0-TxRx-12", 12, true},
		{"mlx5_comp3@pci:0000:81:00.0", 3, true},
		{"virtio0-input.1", 1, true},
		{"ena-ttx-rx-4", 4, true},
		{"eth0-tx-0", 0, false},
		{"eth0", 0, false},
		{"mlx5_async0@pci:0000:81:00.0", 0, false},
		{"virtio0-output.1", 0, false},
	}
	for _, tt := range tests {
		m := queueIRQRe.FindStringSubmatch(tt.action)
		if (m != nil) != tt.ok {
			t.Errorf("%q: matched %v, want %t", tt.action, m, tt.ok)
			continue
		}
		if tt.ok && m[1] != strconv.Itoa(tt.queue) {
			t.Errorf("%q: queue %s, want %d", tt.action, m[1], tt.queue)
		}
	}
}

func TestEncodeFlowRule(t *testing.T) {
	b := encodeFlowRule(FlowRule{DstPort: 51820, Queue: 3}, 7)
	// struct ethtool_rxnfc is 192 bytes on 64-bit Linux; the rule's
	// fields at the offsets of linux/ethtool.h.
	if len(b) != 192 {
		t.Fatalf("request of %d bytes, want 192", len(b))
	}
	for _, c := range []struct {
		name string
		off  int
		want []byte
	}{
		{"cmd", 0, le32(0x32)},
		{"flow_type", 4, le32(2)},
		{"fs.flow_type", 16, le32(2)},
		{"fs.h_u.udp_ip4_spec.pdst (big-endian)", 16 + 4 + 10, []byte{0xca, 0x6c}},
		{"fs.m_u.udp_ip4_spec.pdst", 16 + 76 + 10, []byte{0xff, 0xff}},
		{"fs.ring_cookie", 16 + 152, []byte{3, 0, 0, 0, 0, 0, 0, 0}},
		{"fs.location", 16 + 160, le32(7)},
	} {
		if got := b[c.off : c.off+len(c.want)]; !bytes.Equal(got, c.want) {
			t.Errorf("%s at %d = % x, want % x", c.name, c.off, got, c.want)
		}
	}
	if got, err := freeLocation(4, []uint32{0, 1, 3}); err != nil || got != 2 {
		t.Errorf("freeLocation = %d, %v; want 2", got, err)
	}
	if _, err := freeLocation(2, []uint32{0, 1}); err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("freeLocation of a full table: %v", err)
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// TestKnobsMatchTable checks that the kernel datapath's knobs are the
// knobs table's kernel rows: Knobs, plus cpus (PlacementCPUs).
func TestKnobsMatchTable(t *testing.T) {
	var table []string
	for _, k := range knobs.On(knobs.Kernel) {
		table = append(table, k.Name)
	}
	ours := append(slices.Clone(Knobs), "cpus")
	slices.Sort(table)
	slices.Sort(ours)
	if diff := cmp.Diff(table, ours); diff != "" {
		t.Errorf("kernel knobs (-table +Knobs):\n%s", diff)
	}
	if diff := cmp.Diff(knobs.Placements, Placements); diff != "" {
		t.Errorf("placements (-table +kernel):\n%s", diff)
	}
}
