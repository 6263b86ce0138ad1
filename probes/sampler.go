package probes

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wgbench/wgbench/probes/procfs"
	"github.com/wgbench/wgbench/probes/stage"
)

// DefaultInterval is the default sampling interval (4 Hz).
const DefaultInterval = 250 * time.Millisecond

// userHZ is the unit of the kernel's per-task tick counters (USER_HZ, 100 on
// every architecture Linux exports to user space). It is only used when the
// per-core counters cannot give the elapsed ticks.
const userHZ = 100

// Options configures a Sampler. The zero value samples /proc for the
// processes of the sampler's own network namespace.
type Options struct {
	// Root is the procfs root; empty means /proc.
	Root string
	// Host names the host in the trace header (gw1, gw2).
	Host string
	// PIDs, when set, restricts user threads to these processes.
	PIDs []int
	// AllNamespaces samples every process, whatever its network
	// namespace. It cannot be combined with PIDs.
	AllNamespaces bool
	// NetNSOf picks the namespace to sample by a process in it; 0 means
	// the sampler's own (<root>/self).
	NetNSOf int
	// Stages names the stage of datapath processes by PID (see
	// stage.Classifier.PIDs).
	Stages map[int]stage.Stage
	// Devices, when set, keeps only the napi and wg-crypt kernel threads
	// of these devices (on a shared machine, this host's tunnels) and
	// completes device names the comm limit cut short. Kernel threads
	// name a device, not its namespace: on a shared machine, tunnel
	// devices need names unique across hosts (gw1-t0, gw2-t0 rather than
	// wg0 twice) for this to tell hosts apart.
	Devices []string
	// SharedCores is recorded in the header: this host shares the
	// machine's cores with others (the local testbed).
	SharedCores bool
}

// Sampler takes per-core and per-thread CPU samples from procfs. It is not
// safe for concurrent use; Run may be called again after it returns.
type Sampler struct {
	opts      Options
	r         *procfs.Reader
	cls       stage.Classifier
	selection string
	netns     uint64
	pidSet    map[int]bool
	devSet    map[string]bool

	start, last time.Time
	prevCPU     map[int]procfs.CPUTimes
	cur, prev   procfs.NetSoftirqs
	procs       map[int]*procEntry // by PID
	gen         uint64

	// scratch
	cpus  []procfs.CPUTimes
	pids  []int
	tids  []int
	stats []procfs.TaskStat
}

type tickEntry struct {
	ticks uint64
	gen   uint64
}

type procKind int

const (
	kindSkip   procKind = iota // not sampled
	kindKernel                 // a kernel thread of a tracked stage
	kindUser                   // a selected user process
)

type procEntry struct {
	kind    procKind
	gen     uint64
	recheck int // namespace checks still to repeat
	// total is the process's ticks when last read; its threads are only
	// read again when it grows.
	total  uint64
	loaded bool
	// ticks holds the tick baseline of each thread, by TID.
	ticks map[int]tickEntry
	// stat is the process's stat file, kept open while it is watched.
	stat *procfs.File
	// For a single-threaded process (or kernel thread), its schedstat
	// file and the runtime it last showed: a cheaper test of whether it
	// ran. noSched is set when the file is missing or reads zero.
	single  bool
	sched   *procfs.File
	runtime uint64
	noSched bool
}

func (e *procEntry) close() {
	e.stat.Close()
	e.sched.Close()
	e.stat, e.sched = nil, nil
}

// recheckSamples is how many samples after a process is first seen its
// network namespace is checked again: `ip netns exec` and friends switch
// namespace right after the process starts.
const recheckSamples = 2

// NewSampler checks opts and returns a Sampler.
func NewSampler(opts Options) (*Sampler, error) {
	if len(opts.PIDs) > 0 && opts.AllNamespaces {
		return nil, errors.New("probes: Options.PIDs and Options.AllNamespaces exclude each other")
	}
	s := &Sampler{
		opts: opts,
		r:    procfs.New(opts.Root),
		cls:  stage.Classifier{PIDs: opts.Stages, Devices: opts.Devices},
	}
	switch {
	case len(opts.PIDs) > 0:
		s.selection = SelectPIDs
		s.pidSet = make(map[int]bool, len(opts.PIDs))
		for _, p := range opts.PIDs {
			s.pidSet[p] = true
		}
	case opts.AllNamespaces:
		s.selection = SelectAll
	default:
		s.selection = SelectNetNS
		ns, err := s.r.NetNS(opts.NetNSOf)
		if err != nil {
			return nil, fmt.Errorf("probes: network namespace to sample: %w", err)
		}
		s.netns = ns
	}
	if len(opts.Devices) > 0 {
		s.devSet = make(map[string]bool, len(opts.Devices))
		for _, d := range opts.Devices {
			s.devSet[d] = true
		}
	}
	return s, nil
}

// Run writes a trace of JSON lines to w: a header, then a sample every
// interval until ctx is done. Each line goes out in one Write, so a file
// cut short by a kill keeps every complete sample. When ctx ends at least
// half an interval after the last sample, a last, shorter sample covers
// the rest. Run returns nil when ctx ends, and an error when procfs cannot
// be read or w fails.
func (s *Sampler) Run(ctx context.Context, interval time.Duration, w io.Writer) error {
	if interval <= 0 {
		return fmt.Errorf("probes: sampling interval %v: must be positive", interval)
	}
	defer s.closeFiles()
	if err := s.baseline(time.Now()); err != nil {
		return err
	}
	var buf bytes.Buffer
	h := s.header(interval)
	if err := writeRecord(w, record{Header: &h}, &buf); err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if time.Since(s.last) < interval/2 {
				return nil
			}
			return s.emit(time.Now(), w, &buf)
		case now := <-tick.C:
			if err := s.emit(now, w, &buf); err != nil {
				return err
			}
		}
	}
}

func (s *Sampler) emit(now time.Time, w io.Writer, buf *bytes.Buffer) error {
	smp, err := s.sample(now)
	if err != nil {
		return err
	}
	return writeRecord(w, record{Sample: &smp}, buf)
}

func (s *Sampler) header(interval time.Duration) Header {
	return Header{
		Version:         TraceVersion,
		Host:            s.opts.Host,
		Start:           s.start,
		IntervalSeconds: interval.Seconds(),
		CPUs:            len(s.prevCPU),
		Selection:       s.selection,
		NetNS:           s.netns,
		SharedCores:     s.opts.SharedCores,
	}
}

// baseline resets the sampler and takes the first snapshot, against which
// the first sample is computed.
func (s *Sampler) baseline(now time.Time) error {
	s.closeFiles()
	s.prevCPU = make(map[int]procfs.CPUTimes)
	s.procs = make(map[int]*procEntry)
	s.cur, s.prev = procfs.NetSoftirqs{}, procfs.NetSoftirqs{}
	s.start, s.last = now, now
	_, err := s.sample(now)
	return err
}

// sample reads procfs and returns the interval since the previous call.
func (s *Sampler) sample(now time.Time) (Sample, error) {
	dt := now.Sub(s.last).Seconds()
	out := Sample{T: round(now.Sub(s.start).Seconds(), 1000), DT: round(dt, 1000)}
	s.last = now

	var err error
	if s.cpus, err = s.r.CPUStat(s.cpus[:0]); err != nil {
		return out, err
	}
	if s.cur, err = s.r.Softirqs(s.cur); err != nil {
		return out, err
	}
	var sumTicks uint64
	n := 0
	for _, c := range s.cpus {
		p, ok := s.prevCPU[c.CPU]
		s.prevCPU[c.CPU] = c
		if !ok {
			continue
		}
		cs, total := corePct(p, c)
		cs.NetRX = delta32(s.prev.RX, s.cur.RX, c.CPU)
		cs.NetTX = delta32(s.prev.TX, s.cur.TX, c.CPU)
		out.Cores = append(out.Cores, cs)
		sumTicks += total
		n++
	}
	s.cur, s.prev = s.prev, s.cur

	// Elapsed ticks of one core, from the per-core counters rather than
	// the wall clock, so per-thread and per-core figures share a scale.
	perCore := dt * userHZ
	if n > 0 && sumTicks > 0 {
		perCore = float64(sumTicks) / float64(n)
	}
	out.Threads, err = s.threads(perCore)
	return out, err
}

// corePct turns two snapshots of a core into percentages and returns the
// ticks elapsed.
func corePct(p, c procfs.CPUTimes) (CoreSample, uint64) {
	d := func(a, b uint64) uint64 { // counters such as iowait can step back
		if b < a {
			return 0
		}
		return b - a
	}
	user := d(p.User, c.User) + d(p.Nice, c.Nice)
	sys, idle, iow := d(p.System, c.System), d(p.Idle, c.Idle), d(p.IOWait, c.IOWait)
	irq, soft, steal := d(p.IRQ, c.IRQ), d(p.SoftIRQ, c.SoftIRQ), d(p.Steal, c.Steal)
	total := user + sys + idle + iow + irq + soft + steal
	cs := CoreSample{Core: c.CPU}
	if total == 0 {
		cs.Idle = 100
		return cs, 0
	}
	pct := func(v uint64) float64 { return round(float64(v)*100/float64(total), 100) }
	cs.User, cs.System, cs.SoftIRQ, cs.IRQ = pct(user), pct(sys), pct(soft), pct(irq)
	cs.IOWait, cs.Steal, cs.Idle = pct(iow), pct(steal), pct(idle)
	cs.Busy = pct(user + sys + soft + irq + steal)
	return cs, total
}

// delta32 returns the growth of a 32-bit kernel counter of core cpu.
func delta32(prev, cur []uint64, cpu int) uint64 {
	if cpu >= len(prev) || cpu >= len(cur) {
		return 0
	}
	return uint64(uint32(cur[cpu] - prev[cpu]))
}

func round(v, scale float64) float64 { return math.Round(v*scale) / scale }

// threads walks the process list and returns the selected threads that used
// CPU since the previous sample. perCore is the ticks one core had in the
// interval.
func (s *Sampler) threads(perCore float64) ([]ThreadSample, error) {
	s.gen++
	var err error
	if s.pids, err = s.r.PIDs(s.pids[:0]); err != nil {
		return nil, fmt.Errorf("probes: list processes: %w", err)
	}
	var out []ThreadSample
	for _, pid := range s.pids {
		e := s.procs[pid]
		if e == nil || e.recheck > 0 {
			if e = s.lookup(pid, e); e == nil {
				continue // gone, or unreadable this time
			}
			s.procs[pid] = e
		}
		e.gen = s.gen
		if e.kind == kindSkip {
			continue
		}
		if e.single && !s.ran(e, pid) {
			continue
		}
		// One read tells whether any thread of the process ran: its
		// ticks include those of its threads, living and dead.
		pst, err := s.readProcess(e, pid)
		if err != nil {
			// Exited: forget it, so a process reusing the PID is
			// looked up afresh.
			e.close()
			delete(s.procs, pid)
			continue
		}
		e.single = e.kind == kindKernel || pst.Threads == 1
		total := pst.UTime + pst.STime
		if e.loaded && total == e.total {
			continue // no thread ran, and a kworker's comm is as before
		}
		e.total, e.loaded = total, true
		if e.kind == kindKernel || pst.Threads == 1 {
			// A kernel thread, or a single-threaded process: the
			// process line is the thread's.
			out = s.thread(out, e, pid, pst.Comm, pst, e.kind == kindKernel, perCore)
			e.prune(s.gen)
			continue
		}
		if s.tids, err = s.r.TIDs(pid, s.tids[:0]); err != nil {
			continue
		}
		s.stats = s.stats[:0]
		leader := pst.Comm
		for _, tid := range s.tids {
			st, err := s.r.TaskStat(pid, tid)
			if err != nil {
				continue // the thread exited
			}
			s.stats = append(s.stats, st)
		}
		for _, st := range s.stats {
			out = s.thread(out, e, pid, leader, st, false, perCore)
		}
		e.prune(s.gen)
	}
	maps.DeleteFunc(s.procs, func(_ int, e *procEntry) bool {
		if e.gen != s.gen {
			e.close()
			return true
		}
		return false
	})
	slices.SortFunc(out, func(a, b ThreadSample) int {
		return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.TID, b.TID))
	})
	return out, nil
}

// readProcess reads the stat file of a watched process, through a file kept
// open (when the descriptor limit allows).
func (s *Sampler) readProcess(e *procEntry, pid int) (procfs.TaskStat, error) {
	if e.stat == nil {
		f, err := s.r.OpenProcessStat(pid)
		if err != nil {
			return s.r.ProcessStat(pid)
		}
		e.stat = f
	}
	return s.r.ReadStat(e.stat)
}

// ran reports whether a single-threaded process (or kernel thread) may
// have run since it was last read, from its schedstat runtime. It errs on
// the side of yes: without a usable schedstat the stat file decides.
func (s *Sampler) ran(e *procEntry, pid int) bool {
	if e.noSched {
		return true
	}
	if e.sched == nil {
		f, err := s.r.OpenSchedstat(pid)
		if err != nil {
			e.noSched = true
			return true
		}
		e.sched = f
	}
	rt, err := s.r.ReadRuntime(e.sched)
	if err != nil || rt == 0 {
		e.noSched = err == nil // reads zero: schedstat not maintained
		e.sched.Close()
		e.sched = nil
		return true
	}
	if rt == e.runtime {
		return false
	}
	e.runtime = rt
	return true
}

// closeFiles closes the files kept open.
func (s *Sampler) closeFiles() {
	for _, e := range s.procs {
		e.close()
	}
	s.r.Close()
}

// prune drops the baselines of threads that were not read at generation
// gen: they exited.
func (e *procEntry) prune(gen uint64) {
	maps.DeleteFunc(e.ticks, func(_ int, t tickEntry) bool { return t.gen != gen })
}

// lookup decides whether process pid is sampled. old is its entry when the
// namespace check is being repeated; it keeps its tick baselines.
func (s *Sampler) lookup(pid int, old *procEntry) *procEntry {
	if old != nil && old.kind == kindKernel {
		return old
	}
	st, err := s.r.ProcessStat(pid)
	if err != nil {
		return nil
	}
	e := old
	if e == nil {
		e = &procEntry{recheck: recheckSamples + 1}
	}
	e.kind = kindSkip
	e.single = st.Kernel() || st.Threads == 1
	e.close() // reopened if the process stays watched
	if st.Kernel() {
		e.recheck = 0
		l := s.cls.Classify(stage.Thread{PID: pid, ProcComm: st.Comm, Comm: st.Comm, Kernel: true})
		// A pool kworker's comm follows the workqueue it last served,
		// so every one is watched. Rescuers (kworker/R-<workqueue>)
		// serve one workqueue for life and keep its name.
		if l.Stage != stage.Other || strings.HasPrefix(st.Comm, "kworker/") && !strings.HasPrefix(st.Comm, "kworker/R-") {
			e.kind = kindKernel
		}
		return e
	}
	switch s.selection {
	case SelectAll:
		e.kind, e.recheck = kindUser, 0
	case SelectPIDs:
		e.recheck = 0
		if s.pidSet[pid] {
			e.kind = kindUser
		}
	case SelectNetNS:
		e.recheck--
		if ns, err := s.r.NetNS(pid); err == nil && ns == s.netns {
			e.kind = kindUser
		}
	}
	return e
}

// thread updates the tick baseline of one thread and, when it used CPU and
// belongs to the trace, appends its row.
func (s *Sampler) thread(out []ThreadSample, e *procEntry, pid int, procComm string, st procfs.TaskStat, kernel bool, perCore float64) []ThreadSample {
	ticks := st.UTime + st.STime
	if e.ticks == nil {
		e.ticks = make(map[int]tickEntry, 1)
	}
	prev, ok := e.ticks[st.ID]
	e.ticks[st.ID] = tickEntry{ticks: ticks, gen: s.gen}
	if !ok || ticks <= prev.ticks || perCore <= 0 {
		return out
	}
	l := s.cls.Classify(stage.Thread{PID: pid, ProcComm: procComm, Comm: st.Comm, Kernel: kernel})
	if kernel {
		if l.Stage == stage.Other {
			return out // a kworker busy with other work
		}
		if s.devSet != nil && l.Dev != "" && !s.devSet[l.Dev] {
			return out // another host's (or an untracked) device
		}
	}
	return append(out, ThreadSample{
		PID:    pid,
		TID:    st.ID,
		Comm:   st.Comm,
		Stage:  l.Stage,
		Dev:    l.Dev,
		Core:   st.Processor,
		Pct:    round(float64(ticks-prev.ticks)*100/perCore, 100),
		Shared: kernel,
	})
}
