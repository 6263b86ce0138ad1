package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// QueueIRQ is the interrupt of one receive queue of a NIC.
type QueueIRQ struct {
	// Queue is the receive queue's number (rx-<Queue> in sysfs).
	Queue int `json:"queue"`
	// IRQ is the interrupt number (/proc/irq/<IRQ>).
	IRQ int `json:"irq"`
	// Name is the interrupt's action name, as /proc/interrupts shows it
	// ("eth0-rx-0", "ens1f0-TxRx-3", "mlx5_comp3@pci:…").
	Name string `json:"name"`
}

// queueIRQRe finds the queue number in the action name of a receive (or
// combined) queue's interrupt, as the common drivers name them:
// <dev>-rx-<q> (e1000e, igb), <dev>-TxRx-<q> (ixgbe, i40e, ice, bnxt),
// mlx5_comp<q>@…, virtio<n>-input.<q>, ena…-rx-<q>.
var queueIRQRe = regexp.MustCompile(`(?i)(?:^|[-_])(?:rx|txrx|input|comp)[-_.]?(\d+)(?:@|$)`)

// QueueIRQs returns the interrupts of dev's receive queues, found among
// the device's MSI interrupts (/sys/class/net/<dev>/device/msi_irqs) by
// their action names (/sys/kernel/irq/<n>/actions), sorted by queue. A
// NIC without MSI interrupts, or whose names say no queue, is
// ErrUnsupported.
func QueueIRQs(f Files, dev string) ([]QueueIRQ, error) {
	dir := "/sys/class/net/" + dev + "/device/msi_irqs"
	names, err := f.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unsupported("the NIC %s has no MSI interrupts (%s is missing: a virtual NIC such as veth has none)", dev, dir)
	}
	if err != nil {
		return nil, err
	}
	var out []QueueIRQ
	var seen []string
	for _, n := range names {
		irq, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		action, err := f.Read(fmt.Sprintf("/sys/kernel/irq/%d/actions", irq))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		seen = append(seen, fmt.Sprintf("%d %s", irq, action))
		if m := queueIRQRe.FindStringSubmatch(action); m != nil {
			q, _ := strconv.Atoi(m[1])
			out = append(out, QueueIRQ{Queue: q, IRQ: irq, Name: action})
		}
	}
	if len(out) == 0 {
		return nil, unsupported("none of the NIC %s's interrupts names a receive queue (its MSI interrupts: %s)", dev, orNone(seen))
	}
	slices.SortFunc(out, func(a, b QueueIRQ) int { return a.Queue - b.Queue })
	return out, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// irqAffinity pins the interrupt of wan's receive queue q to
// cpus[q mod n], for every queue with an interrupt.
func (t *Tuner) irqAffinity(knob, wan string, cpus []int) error {
	if err := t.needWAN(wan); err != nil {
		return err
	}
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	irqs, err := QueueIRQs(t.host.Files, wan)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.report.QueueIRQs = irqs
	t.mu.Unlock()
	for _, q := range irqs {
		cpu := cpus[q.Queue%len(cpus)]
		if err := t.setIRQ(knob, q, cpu); err != nil {
			return err
		}
	}
	return nil
}

// setIRQ pins one queue's interrupt to cpu and records the change.
func (t *Tuner) setIRQ(knob string, q QueueIRQ, cpu int) error {
	p := fmt.Sprintf("/proc/irq/%d/smp_affinity_list", q.IRQ)
	err := t.setFile(knob, p, strconv.Itoa(cpu))
	if err != nil && isEIO(err) {
		return unsupported("IRQ %d (%s) is managed by the kernel, which refuses to move it (%v)", q.IRQ, q.Name, err)
	}
	return err
}

func isEIO(err error) bool { return errors.Is(err, unix.EIO) }
