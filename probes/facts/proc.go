package facts

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// readProcs finds irqbalance and the threaded-NAPI kernel threads among
// the processes. Only their comm and status files are read, so a snapshot
// holds those processes and no others.
func readProcs(t *tree, h *Host) {
	ents, err := readDirQuiet(t, "proc")
	if err != nil {
		h.Notes = append(h.Notes, "cannot list /proc: irqbalance and NAPI threads unknown")
		return
	}
	for _, name := range ents {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		dir := path.Join("proc", name)
		comm, err := t.readQuiet(path.Join(dir, "comm"))
		if err != nil {
			continue
		}
		switch {
		case comm == "irqbalance":
			t.read(path.Join(dir, "comm")) // record it
			h.Irqbalance.Running = true
			h.Irqbalance.PIDs = append(h.Irqbalance.PIDs, pid)
		case strings.HasPrefix(comm, "napi/"):
			t.read(path.Join(dir, "comm"))
			th := Thread{PID: pid, Comm: comm}
			if st, err := t.read(path.Join(dir, "status")); err == nil {
				for _, line := range strings.Split(st, "\n") {
					if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
						th.CPUs, _ = cpuset.Parse(v)
					}
				}
			}
			h.NAPIThreads = append(h.NAPIThreads, th)
		}
	}
	slices.Sort(h.Irqbalance.PIDs)
	slices.SortFunc(h.NAPIThreads, func(a, b Thread) int { return strings.Compare(a.Comm, b.Comm) })
}

// readDirQuiet lists a directory without recording its entries (for
// /proc, whose processes a snapshot should not all keep).
func readDirQuiet(t *tree, rel string) ([]string, error) {
	rec := t.rec
	t.rec = nil
	defer func() { t.rec = rec }()
	ents, err := t.readDir(rel)
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}

// readQuiet reads a file without recording it.
func (t *tree) readQuiet(rel string) (string, error) {
	rec := t.rec
	t.rec = nil
	defer func() { t.rec = rec }()
	return t.read(rel)
}

// readSysctls reads SysctlNames.
func readSysctls(t *tree, h *Host) {
	for _, name := range SysctlNames {
		v, err := t.read(path.Join("proc/sys", strings.ReplaceAll(name, ".", "/")))
		if err != nil {
			continue
		}
		if h.Sysctls == nil {
			h.Sysctls = map[string]string{}
		}
		h.Sysctls[name] = strings.Join(strings.Fields(v), " ")
	}
}

// bootParamPrefixes are the kernel parameters kept from the command line.
var bootParamPrefixes = []string{
	"intel_idle.max_cstate", "processor.max_cstate", "idle=", "cpuidle.off", "cpuidle.governor",
	"intel_pstate", "amd_pstate", "isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity", "nosmt",
	"mitigations", "numa_balancing", "threadirqs", "cpufreq.default_governor",
}

// keepBootParam reports whether a command-line word is one of those.
func keepBootParam(w string) bool {
	for _, p := range bootParamPrefixes {
		if w == p || strings.HasPrefix(w, p) && (strings.HasSuffix(p, "=") || strings.HasPrefix(w[len(p):], "=")) {
			return true
		}
	}
	return false
}

// readBootParams keeps the command-line parameters about idle, frequency,
// isolation and IRQs.
func readBootParams(t *tree, h *Host) {
	s, err := t.read("proc/cmdline")
	if err != nil {
		return
	}
	for _, w := range strings.Fields(s) {
		if w == "--" {
			break // what follows goes to init
		}
		if keepBootParam(w) {
			h.BootParams = append(h.BootParams, w)
		}
	}
}

// filterCmdline keeps only the recorded parameters of a command line, so
// a snapshot does not carry the rest.
func filterCmdline(b []byte) []byte {
	var kept []string
	for _, w := range strings.Fields(string(b)) {
		if w == "--" {
			break
		}
		if keepBootParam(w) {
			kept = append(kept, w)
		}
	}
	return []byte(strings.Join(kept, " ") + "\n")
}
