package kernel

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// guestEnv is set by test/kernel/init.sh in the QEMU guest, whose PCI NIC
// (an emulated e1000e with MSI-X) the NIC tests may reconfigure; on any
// other machine they would touch its real NIC, so they skip.
const guestEnv = "WGBENCH_QEMU_GUEST"

// pciNIC returns a network device of this namespace backed by a PCI
// device with MSI interrupts, or skips.
func pciNIC(t *testing.T) string {
	t.Helper()
	if os.Getenv(guestEnv) != "1" {
		t.Skipf("changes the machine's own NIC; `make test-kernel` runs it in its QEMU guest (%s=1)", guestEnv)
	}
	requireRoot(t)
	devs, err := filepath.Glob("/sys/class/net/*/device/msi_irqs")
	if err != nil || len(devs) == 0 {
		t.Fatalf("the guest has no NIC with MSI interrupts (%v); test/kernel/run.sh gives it an e1000e", err)
	}
	return filepath.Base(filepath.Dir(filepath.Dir(devs[0])))
}

// TestIntegrationNICQueueIRQs pins the receive queue interrupt of a real
// (emulated e1000e) NIC with irq_cpus, reads it back from /proc/irq and
// restores it; steering on that NIC, which has no ntuple filters, is
// skipped with the reason.
func TestIntegrationNICQueueIRQs(t *testing.T) {
	nic := pciNIC(t)
	link, err := netlink.LinkByName(nic)
	if err != nil {
		t.Fatal(err)
	}
	// The driver asks for its MSI-X vectors when the link opens.
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			t.Fatalf("set %s up: %v", nic, err)
		}
		t.Cleanup(func() {
			if err := netlink.LinkSetDown(link); err != nil {
				t.Errorf("set %s down: %v", nic, err)
			}
		})
	}
	host := LocalHost()
	irqs, err := QueueIRQs(host.Files, nic)
	if err != nil {
		t.Fatalf("QueueIRQs(%s): %v", nic, err)
	}
	t.Logf("%s receive queue interrupts: %+v", nic, irqs)
	online, err := host.Files.Read("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := cpuset.Parse(online)
	if err != nil || len(cpus) < 2 {
		t.Fatalf("online CPUs %q: want at least 2 (QEMU -smp 2)", online)
	}
	affinity := func(irq int) string {
		v, err := host.Files.Read("/proc/irq/" + strconv.Itoa(irq) + "/smp_affinity_list")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := map[int]string{}
	for _, q := range irqs {
		before[q.IRQ] = affinity(q.IRQ)
	}
	// The last online CPU, which no interrupt is on by default.
	want := cpus[len(cpus)-1]
	tun := NewTuner(host, nil)
	tu := Tuning{IRQCPUs: []int{want}, Steering: true, ListenPorts: []int{51820}, Optional: []string{KnobSteering}}
	if err := tun.Apply([]string{"wgprobe"}, nic, tu); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := tun.Report()
	for _, q := range irqs {
		if got := affinity(q.IRQ); got != strconv.Itoa(want) {
			t.Errorf("IRQ %d (%s) on CPUs %q, want %d", q.IRQ, q.Name, got, want)
		}
		if eff, err := host.Files.Read("/proc/irq/" + strconv.Itoa(q.IRQ) + "/effective_affinity_list"); err == nil {
			t.Logf("IRQ %d effective affinity %s", q.IRQ, eff)
		}
	}
	if len(rep.Changes) != len(irqs) {
		t.Errorf("%d changes recorded for %d queue interrupts: %+v", len(rep.Changes), len(irqs), rep.Changes)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Knob != KnobSteering ||
		!strings.Contains(rep.Skipped[0].Reason, "has no ntuple filters") {
		t.Errorf("skipped %+v, want steering skipped for want of ntuple filters", rep.Skipped)
	}
	if err := tun.Restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for irq, b := range before {
		if got := affinity(irq); got != b {
			t.Errorf("IRQ %d on %q after Restore, want %q", irq, got, b)
		}
	}
}
