// Package cost turns the gateways' CPU traces into what each byte and each
// packet cost them: CPU seconds per cost stage (softirq, NAPI threads,
// crypto workers, datapath threads, TUN I/O, other) over a repetition's
// measured window, which results.NewRepCost turns into cycles with the
// run's clock.
//
// Traffic generators (iperf3) and wgbench's own agents (the samplers) are
// left out. Two attributions:
//
//   - by thread (ByThread, the shared local testbed, where every host's
//     trace shows the same machine-wide cores): the gateways' own threads
//     and the kernel threads of their stages. A kernel thread both traces
//     saw (ksoftirqd, or a device both gateways name alike) is counted
//     once. Softirq work done in another process's context (an iperf3
//     sender's) is charged to that process and so left out.
//   - by core (ByCore, a gateway with a machine of its own): all busy time
//     of the host's cores; softirq and irq time from the per-core
//     counters, NAPI, crypto, datapath and TUN threads from the thread
//     rows, the rest "other".
package cost

import (
	"strings"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/stage"
	"github.com/wgbench/wgbench/results"
)

// Stage indexes, in the order of results.CostStages.
const (
	softirq = iota
	napi
	crypto
	datapath
	tun
	other
	numStages
	excluded = -1
)

// Usage is the gateways' CPU over a window.
type Usage struct {
	// Method is results.ByThread or results.ByCore.
	Method string
	// Window is the measured time in seconds: the mean, over the traces,
	// of the sampled intervals that lie in the window.
	Window float64
	// Seconds is CPU time per stage, both gateways together, indexed like
	// results.CostStages.
	Seconds [numStages]float64
	// Excluded is the CPU time of the threads left out (traffic
	// generators, wgbench's agents) that the traces saw.
	Excluded float64
}

// Total returns the CPU seconds of all stages.
func (u Usage) Total() float64 {
	var t float64
	for _, s := range u.Seconds {
		t += s
	}
	return t
}

// Rep returns the repetition's cost of u for bytes of payload.
func (u Usage) Rep(bytes uint64, payloadPerPacket int, clock results.Clock) results.RepCost {
	return results.NewRepCost(u.Method, u.Window, u.Seconds[:], bytes, payloadPerPacket, clock)
}

// costStage maps a thread row to a cost stage, or excluded.
func costStage(t *probes.ThreadSample) int {
	switch t.Stage {
	case stage.IPerf3:
		return excluded
	case stage.KSoftirqd:
		return softirq
	case stage.NAPI:
		return napi
	case stage.WGCrypt:
		return crypto
	case stage.Inline, stage.WGGo:
		if isTUNThread(t.Comm) {
			return tun
		}
		return datapath
	}
	if t.Comm == "wgbench" || strings.HasPrefix(t.Comm, "wgbench ") {
		return excluded // the sampler and other agents in the namespace
	}
	return other
}

// isTUNThread reports whether a datapath thread is named for TUN I/O
// ("…/tun…", "tun-…").
func isTUNThread(comm string) bool {
	i := strings.LastIndexByte(comm, '/')
	rest := comm[i+1:]
	if i >= 0 && strings.HasPrefix(rest, "tun") {
		return true
	}
	return strings.HasPrefix(comm, "tun-") || strings.HasPrefix(comm, "tun/")
}

// Account sums the CPU the gateways' traces show between from and to
// seconds after each trace's start: by thread when byThread, else by core.
// Traces may be nil (a sampler that wrote nothing) and are then skipped.
func Account(traces []*probes.Trace, from, to float64, byThread bool) Usage {
	u := Usage{Method: results.ByCore}
	if byThread {
		u.Method = results.ByThread
	}
	// Kernel threads by TID (and stage): the most any one trace saw, so a
	// thread in both traces counts once.
	var kernel map[int]float64
	if byThread {
		kernel = make(map[int]float64)
	}
	n := 0
	for _, tr := range traces {
		if tr == nil {
			continue
		}
		n++
		win := tr.Window(from, to)
		var seen map[int]float64
		if byThread {
			seen = make(map[int]float64)
		}
		for i := range win.Samples {
			s := &win.Samples[i]
			u.Window += s.DT
			if byThread {
				u.addThreads(s, seen)
			} else {
				u.addCores(s)
			}
		}
		for key, sec := range seen {
			kernel[key] = max(kernel[key], sec)
		}
	}
	if n > 0 {
		u.Window /= float64(n)
	}
	for key, sec := range kernel {
		u.Seconds[key%numStages] += sec
	}
	return u
}

// addThreads adds one sample's thread rows; kernel threads go to seen (by
// TID and stage) to be merged across traces.
func (u *Usage) addThreads(s *probes.Sample, seen map[int]float64) {
	for i := range s.Threads {
		t := &s.Threads[i]
		sec := t.Pct / 100 * s.DT
		st := costStage(t)
		switch {
		case st == excluded:
			u.Excluded += sec
		case t.Shared:
			// Kernel thread: merged by TID across traces. Its stage
			// never changes except for a pool kworker, which the
			// sampler keeps only while it serves wg-crypt.
			seen[encodeTID(t.TID, st)] += sec
		default:
			u.Seconds[st] += sec
		}
	}
}

// encodeTID folds the stage into a kernel thread's key (key % numStages is
// the stage), so a pool kworker counted in two stages keeps both.
func encodeTID(tid, st int) int { return tid*numStages + st }

// addCores adds one sample of a host with cores of its own.
func (u *Usage) addCores(s *probes.Sample) {
	var busy, soft float64
	for _, c := range s.Cores {
		busy += c.Busy / 100 * s.DT
		soft += (c.SoftIRQ + c.IRQ) / 100 * s.DT
	}
	threads, excl := 0.0, 0.0
	for i := range s.Threads {
		t := &s.Threads[i]
		sec := t.Pct / 100 * s.DT
		switch st := costStage(t); st {
		case excluded:
			excl += sec
		case softirq:
			// ksoftirqd's time is softirq time on its core: already in
			// the per-core figure.
		default:
			if st != other {
				u.Seconds[st] += sec
				threads += sec
			}
		}
	}
	u.Excluded += excl
	u.Seconds[softirq] += soft
	if rest := busy - soft - threads - excl; rest > 0 {
		u.Seconds[other] += rest
	}
}
