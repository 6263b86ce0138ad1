// Package blackhole looks for saturated cores in a gateway's CPU trace and
// says what fills them.
//
// The HPSR 2025 paper shows two ways a WireGuard gateway stops scaling while
// most of its CPU is idle. With one tunnel, the core that receives the
// tunnel on gw2 saturates and limits every other stage (its Fig. 5). With
// several tunnels and softirq NAPI, the NAPI polls of all tunnels gather on
// one core, which runs at 100 % softirq while the others idle — the "black
// hole" (its Fig. 9).
//
// Detect works on the samples of one host over one measured window.
// A core is saturated in a sample when its busy share reaches
// Thresholds.Saturation; it is persistently saturated when that holds for
// at least Thresholds.Persistence of the window (samples weighted by their
// length). The host's idle share is the mean over all cores and the window
// of 100 − busy. Then, in order:
//
//   - no persistently saturated core: no finding;
//   - receive side (gw2), one tunnel, exactly one persistently saturated
//     core: a KindSingleCore finding on it (Fig. 5), whatever the rest of
//     the host does;
//   - host idle below Thresholds.Headroom: one KindCPUBound finding for
//     the host (Core −1, the saturated cores in Cores) — the machine is
//     short of CPU, no core is singled out;
//   - otherwise one finding per persistently saturated core:
//     KindBlackHole when softirq is at least Thresholds.SoftirqDominance
//     of its busy time and the run is not known to have a single tunnel,
//     else KindHotCore (a core filled by a thread or by one tunnel's
//     softirq).
//
// Two saturated cores give two findings rather than one listing both: each
// core has its own evidence (one may be softirq, the other a thread), and a
// suggestion acts on one core at a time. Each summary says how many cores
// were saturated.
//
// When the host shares the machine's cores with other hosts (the local
// testbed), the per-core figures and the host idle share are machine-wide:
// the summary says so and names this host's threads on the core and the
// share of the core they used, as the only attribution that is really this
// host's.
package blackhole

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/stage"
)

// Finding kinds.
const (
	// KindBlackHole is a core saturated mostly by softirq while the host
	// has idle CPU (Fig. 9 of the HPSR 2025 paper).
	KindBlackHole = "black-hole"
	// KindSingleCore is the one saturated core of a single-tunnel
	// receiver (Fig. 5).
	KindSingleCore = "single-core-bottleneck"
	// KindHotCore is a core saturated by something other than softirq (a
	// thread), or by softirq in a single-tunnel run, while the host has
	// idle CPU.
	KindHotCore = "hot-core"
	// KindCPUBound is a host with saturated cores and too little idle CPU
	// left: it is short of CPU rather than badly balanced.
	KindCPUBound = "cpu-bound"
)

// Thresholds tune the detector. Start from DefaultThresholds.
type Thresholds struct {
	// Saturation is the busy percentage (0–100] at which a core counts
	// as saturated in a sample.
	Saturation float64
	// Persistence is the share (0–1] of the window a core must be
	// saturated for.
	Persistence float64
	// Headroom is the idle share [0–1) of the whole host needed to single
	// out saturated cores; below it the host is cpu-bound.
	Headroom float64
	// SoftirqDominance is the share [0–1] of a saturated core's busy time
	// spent in softirq from which it is a black hole.
	SoftirqDominance float64
}

// DefaultThresholds returns the defaults: saturated at 90 % busy
// for 60 % of the window, with 25 % of the host idle; softirq dominates at
// half the busy time.
func DefaultThresholds() Thresholds {
	return Thresholds{Saturation: 90, Persistence: 0.6, Headroom: 0.25, SoftirqDominance: 0.5}
}

// Validate reports thresholds outside their ranges.
func (th Thresholds) Validate() error {
	var errs []error
	if !(th.Saturation > 0 && th.Saturation <= 100) {
		errs = append(errs, fmt.Errorf("saturation %v: want a busy percentage in (0, 100]", th.Saturation))
	}
	if !(th.Persistence > 0 && th.Persistence <= 1) {
		errs = append(errs, fmt.Errorf("persistence %v: want a share of the window in (0, 1]", th.Persistence))
	}
	if !(th.Headroom >= 0 && th.Headroom < 1) {
		errs = append(errs, fmt.Errorf("headroom %v: want an idle share in [0, 1)", th.Headroom))
	}
	if !(th.SoftirqDominance >= 0 && th.SoftirqDominance <= 1) {
		errs = append(errs, fmt.Errorf("softirq dominance %v: want a share in [0, 1]", th.SoftirqDominance))
	}
	if len(errs) > 0 {
		return fmt.Errorf("blackhole: bad thresholds: %w", errors.Join(errs...))
	}
	return nil
}

// DetectOptions describe the run the trace comes from.
type DetectOptions struct {
	// Role is the host's role (gw1, gw2). gw2 is the receive side of the
	// papers' unidirectional traffic.
	Role string
	// ReceiveSide marks the host as the tunnels' receiver whatever its
	// role (for reversed traffic).
	ReceiveSide bool
	// Tunnels is the number of tunnels in the run; 0 means unknown.
	Tunnels int
	// SharedCores says the host shares the machine's cores with other
	// hosts (the local testbed). The trace header can say so too.
	SharedCores bool
}

// Finding is one saturated core (or a cpu-bound host) with its evidence.
type Finding struct {
	// Host is the host the trace describes.
	Host string
	// Kind is one of the Kind* constants.
	Kind string
	// Core is the saturated core, or −1 for a host-wide finding.
	Core int
	// Cores lists the persistently saturated cores of a host-wide
	// finding.
	Cores []int
	// BusyMean is the core's mean busy percentage over the window (for a
	// host-wide finding, the host's).
	BusyMean float64
	// SoftirqShare is the share (0–1) of the busy time spent in softirq.
	SoftirqShare float64
	// SaturatedShare is the share (0–1) of the window the core was
	// saturated (for a host-wide finding, the least of the saturated
	// cores').
	SaturatedShare float64
	// HostIdle is the idle share (0–1) of the whole host over the window.
	HostIdle float64
	// Shared is true when the core is shared with other hosts, so its
	// figures are machine-wide.
	Shared bool
	// OwnPct is the mean percentage of the core used by this host's own
	// (user) threads; kernel threads may work for any host.
	OwnPct float64
	// Stages lists the stages of the threads that ran on the core, busiest
	// first (for a host-wide finding, on any core).
	Stages []StageShare
	// Summary is one line with the evidence.
	Summary string
}

// StageShare is the CPU a stage's threads used on a core.
type StageShare struct {
	Stage stage.Stage
	Dev   string
	// Pct is the mean percentage of the core the stage used over the
	// window (host-wide: percent of one core, summed over cores).
	Pct float64
	// Shared marks kernel-thread stages (see probes.ThreadSample.Shared).
	Shared bool
	// Threads are the comms of its busiest threads, busiest first.
	Threads []string
}

// minStagePct is the smallest stage share worth listing.
const minStagePct = 0.5

// Detect looks for saturated cores in the samples of tr (see the package
// documentation for the rules); cut tr to the measured window first
// (probes.Trace.Window). host names the host in the findings; empty means
// the trace header's. Detect returns no finding for a healthy window, and
// an error for invalid thresholds or a trace without usable samples.
// Samples with a non-positive length and figures that are not finite (a
// damaged file) are ignored.
func Detect(host string, tr *probes.Trace, th Thresholds, opts DetectOptions) ([]Finding, error) {
	if err := th.Validate(); err != nil {
		return nil, err
	}
	if tr == nil {
		return nil, errors.New("blackhole: no trace")
	}
	if host == "" {
		host = tr.Header.Host
	}
	a := accumulate(tr, th.Saturation)
	if a.dt == 0 {
		return nil, fmt.Errorf("blackhole: trace of %s has no samples with cores", host)
	}
	shared := opts.SharedCores || tr.Header.SharedCores
	hostIdle := clamp01(1 - a.busy/a.dt/100)

	var saturated []int
	for _, c := range a.coreIDs() {
		if ca := a.cores[c]; ca.satDT/ca.dt >= th.Persistence {
			saturated = append(saturated, c)
		}
	}
	if len(saturated) == 0 {
		return nil, nil
	}
	receive := opts.ReceiveSide || opts.Role == "gw2"
	ev := evidence{host: host, th: th, hostIdle: hostIdle, shared: shared, nSat: len(saturated), tunnels: opts.Tunnels}

	if receive && opts.Tunnels == 1 && len(saturated) == 1 {
		return []Finding{ev.core(KindSingleCore, saturated[0], a)}, nil
	}
	if hostIdle < th.Headroom {
		return []Finding{ev.cpuBound(saturated, a)}, nil
	}
	var out []Finding
	for _, c := range saturated {
		kind := KindHotCore
		if a.cores[c].softShare() >= th.SoftirqDominance && opts.Tunnels != 1 {
			kind = KindBlackHole
		}
		out = append(out, ev.core(kind, c, a))
	}
	return out, nil
}

// acc holds the window's sums, each weighted by the sample length.
type acc struct {
	dt    float64 // window length
	busy  float64 // mean busy over cores
	cores map[int]*coreAcc
	// host-wide thread sums
	stages map[stageKey]*stageAcc
}

type coreAcc struct {
	dt, busy, soft, satDT, netRX, own float64
	stages                            map[stageKey]*stageAcc
}

func (c *coreAcc) softShare() float64 {
	if c.busy <= 0 {
		return 0
	}
	return clamp01(c.soft / c.busy)
}

type stageKey struct {
	stage stage.Stage
	dev   string
}

type stageAcc struct {
	pct    float64
	shared bool
	comms  map[string]float64
}

func (s *stageAcc) add(th probes.ThreadSample, w float64) {
	s.pct += th.Pct * w
	s.shared = s.shared || th.Shared
	s.comms[th.Comm] += th.Pct * w
}

// accumulate sums the samples of tr; a core counts as saturated in a sample
// when its busy share reaches level.
func accumulate(tr *probes.Trace, level float64) *acc {
	a := &acc{cores: map[int]*coreAcc{}, stages: map[stageKey]*stageAcc{}}
	for _, s := range tr.Samples {
		w := s.DT
		if !(w > 0) || math.IsInf(w, 0) {
			continue
		}
		n, sum := 0, 0.0
		for _, c := range s.Cores {
			if !finite(c.Busy) || !finite(c.SoftIRQ) {
				continue
			}
			n++
			sum += c.Busy
			ca := a.core(c.Core)
			ca.dt += w
			ca.busy += c.Busy * w
			ca.soft += c.SoftIRQ * w
			ca.netRX += float64(c.NetRX)
			if c.Busy >= level {
				ca.satDT += w
			}
		}
		if n == 0 {
			continue
		}
		a.dt += w
		a.busy += sum / float64(n) * w
		for _, th := range s.Threads {
			if !finite(th.Pct) {
				continue
			}
			k := stageKey{th.Stage, th.Dev}
			ca := a.core(th.Core)
			ca.stage(k).add(th, w)
			if !th.Shared {
				ca.own += th.Pct * w
			}
			if a.stages[k] == nil {
				a.stages[k] = &stageAcc{comms: map[string]float64{}}
			}
			a.stages[k].add(th, w)
		}
	}
	return a
}

func (a *acc) core(n int) *coreAcc {
	c := a.cores[n]
	if c == nil {
		c = &coreAcc{stages: map[stageKey]*stageAcc{}}
		a.cores[n] = c
	}
	return c
}

func (c *coreAcc) stage(k stageKey) *stageAcc {
	s := c.stages[k]
	if s == nil {
		s = &stageAcc{comms: map[string]float64{}}
		c.stages[k] = s
	}
	return s
}

// coreIDs returns the cores that had core samples, in order.
func (a *acc) coreIDs() []int {
	var ids []int
	for id, c := range a.cores {
		if c.dt > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// shares turns stage sums into StageShares, busiest first, dividing by the
// window length dt.
func shares(m map[stageKey]*stageAcc, dt float64) []StageShare {
	var out []StageShare
	for k, s := range m {
		pct := s.pct / dt
		if pct < minStagePct {
			continue
		}
		type cp struct {
			comm string
			pct  float64
		}
		var comms []cp
		for c, p := range s.comms {
			comms = append(comms, cp{c, p})
		}
		slices.SortFunc(comms, func(a, b cp) int { return cmp.Or(cmp.Compare(b.pct, a.pct), strings.Compare(a.comm, b.comm)) })
		ss := StageShare{Stage: k.stage, Dev: k.dev, Pct: round1(pct), Shared: s.shared}
		for i := 0; i < len(comms) && i < 3; i++ {
			ss.Threads = append(ss.Threads, comms[i].comm)
		}
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b StageShare) int {
		return cmp.Or(cmp.Compare(b.Pct, a.Pct), strings.Compare(string(a.Stage), string(b.Stage)), strings.Compare(a.Dev, b.Dev))
	})
	return out
}

// evidence builds findings and their summaries.
type evidence struct {
	host     string
	th       Thresholds
	hostIdle float64
	shared   bool
	nSat     int
	tunnels  int
}

func (e evidence) core(kind string, c int, a *acc) Finding {
	ca := a.cores[c]
	f := Finding{
		Host:           e.host,
		Kind:           kind,
		Core:           c,
		BusyMean:       round1(ca.busy / ca.dt),
		SoftirqShare:   round3(ca.softShare()),
		SaturatedShare: round3(ca.satDT / ca.dt),
		HostIdle:       round3(e.hostIdle),
		Shared:         e.shared,
		OwnPct:         round1(ca.own / ca.dt),
		Stages:         shares(ca.stages, ca.dt),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.host)
	var notes []string
	switch kind {
	case KindBlackHole:
		fmt.Fprintf(&b, "black hole on core %d", c)
		if e.tunnels > 1 {
			notes = append(notes, fmt.Sprintf("%d tunnels", e.tunnels))
		}
	case KindSingleCore:
		fmt.Fprintf(&b, "single-core bottleneck on core %d", c)
		notes = append(notes, "one tunnel, receive side")
	default:
		fmt.Fprintf(&b, "hot core %d", c)
	}
	if e.nSat > 1 {
		notes = append(notes, fmt.Sprintf("one of %d saturated cores", e.nSat))
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
	}
	fmt.Fprintf(&b, ": busy ≥%s%% for %s of the window (mean %s%%), %s of it softirq",
		num(e.th.Saturation), pct(f.SaturatedShare), num(f.BusyMean), pct(f.SoftirqShare))
	if rate := ca.netRX / ca.dt; rate > 0 {
		fmt.Fprintf(&b, " (NET_RX %s/s)", num(math.Round(rate)))
	}
	fmt.Fprintf(&b, "; host %s idle", pct(f.HostIdle))
	if kind == KindSingleCore {
		b.WriteString(", no other core saturated")
	}
	b.WriteString("; ")
	writeStages(&b, f.Stages, "on it")
	if e.shared {
		fmt.Fprintf(&b, "; core shared by all hosts of the local testbed: core and idle figures are machine-wide, %s's own threads used %s%% of it",
			e.host, num(f.OwnPct))
	}
	f.Summary = b.String()
	return f
}

func (e evidence) cpuBound(saturated []int, a *acc) Finding {
	f := Finding{
		Host:           e.host,
		Kind:           KindCPUBound,
		Core:           -1,
		Cores:          saturated,
		BusyMean:       round1(a.busy / a.dt),
		HostIdle:       round3(e.hostIdle),
		Shared:         e.shared,
		Stages:         shares(a.stages, a.dt),
		SaturatedShare: 1,
	}
	var soft, busy, own float64
	for _, ca := range a.cores {
		soft, busy, own = soft+ca.soft, busy+ca.busy, own+ca.own
	}
	for _, c := range saturated {
		ca := a.cores[c]
		f.SaturatedShare = min(f.SaturatedShare, round3(ca.satDT/ca.dt))
	}
	if busy > 0 {
		f.SoftirqShare = round3(clamp01(soft / busy))
	}
	f.OwnPct = round1(own / a.dt)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: cpu-bound: %s busy ≥%s%% for ≥%s of the window and the host only %s idle (< %s headroom), mean busy %s%%, %s of it softirq; ",
		e.host, cpuset.Set(saturated).Words(), num(e.th.Saturation), pct(e.th.Persistence), pct(f.HostIdle), pct(e.th.Headroom), num(f.BusyMean), pct(f.SoftirqShare))
	writeStages(&b, f.Stages, "threads (percent of one core)")
	if e.shared {
		fmt.Fprintf(&b, "; cores shared by all hosts of the local testbed: figures are machine-wide, %s's own threads used %s%% of one core", e.host, num(f.OwnPct))
	}
	f.Summary = b.String()
	return f
}

func writeStages(b *strings.Builder, st []StageShare, label string) {
	if len(st) == 0 {
		fmt.Fprintf(b, "%s: no sampled thread (interrupt and softirq context)", label)
		return
	}
	fmt.Fprintf(b, "%s: ", label)
	for i, s := range st {
		if i == 3 {
			fmt.Fprintf(b, ", +%d more", len(st)-3)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(s.Stage))
		if s.Dev != "" {
			fmt.Fprintf(b, "(%s)", s.Dev)
		}
		fmt.Fprintf(b, " %s%%", num(s.Pct))
		if len(s.Threads) > 0 {
			fmt.Fprintf(b, " [%s]", strings.Join(s.Threads, " "))
		}
	}
}

func clamp01(v float64) float64 { return max(0, min(1, v)) }
func finite(v float64) bool     { return !math.IsNaN(v) && !math.IsInf(v, 0) }
func round1(v float64) float64  { return math.Round(v*10) / 10 }
func round3(v float64) float64  { return math.Round(v*1000) / 1000 }

// num formats a number with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(round1(v), 'f', -1, 64) }

// pct formats a share as a whole percentage.
func pct(v float64) string { return strconv.FormatFloat(math.Round(v*100), 'f', -1, 64) + "%" }
