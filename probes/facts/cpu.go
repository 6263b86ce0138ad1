package facts

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
)

const cpuDir = "sys/devices/system/cpu"

// readCPU fills h.Cores and h.CPU: online CPUs, topology, cpufreq and
// cpuidle.
func readCPU(t *tree, h *Host) {
	c := &h.CPU
	if s, err := t.read(path.Join(cpuDir, "online")); err == nil {
		c.Online, _ = cpuset.Parse(s)
	}
	if len(c.Online) == 0 {
		// No online file: take the cpuN directories.
		ents, _ := t.readDir(cpuDir)
		for _, e := range ents {
			if n, ok := strings.CutPrefix(e.Name(), "cpu"); ok {
				if i, err := strconv.Atoi(n); err == nil {
					c.Online = append(c.Online, i)
				}
			}
		}
		slices.Sort(c.Online)
	}
	h.Cores = len(c.Online)
	if h.Cores == 0 {
		return
	}
	c.SMT, _ = t.read(path.Join(cpuDir, "smt/control"))
	packages := map[string]bool{}
	cores := map[string]bool{}
	siblings := map[string]CPUList{}
	for _, cpu := range c.Online {
		dir := path.Join(cpuDir, fmt.Sprintf("cpu%d", cpu))
		pkg, err := t.read(path.Join(dir, "topology/physical_package_id"))
		if err != nil {
			continue
		}
		packages[pkg] = true
		core, _ := t.read(path.Join(dir, "topology/core_id"))
		cores[pkg+"/"+core] = true
		if s, err := t.read(path.Join(dir, "topology/thread_siblings_list")); err == nil {
			if l, err := cpuset.Parse(s); err == nil && len(l) > 1 {
				siblings[l.String()] = l
			}
			if l, _ := cpuset.Parse(s); len(l) > c.ThreadsPerCore {
				c.ThreadsPerCore = len(l)
			}
		}
	}
	c.Sockets, c.PhysicalCores = len(packages), len(cores)
	if c.Sockets == 0 {
		h.Notes = append(h.Notes, "no CPU topology in /sys: sockets, cores and hyper-threads unknown")
	} else if c.ThreadsPerCore == 0 {
		c.ThreadsPerCore = 1
	}
	for _, l := range siblings {
		c.Siblings = append(c.Siblings, l)
	}
	slices.SortFunc(c.Siblings, func(a, b CPUList) int { return a[0] - b[0] })
	readCPUFreq(t, h)
	readCPUIdle(t, h)
}

// readCPUFreq reads the cpufreq driver and governor of every CPU.
func readCPUFreq(t *tree, h *Host) {
	c := &h.CPU
	for _, cpu := range c.Online {
		dir := path.Join(cpuDir, fmt.Sprintf("cpu%d", cpu), "cpufreq")
		g, err := t.read(path.Join(dir, "scaling_governor"))
		if err != nil {
			continue
		}
		if c.Governors == nil {
			c.Governors = map[string]CPUList{}
		}
		c.Governors[g] = append(c.Governors[g], cpu)
		if c.FreqDriver == "" {
			c.FreqDriver, _ = t.read(path.Join(dir, "scaling_driver"))
		}
	}
}

// readCPUIdle reads the cpuidle driver, governor and states.
func readCPUIdle(t *tree, h *Host) {
	c := &h.CPU
	c.IdleDriver, _ = t.read(path.Join(cpuDir, "cpuidle/current_driver"))
	c.IdleGovernor, _ = t.read(path.Join(cpuDir, "cpuidle/current_governor"))
	if c.IdleGovernor == "" {
		c.IdleGovernor, _ = t.read(path.Join(cpuDir, "cpuidle/current_governor_ro"))
	}
	states := map[int]*IdleState{}
	for _, cpu := range c.Online {
		dir := path.Join(cpuDir, fmt.Sprintf("cpu%d", cpu), "cpuidle")
		ents, err := t.readDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n, ok := strings.CutPrefix(e.Name(), "state")
			idx, err := strconv.Atoi(n)
			if !ok || err != nil {
				continue
			}
			sd := path.Join(dir, e.Name())
			st := states[idx]
			if st == nil {
				st = &IdleState{Index: idx}
				st.Name, _ = t.read(path.Join(sd, "name"))
				if v, err := t.read(path.Join(sd, "latency")); err == nil {
					st.LatencyUS, _ = strconv.Atoi(v)
				}
				states[idx] = st
			}
			if d, _ := t.read(path.Join(sd, "disable")); d == "1" {
				st.Disabled = append(st.Disabled, cpu)
			} else {
				st.Enabled = append(st.Enabled, cpu)
			}
		}
	}
	for _, st := range states {
		c.IdleStates = append(c.IdleStates, *st)
	}
	slices.SortFunc(c.IdleStates, func(a, b IdleState) int { return a.Index - b.Index })
}

// readNodes reads the NUMA nodes and their CPUs.
func readNodes(t *tree, h *Host) {
	ents, _ := t.readDir("sys/devices/system/node")
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "node")
		id, err := strconv.Atoi(n)
		if !ok || err != nil {
			continue
		}
		s, err := t.read(path.Join("sys/devices/system/node", e.Name(), "cpulist"))
		if err != nil {
			continue
		}
		cpus, _ := cpuset.Parse(s)
		h.Nodes = append(h.Nodes, NUMANode{ID: id, CPUs: cpus})
	}
	slices.SortFunc(h.Nodes, func(a, b NUMANode) int { return a.ID - b.ID })
	if len(h.Nodes) == 0 {
		h.Nodes = []NUMANode{{ID: 0, CPUs: h.CPU.Online}}
		h.Notes = append(h.Notes, "no NUMA information in /sys; assuming one node")
	}
	h.NUMANodes = len(h.Nodes)
}
