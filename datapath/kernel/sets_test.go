package kernel

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResolveSets resolves symbolic CPU sets against the fake sysfs of
// stockFiles: 4 CPUs, node0 = 0-1, node1 = 2-3, eth1 on node 1 with two
// receive queues whose interrupts (40, 41) run on the CPUs given.
func TestResolveSets(t *testing.T) {
	tests := []struct {
		name    string
		files   func(map[string]string)
		wan     string
		tuning  Tuning
		knob    string
		expr    string
		want    string
		wantErr string
	}{
		{name: "all", knob: KnobRPSCPUs, expr: "all", want: "0-3"},
		{name: "node of the NIC", wan: "eth1", knob: KnobRPSCPUs, expr: "nic-node", want: "2-3"},
		{name: "other node", wan: "eth1", knob: KnobRPSCPUs, expr: "other-node", want: "0-1"},
		{name: "node by number", knob: KnobRPSCPUs, expr: "node1 + node0", want: "2-3,0-1"},
		{name: "rx-cores from the IRQs' effective affinity", wan: "eth1", knob: KnobDecryptCPUs, expr: "all - rx-cores", want: "0-1",
			files: func(f map[string]string) {
				f["/proc/irq/40/effective_affinity_list"] = "2"
				f["/proc/irq/41/effective_affinity_list"] = "3"
			}},
		{name: "rx-cores of the steered queues only", wan: "eth1", knob: KnobDecryptCPUs, expr: "rx-cores",
			tuning: Tuning{Steering: true, IRQCPUs: []int{1, 2}}, want: "1-2"},
		{name: "rx-cores from irq_cpus", wan: "eth1", knob: KnobDecryptCPUs, expr: "nic-node - rx-cores",
			tuning: Tuning{IRQCPUs: []int{3}}, want: "2"},
		{name: "rx-cores where numa_node puts the IRQs", wan: "eth1", knob: KnobDecryptCPUs, expr: "nic-node - rx-cores",
			tuning: Tuning{NUMANode: intp(-1)}, want: "3",
			files: func(f map[string]string) {
				delete(f, "/sys/kernel/irq/41/actions") // one receive queue, on the node's first CPU
			}},
		{name: "rx-cores of a placement", wan: "eth1", knob: KnobDecryptCPUs, expr: "all - rx-cores",
			tuning: Tuning{Placement: PlacementOverlapAvoidance, PlacementCPUs: []int{3, 2}}, want: "0-1"},
		{name: "single-node host: nic-node is every CPU", wan: "eth1", knob: KnobRPSCPUs, expr: "nic-node", want: "0-3",
			files: func(f map[string]string) {
				delete(f, "/sys/devices/system/node/node1/cpulist")
				f["/sys/devices/system/node/node0/cpulist"] = "0-3"
				f["/sys/class/net/eth1/device/numa_node"] = "-1"
			}},
		{name: "single-node host has no other node", wan: "eth1", knob: KnobRPSCPUs, expr: "other-node", wantErr: "there is no other node",
			files: func(f map[string]string) {
				delete(f, "/sys/devices/system/node/node1/cpulist")
				f["/sys/devices/system/node/node0/cpulist"] = "0-3"
			}},
		{name: "veth has no node", wan: "veth0", knob: KnobRPSCPUs, expr: "nic-node", wantErr: "has no NUMA node"},
		{name: "veth has no rx-cores", wan: "veth0", knob: KnobRPSCPUs, expr: "rx-cores", wantErr: "receive interrupts are unknown"},
		{name: "no WAN NIC", knob: KnobRPSCPUs, expr: "rx-cores", wantErr: "no WAN NIC"},
		{name: "empty", wan: "eth1", knob: KnobRPSCPUs, expr: "nic-node & other-node", wantErr: "resolves to no CPU"},
		{name: "irq_cpus cannot name rx-cores", wan: "eth1", knob: KnobIRQCPUs, expr: "rx-cores", wantErr: "irq_cpus decides which cores receive the tunnels, so it cannot name them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := stockFiles()
			if tt.files != nil {
				tt.files(files)
			}
			f := newFixture(t, files)
			tu := tt.tuning
			tu.Sets = map[string]string{tt.knob: tt.expr}
			got, err := f.tun.resolveSets([]string{"wg0", "wg1"}, tt.wan, tu)
			rep := f.tun.Report()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolveSets = %v, want error containing %q", err, tt.wantErr)
				}
				if len(rep.Sets) != 1 || rep.Sets[0].Error == "" {
					t.Errorf("report sets = %+v, want the error recorded", rep.Sets)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveSets: %v", err)
			}
			if len(*setField(&got, tt.knob)) == 0 {
				t.Fatalf("%s not set", tt.knob)
			}
			want := []ResolvedSet{{Knob: tt.knob, Expr: tt.expr, CPUs: tt.want}}
			if diff := cmp.Diff(want, rep.Sets); diff != "" {
				t.Errorf("report sets (-want +got):\n%s", diff)
			}
			if got.Sets != nil {
				t.Errorf("sets left unresolved: %v", got.Sets)
			}
		})
	}
}

// TestOptionalSetSkipped checks that an optional knob whose set does not
// resolve is skipped with the reason, and Apply goes on.
func TestOptionalSetSkipped(t *testing.T) {
	f := newFixture(t, stockFiles())
	tu := Tuning{RPSCPUs: []int{1}, Sets: map[string]string{KnobDecryptCPUs: "rx-cores"}, Optional: []string{KnobDecryptCPUs}}
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "veth0", tu); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := f.tun.Report()
	if len(rep.Skipped) != 1 || rep.Skipped[0].Knob != KnobDecryptCPUs || !strings.Contains(rep.Skipped[0].Reason, "receive interrupts are unknown") {
		t.Errorf("skipped = %+v", rep.Skipped)
	}
	if len(rep.Changes) != 1 {
		t.Errorf("changes = %+v, want veth0's RPS only", rep.Changes)
	}
}

// TestNUMAOnStockModule checks that numa_node with softirq NAPI places
// the NIC's work on its node and skips the crypto masks on a stock module
// with the reason.
func TestNUMAOnStockModule(t *testing.T) {
	f := newFixture(t, stockFiles())
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", Tuning{NUMANode: intp(-1)}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := f.tun.Report()
	if rep.NUMA == nil || rep.NUMA.CPUs != "2-3" || strings.Join(rep.NUMA.Knobs, " ") != "rps_cpus xps_cpus irq_cpus encrypt_cpus decrypt_cpus" {
		t.Errorf("numa report = %+v", rep.NUMA)
	}
	if len(rep.Skipped) != 2 {
		t.Fatalf("skipped = %+v, want encrypt_cpus and decrypt_cpus", rep.Skipped)
	}
	for _, s := range rep.Skipped {
		if s.Knob != KnobNUMANode || !strings.Contains(s.Reason, "needs the patched inline module") {
			t.Errorf("skip %+v, want numa_node needing the patched module", s)
		}
	}
	if len(rep.Changes) != 5 {
		t.Errorf("changes = %+v, want RPS ×2, XPS, IRQ ×2", rep.Changes)
	}
	if err := f.tun.Restore(); err != nil {
		t.Fatal(err)
	}
	// On a stock module, a non-optional crypto mask still fails.
	f = newFixture(t, stockFiles())
	err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", Tuning{DecryptCPUs: []int{1}})
	if !errors.Is(err, ErrNeedsPatchedModule) {
		t.Errorf("Apply = %v, want ErrNeedsPatchedModule", err)
	}
}

// TestNUMAAlternateNeedsTwoNodes checks the reason on a one-node host.
func TestNUMAAlternateNeedsTwoNodes(t *testing.T) {
	files := stockFiles()
	delete(files, "/sys/devices/system/node/node1/cpulist")
	f := newFixture(t, files)
	err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", Tuning{Placement: PlacementNUMAAlternate, ListenPorts: []int{1, 2}})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "1 node(s)") {
		t.Errorf("Apply = %v, want the single node named", err)
	}
}

// TestNUMASkipsXPSOfOneQueue checks numa_node on a NIC with one transmit
// queue, which has no XPS map (e1000e): that part is skipped with the
// reason and the rest applied.
func TestNUMASkipsXPSOfOneQueue(t *testing.T) {
	files := stockFiles()
	delete(files, "/sys/class/net/eth1/queues/tx-0/xps_cpus")
	files["/sys/class/net/eth1/queues/tx-0/tx_timeout"] = "0"
	f := newFixture(t, files)
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", Tuning{NUMANode: intp(-1)}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := f.tun.Report()
	if len(rep.Skipped) != 3 || !strings.Contains(rep.Skipped[0].Reason, "numa_node: xps_cpus: not supported on this host: the WAN NIC eth1 has one transmit queue") {
		t.Errorf("skipped = %+v, want XPS then the two crypto masks", rep.Skipped)
	}
	if len(rep.Changes) != 4 {
		t.Errorf("changes = %+v, want RPS ×2, IRQ ×2", rep.Changes)
	}
	// An explicit xps_cpus still fails there.
	f = newFixture(t, files)
	if err := f.tun.Apply([]string{"wg0"}, "eth1", Tuning{XPSCPUs: []int{1}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Apply xps_cpus = %v, want ErrUnsupported", err)
	}
}
