// Package stage names the pipeline stage a thread works for, from its comm
// (and its process's comm), so per-thread CPU can be read as "where does a
// gateway's time go".
//
// The rules, first match wins:
//
//	kernel thread  ksoftirqd/<n>                  ksoftirqd
//	kernel thread  napi/<dev>-<napi id>           napi, dev (threaded NAPI)
//	kernel thread  kworker…wg-crypt-<dev>         wg-crypt, dev (the kernel
//	                                              WireGuard crypt workqueue)
//	user thread    inline/<dev>…                  inline, dev (thread named by
//	                                              the inline engine)
//	user thread    wggo/<dev>…                    wggo, dev
//	user thread    of a process in Classifier.PIDs  that stage
//	user thread    of a process named iperf3      iperf3
//	user thread    of a process named wireguard-go  wggo
//	anything else                                 other
//
// A kworker's comm carries the workqueue it last served, so a per-CPU
// kworker shared by several workqueues is counted as wg-crypt for the
// intervals in which that was its last work. Thread comms are cut at 15
// bytes, so "napi/<dev>-<id>" keeps the whole device name only for names of
// up to 8 bytes (or when Classifier.Devices lists the device).
package stage

import "strings"

// Stage is the name of a pipeline stage.
type Stage string

// The stages.
const (
	// IPerf3 is the traffic generator's threads.
	IPerf3 Stage = "iperf3"
	// KSoftirqd is the per-core kernel threads that run softirqs (NAPI
	// polls included) when they are deferred from interrupt exit.
	KSoftirqd Stage = "ksoftirqd"
	// NAPI is the threaded-NAPI kernel threads, one per NAPI context.
	NAPI Stage = "napi"
	// WGCrypt is the kernel WireGuard workqueue workers: encryption,
	// decryption and the per-peer transmit work.
	WGCrypt Stage = "wg-crypt"
	// WGGo is the wireguard-go userspace datapath.
	WGGo Stage = "wggo"
	// Inline is the inline (run-to-completion) engine's threads.
	Inline Stage = "inline"
	// Other is anything else.
	Other Stage = "other"
)

// Thread is what the classifier looks at.
type Thread struct {
	// PID is the process (thread group) ID.
	PID int
	// ProcComm is the comm of the process (of its thread-group leader).
	ProcComm string
	// Comm is the thread's own comm.
	Comm string
	// Kernel is true for kernel threads.
	Kernel bool
}

// Label is a stage and, where the thread's name carries one, the network
// device it serves.
type Label struct {
	Stage Stage
	Dev   string
}

// Classifier maps threads to stages. The zero value applies the built-in
// rules only.
type Classifier struct {
	// PIDs names the stage of datapath processes the rules cannot tell by
	// name (for example a "wgbench datapath inline" process): every
	// thread of such a process gets that stage.
	PIDs map[int]Stage
	// Devices, when set, lets the classifier recover a device name that
	// the 15-byte comm limit cut short: a truncated name that is a prefix
	// of exactly one listed device is completed.
	Devices []string
}

type rule struct {
	kernel  bool   // applies to kernel threads, else to user threads
	process bool   // match the process comm, else the thread comm
	prefix  string // the comm starts with this
	exact   bool   // the comm is prefix, nothing more
	marker  string // the dev follows this substring ("" for none)
	napi    bool   // dev is "<dev>-<id>" after the prefix
	stage   Stage
}

// rules is the classification table, in order; PIDs is consulted after the
// thread-name rules and before the process-name rules.
var rules = []rule{
	{kernel: true, prefix: "ksoftirqd/", stage: KSoftirqd},
	{kernel: true, prefix: "napi/", napi: true, stage: NAPI},
	{kernel: true, prefix: "kworker", marker: "wg-crypt-", stage: WGCrypt},
	{prefix: "inline/", marker: "inline/", stage: Inline},
	{prefix: "wggo/", marker: "wggo/", stage: WGGo},
}

var processRules = []rule{
	{process: true, prefix: "iperf3", exact: true, stage: IPerf3},
	{process: true, prefix: "wireguard-go", exact: true, stage: WGGo},
}

// Classify returns the stage (and device) of thread t.
func (c Classifier) Classify(t Thread) Label {
	for _, r := range rules {
		if l, ok := c.match(r, t); ok {
			return l
		}
	}
	if t.Kernel {
		return Label{Stage: Other}
	}
	if s, ok := c.PIDs[t.PID]; ok && s != "" {
		return Label{Stage: s}
	}
	for _, r := range processRules {
		if l, ok := c.match(r, t); ok {
			return l
		}
	}
	return Label{Stage: Other}
}

func (c Classifier) match(r rule, t Thread) (Label, bool) {
	if r.kernel != t.Kernel {
		return Label{}, false
	}
	name := t.Comm
	if r.process {
		name = t.ProcComm
	}
	if !strings.HasPrefix(name, r.prefix) || (r.exact && name != r.prefix) {
		return Label{}, false
	}
	l := Label{Stage: r.stage}
	switch {
	case r.napi:
		l.Dev = c.complete(napiDev(name[len(r.prefix):]))
	case r.marker != "":
		_, dev, ok := strings.Cut(name, r.marker)
		if !ok {
			return Label{}, false
		}
		l.Dev = c.complete(dev)
	}
	return l, true
}

// napiDev strips the "-<napi id>" suffix of a threaded NAPI thread's name.
// When the comm limit cut the id (or part of the device), the remainder is
// returned as it is.
func napiDev(s string) string {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i == len(s)-1 {
		return strings.TrimSuffix(s, "-")
	}
	for _, r := range s[i+1:] {
		if r < '0' || r > '9' {
			return s
		}
	}
	return s[:i]
}

// complete returns the one listed device that dev is a prefix of, or dev.
func (c Classifier) complete(dev string) string {
	if dev == "" {
		return ""
	}
	found := ""
	for _, d := range c.Devices {
		if d == dev {
			return d
		}
		if strings.HasPrefix(d, dev) {
			if found != "" {
				return dev // ambiguous
			}
			found = d
		}
	}
	if found != "" {
		return found
	}
	return dev
}
