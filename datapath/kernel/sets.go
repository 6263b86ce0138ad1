package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// ResolvedSet is what one symbolic CPU set of a knob resolved to on this
// host (see Tuning.Sets).
type ResolvedSet struct {
	Knob string `json:"knob"`
	Expr string `json:"expr"`
	// CPUs is the resolved list, in list form; empty when it failed.
	CPUs string `json:"cpus,omitempty"`
	// Error says why it did not resolve (the knob was optional and
	// skipped).
	Error string `json:"error,omitempty"`
}

// setKnobs are the knobs whose value is a CPU set, in resolution order:
// the placement's cores and irq_cpus first, since rx-cores depends on
// them.
var setKnobs = []string{KnobPlacement, KnobIRQCPUs, KnobNAPICPUs, KnobRPSCPUs, KnobXPSCPUs, KnobEncryptCPUs, KnobDecryptCPUs, KnobSerialCPUs}

// setField returns the list field of tu that knob sets.
func setField(tu *Tuning, knob string) *[]int {
	switch knob {
	case KnobPlacement:
		return &tu.PlacementCPUs
	case KnobIRQCPUs:
		return &tu.IRQCPUs
	case KnobNAPICPUs:
		return &tu.NAPICPUs
	case KnobRPSCPUs:
		return &tu.RPSCPUs
	case KnobXPSCPUs:
		return &tu.XPSCPUs
	case KnobEncryptCPUs:
		return &tu.EncryptCPUs
	case KnobDecryptCPUs:
		return &tu.DecryptCPUs
	case KnobSerialCPUs:
		return &tu.SerialCPUs
	}
	return nil
}

// checkSets checks the syntax of tu.Sets and that each names a CPU-set
// knob that has no list as well.
func (t Tuning) checkSets() error {
	for knob, expr := range t.Sets {
		f := setField(&t, knob)
		if f == nil {
			return fmt.Errorf("CPU set %q given for %s, which takes no CPU set (CPU-set knobs: %s)", expr, knob, strings.Join(setKnobs, ", "))
		}
		if len(*f) > 0 {
			return fmt.Errorf("%s has both a CPU list and the CPU set %q", knob, expr)
		}
		if err := cpuset.Check(expr); err != nil {
			return fmt.Errorf("%s: %w", knob, err)
		}
	}
	return nil
}

// hostFacts resolves the symbolic names of CPU sets on the tuner's host.
type hostFacts struct {
	t    *Tuner
	wan  string
	devs []string
	tu   *Tuning // the tuning being resolved: rx-cores reads irq_cpus, steering and the placement from it
	knob string  // the knob being resolved
}

// lookup implements cpuset.Lookup.
func (h hostFacts) lookup(name string) (cpuset.Set, error) {
	switch name {
	case cpuset.NameAll:
		return h.t.onlineCPUs()
	case cpuset.NameNICNode:
		_, cpus, err := h.nicNode()
		return cpus, err
	case cpuset.NameOtherNode:
		node, cpus, err := h.nicNode()
		if err != nil {
			return nil, err
		}
		online, err := h.t.onlineCPUs()
		if err != nil {
			return nil, err
		}
		if node < 0 {
			return nil, unsupported("this host has one NUMA node, so there is no other node")
		}
		return cpuset.Set(online).Minus(cpus), nil
	case cpuset.NameRXCores:
		return h.rxCores()
	}
	if n, ok := strings.CutPrefix(name, "node"); ok {
		node, err := strconv.Atoi(n)
		if err == nil {
			return h.t.nodeCPUs(node)
		}
	}
	return nil, fmt.Errorf("unknown set %q", name)
}

// nicNode returns the WAN NIC's NUMA node and its CPUs; on a host with a
// single node (or none in sysfs) it is -1 with every online CPU.
func (h hostFacts) nicNode() (int, cpuset.Set, error) {
	nodes := h.t.nodes()
	if len(nodes) <= 1 {
		online, err := h.t.onlineCPUs()
		return -1, online, err
	}
	node, cpus, err := h.t.numaCPUs(-1, h.wan, nil)
	return node, cpus, err
}

// rxCores returns the cores whose interrupts receive the tunnels: with
// a placement preset its cores; with irq_cpus the cores of the queues
// the tunnels use (queue i mod n for tunnel i with steering, else every
// queue); otherwise the current affinity of those queues' interrupts.
func (h hostFacts) rxCores() (cpuset.Set, error) {
	tu := h.tu
	if h.knob == KnobIRQCPUs || h.knob == KnobPlacement {
		return nil, fmt.Errorf("%s decides which cores receive the tunnels, so it cannot name them", h.knob)
	}
	if len(tu.PlacementCPUs) > 0 {
		var out cpuset.Set
		for i := range max(len(h.devs), 1) {
			c := tu.PlacementCPUs[i%len(tu.PlacementCPUs)]
			if !out.Contains(c) {
				out = append(out, c)
			}
		}
		return out, nil
	}
	if err := h.t.needWAN(h.wan); err != nil {
		return nil, err
	}
	irqs, err := QueueIRQs(h.t.host.Files, h.wan)
	if err != nil {
		return nil, fmt.Errorf("the WAN NIC's receive interrupts are unknown: %w", err)
	}
	queues := map[int]bool{}
	if tu.Steering {
		rx, err := h.t.rxQueues(h.wan)
		if err != nil {
			return nil, err
		}
		for i := range h.devs {
			queues[i%max(len(rx), 1)] = true
		}
	}
	irqCPUs := tu.IRQCPUs
	if len(irqCPUs) == 0 && tu.NUMANode != nil && tu.Sets[KnobIRQCPUs] == "" {
		// numa_node will place the IRQs on its node.
		_, cpus, err := h.t.numaCPUs(*tu.NUMANode, h.wan, nil)
		if err != nil {
			return nil, fmt.Errorf("numa_node places the receive interrupts: %w", err)
		}
		irqCPUs = cpus
	}
	var out cpuset.Set
	for _, q := range irqs {
		if len(queues) > 0 && !queues[q.Queue] {
			continue
		}
		var cpus cpuset.Set
		if len(irqCPUs) > 0 {
			cpus = cpuset.Set{irqCPUs[q.Queue%len(irqCPUs)]}
		} else {
			cpus, err = h.t.irqCPUs(q.IRQ)
			if err != nil {
				return nil, err
			}
		}
		for _, c := range cpus {
			if !out.Contains(c) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return nil, unsupported("no receive interrupt of the WAN NIC %s serves the tunnels' queues", h.wan)
	}
	return out.Sorted(), nil
}

// irqCPUs returns the CPUs an interrupt runs on: its effective affinity
// where the kernel reports one, else its affinity.
func (t *Tuner) irqCPUs(irq int) (cpuset.Set, error) {
	for _, f := range []string{"effective_affinity_list", "smp_affinity_list"} {
		v, err := t.host.Files.Read(fmt.Sprintf("/proc/irq/%d/%s", irq, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return cpuset.Parse(v)
	}
	return nil, unsupported("IRQ %d has no affinity in /proc/irq/%d", irq, irq)
}

// nodes returns the NUMA nodes in sysfs that have CPUs, ascending.
func (t *Tuner) nodes() []int {
	names, _ := t.host.Files.List("/sys/devices/system/node")
	var out []int
	for _, n := range names {
		num, ok := strings.CutPrefix(n, "node")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		if cpus, err := t.nodeCPUs(i); err == nil && len(cpus) > 0 {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// nodeCPUs returns the CPUs of NUMA node n.
func (t *Tuner) nodeCPUs(n int) (cpuset.Set, error) {
	p := fmt.Sprintf("/sys/devices/system/node/node%d/cpulist", n)
	v, err := t.host.Files.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unsupported("there is no NUMA node %d", n)
	}
	if err != nil {
		return nil, err
	}
	s, err := cpuset.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// resolveSets returns tu with the CPU sets of tu.Sets resolved into its
// lists, in the order of setKnobs, and records each in the report. A set
// that does not resolve fails, unless its knob is optional: then the knob
// is dropped and the reason kept in the report.
func (t *Tuner) resolveSets(devs []string, wan string, tu Tuning) (Tuning, error) {
	if len(tu.Sets) == 0 {
		return tu, nil
	}
	if err := tu.checkSets(); err != nil {
		return Tuning{}, err
	}
	out := tu
	out.Sets = map[string]string{}
	for k, v := range tu.Sets {
		out.Sets[k] = v
	}
	for _, knob := range setKnobs {
		expr, ok := out.Sets[knob]
		if !ok {
			continue
		}
		delete(out.Sets, knob)
		look := hostFacts{t: t, wan: wan, devs: devs, tu: &out, knob: knob}
		cpus, err := cpuset.Expr(expr).Resolve(look.lookup)
		rs := ResolvedSet{Knob: knob, Expr: expr}
		if err != nil {
			rs.Error = err.Error()
		} else {
			rs.CPUs = cpus.String()
		}
		t.mu.Lock()
		t.report.Sets = append(t.report.Sets, rs)
		t.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("%s: %w", knob, err)
			if !slices.Contains(out.Optional, knob) {
				return Tuning{}, err
			}
			t.mu.Lock()
			t.report.Skipped = append(t.report.Skipped, Skip{Knob: knob, Reason: err.Error()})
			t.mu.Unlock()
			t.log.Info("optional kernel knob skipped", "knob", knob, "reason", err)
			if knob == KnobPlacement {
				out.Placement = ""
			}
			out.Optional = slices.DeleteFunc(slices.Clone(out.Optional), func(o string) bool { return o == knob })
			continue
		}
		t.log.Info("kernel CPU set resolved", "knob", knob, "set", expr, "cpus", cpus.String())
		*setField(&out, knob) = cpus
	}
	out.Sets = nil
	return out, nil
}
