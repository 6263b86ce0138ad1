package inline

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// hybridState is a hybrid tunnel's machinery: its helpers, its job queue,
// the load its data threads measure and the mode controller. Tunnels in
// inline mode have none.
type hybridState struct {
	home    int
	cores   []int // the other allowed cores, helper i pinned to cores[i]
	helpers []*helper
	jobs    chan job
	txSlots int
	rxSlots int

	active   atomic.Bool  // hybrid now
	injected atomic.Bool  // tests: loads come from the test, not the meters
	threads  []threadLoad // per data thread: TX, then one per RX thread

	// mu guards the controller, the board entry and the change log.
	mu        sync.Mutex
	ctl       modeController
	t0        time.Time // origin of the controller's monotonic times
	lastEval  time.Time
	lastHelp  int64
	published int64 // thousandths of the home core on the board
	changes   uint64
	log       []ModeChange
	// onChange, when set, hears of each change the controller makes and
	// the sample it made it on (the tunnel logs them).
	onChange func(ModeChange, loadSample)
	// onSample, when set, hears of every window the controller decides on
	// (TraceMode).
	onSample func(ModeSample)
	// sys, when set, says how busy a core is whatever runs on it
	// (sysLoad.busy; nil in tests that inject loads: the board alone).
	sys sysLoadFunc
	// helped is the helpers' work (ns, by helper) at recent evaluations,
	// oldest first, to take the tunnel's own borrowing out of sys.
	helped []helpSnap
}

// helpSnap is the work each helper of a tunnel had done by at.
type helpSnap struct {
	at time.Time
	ns []int64
}

// ModeSample is one window a hybrid tunnel's mode controller decided on:
// what it measured and the mode it chose (TraceMode). The loads are in
// cores: Busy is the home core's share its data threads were busy, Full
// the share of reads that returned a full batch, Demand the tunnel's
// whole work (home plus helpers), Others the home loads of the other
// allowed cores on the board, in TunnelConfig.CPUs order.
type ModeSample struct {
	At                 time.Time
	Busy, Full, Demand float64
	// Rate is the packets per second the tunnel's data threads read.
	Rate   float64
	Others []float64
	Lent   []bool
	Mode   Mode
}

// threadLoad is one data thread's latest window: busy and full-batch
// shares in thousandths, and when it ended.
type threadLoad struct {
	busy, full atomic.Int64
	rate       atomic.Int64 // packets read per second
	at         atomic.Int64 // UnixNano of the window's end
}

// helper is a helper thread pinned to a core the tunnel may borrow.
type helper struct {
	cpu    int
	active atomic.Bool
	wake   chan struct{}
	ns     atomic.Int64 // time spent on the tunnel's batches
}

// newHybridState prepares hybrid mode for a tunnel homed on home that may
// borrow the other cores of allowed, with rx receive threads.
//
// The TX pipeline has four batches in flight per thread that may seal
// (up to 16): with two per thread, as at first, threads waited on the
// batch next in line to commit, and one tunnel on 2 cores kept 1.73
// cores busy at 1.55–1.62x inline's Gbit/s (1420 B, bench datapath
// --direction tx); with four it keeps 1.93 busy at 1.66–1.75x. The RX
// pipeline, whose slots hold larger buffers, keeps two per thread (up
// to 4); it was not measured alone.
func newHybridState(home int, allowed []int, rx int) *hybridState {
	h := &hybridState{home: home, threads: make([]threadLoad, 1+rx), t0: time.Now(), sys: sysLoad.busy}
	for _, c := range allowed {
		if c != home && !slices.Contains(h.cores, c) {
			h.cores = append(h.cores, c)
			h.helpers = append(h.helpers, &helper{cpu: c, wake: make(chan struct{}, 1)})
		}
	}
	n := 1 + len(h.cores)
	h.txSlots = min(4*n, 16)
	h.rxSlots = min(2*n, 4)
	h.jobs = make(chan job, h.txSlots+rx*h.rxSlots)
	return h
}

// hybrid reports whether batches are spread now.
func (h *hybridState) hybrid() bool { return h != nil && h.active.Load() }

// loadMeter is one data thread's measurement of a window: its busy time
// and its reads. Busy is the larger of the time spent outside reads and
// the thread's CPU time: a read that waits for packets is idle, but one
// that copies packets out of a TUN that has them (a read syscall, a GSO
// super-packet) is work, and only the CPU clock sees it.
type loadMeter struct {
	h           *hybridState
	idx         int
	start, last time.Time     // window start; end of the last read
	cpu         time.Duration // the thread's CPU time at the window start
	busy        time.Duration
	reads, full int
	packets     int
}

// newMeter returns data thread idx's meter; nil (measuring nothing) when
// the tunnel is not hybrid.
func (h *hybridState) newMeter(idx int) *loadMeter {
	if h == nil {
		return nil
	}
	now := time.Now()
	return &loadMeter{h: h, idx: idx, start: now, last: now, cpu: threadCPUTime()}
}

// now is the time for read when measuring; zero otherwise.
func (m *loadMeter) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// read records a read that began at t0 and returned n of capacity
// packets, and reports the window when it is over.
func (m *loadMeter) read(t0 time.Time, n, capacity int) {
	if m == nil {
		return
	}
	t1 := time.Now()
	m.busy += t0.Sub(m.last)
	m.last = t1
	m.reads++
	m.packets += n
	if n >= capacity {
		m.full++
	}
	w := t1.Sub(m.start)
	if w < hybridWindow || m.h.injected.Load() {
		return
	}
	cpu := threadCPUTime()
	busy := max(m.busy, min(cpu-m.cpu, w))
	m.cpu = cpu
	th := &m.h.threads[m.idx]
	th.busy.Store(int64(1000 * busy / w))
	th.full.Store(int64(1000 * m.full / m.reads))
	th.rate.Store(int64(float64(m.packets) / w.Seconds()))
	th.at.Store(t1.UnixNano())
	m.start, m.busy, m.reads, m.full, m.packets = t1, 0, 0, 0, 0
	m.h.evaluate(t1)
}

// evaluate runs the controller on the threads' latest windows, at most
// once a window; a report of a thread older than two windows counts as
// idle (the thread is blocked reading). A change is logged and kept.
func (h *hybridState) evaluate(now time.Time) {
	if !h.mu.TryLock() {
		return
	}
	defer h.mu.Unlock()
	elapsed := now.Sub(h.lastEval)
	if elapsed < hybridWindow {
		return
	}
	var s loadSample
	for i := range h.threads {
		th := &h.threads[i]
		if now.UnixNano()-th.at.Load() > int64(2*hybridWindow) {
			continue
		}
		s.busy += float64(th.busy.Load()) / 1000
		s.full = max(s.full, float64(th.full.Load())/1000)
		s.rate += float64(th.rate.Load())
	}
	var help int64 // time the helpers spent on the tunnel's batches
	for _, hp := range h.helpers {
		help += hp.ns.Load()
	}
	if !h.lastEval.IsZero() {
		s.demand = s.busy + float64(help-h.lastHelp)/float64(elapsed)
	} else {
		s.demand = s.busy
	}
	h.lastEval, h.lastHelp = now, help
	pub := int64(1000 * min(s.busy, 1))
	board.add(h.home, pub-h.published)
	h.published = pub
	s.others = make([]float64, len(h.cores))
	s.lent = make([]bool, len(h.cores))
	for i, c := range h.cores {
		s.others[i] = max(board.get(c), h.sysOther(i, now))
		s.lent[i] = h.helpers[i].active.Load()
	}
	h.recordHelp(now)
	before := h.ctl.mode
	if before == "" {
		before = ModeInline
	}
	d := h.ctl.step(s, now.Sub(h.t0))
	h.apply(d)
	if h.onSample != nil {
		h.onSample(ModeSample{At: now, Busy: s.busy, Full: s.full, Demand: s.demand, Rate: s.rate,
			Others: s.others, Lent: s.lent, Mode: d.mode})
	}
	if d.mode != before {
		c := ModeChange{At: now, To: d.mode}
		for i, on := range d.lent {
			if on {
				c.Cores = append(c.Cores, h.cores[i])
			}
		}
		h.changes++
		h.log = append(h.log, c)
		if len(h.log) > maxModeChanges {
			h.log = slices.Delete(h.log, 0, len(h.log)-maxModeChanges)
		}
		if h.onChange != nil {
			h.onChange(c, s)
		}
	}
}

// sysOther is how busy other cores[i] was lately with anything but this
// tunnel's helper on it, by h.sys (0 when not known). The caller holds
// h.mu.
func (h *hybridState) sysOther(i int, now time.Time) float64 {
	if h.sys == nil {
		return 0
	}
	busy, since, ok := h.sys(h.cores[i], now)
	if !ok {
		return 0
	}
	// The helper's work over the same span, from the latest record at
	// or before its start (the oldest when none is).
	var from *helpSnap
	for j := range h.helped {
		if j == 0 || !h.helped[j].at.After(since) {
			from = &h.helped[j]
		}
	}
	own := 0.0
	if from != nil && now.After(from.at) {
		own = float64(h.helpers[i].ns.Load()-from.ns[i]) / float64(now.Sub(from.at))
	}
	return max(busy-min(own, 1), 0)
}

// recordHelp keeps the helpers' work at now for sysOther, dropping
// records older than the meter looks back. The caller holds h.mu.
func (h *hybridState) recordHelp(now time.Time) {
	if h.sys == nil {
		return
	}
	keep := h.helped[:0]
	for _, r := range h.helped {
		if now.Sub(r.at) <= sysMaxSpan*hybridWindow {
			keep = append(keep, r)
		}
	}
	r := helpSnap{at: now, ns: make([]int64, len(h.helpers))}
	for i, hp := range h.helpers {
		r.ns[i] = hp.ns.Load()
	}
	h.helped = append(keep, r)
}

// apply lends the cores d says, waking their helpers, and sets the mode.
// The caller holds h.mu.
func (h *hybridState) apply(d modeDecision) {
	for i, hp := range h.helpers {
		on := d.mode == ModeHybrid && d.lent[i]
		if hp.active.Swap(on) != on {
			select {
			case hp.wake <- struct{}{}:
			default:
			}
		}
	}
	h.active.Store(d.mode == ModeHybrid)
}

// force switches to mode m now, lending every other core for hybrid
// (tests: switching under load without waiting for the load rule).
func (h *hybridState) force(m Mode, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := modeDecision{mode: m, lent: make([]bool, len(h.cores))}
	for i := range d.lent {
		d.lent[i] = m == ModeHybrid
	}
	if h.ctl.mode == "" {
		h.ctl.mode = ModeInline
	}
	if h.ctl.mode != m {
		h.ctl.mode, h.ctl.since, h.ctl.up, h.ctl.down = m, now.Sub(h.t0), 0, 0
		c := ModeChange{At: now, To: m}
		if m == ModeHybrid {
			c.Cores = slices.Clone(h.cores)
		}
		h.changes++
		h.log = append(h.log, c)
	}
	h.apply(d)
}

// close takes the tunnel's load off the board.
func (h *hybridState) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	board.add(h.home, -h.published)
	h.published = 0
}

// snapshot returns the current mode, the number of changes and the
// latest ones.
func (h *hybridState) snapshot() (Mode, uint64, []ModeChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := ModeInline
	if h.active.Load() {
		m = ModeHybrid
	}
	return m, h.changes, slices.Clone(h.log)
}

// run does j, counting its time as the helper's.
func (hp *helper) run(j job) {
	t0 := time.Now()
	j.run()
	hp.ns.Add(int64(time.Since(t0)))
}

// helperLoop is a helper thread: pinned to its core, it does the
// tunnel's queued batches while the core is lent, and sleeps otherwise
// (taking the batches queued before it was stopped, so none waits).
func (t *Tunnel) helperLoop(hp *helper, started chan<- error) {
	defer t.wg.Done()
	if err := lockThread(threadName(t.name), hp.cpu); err != nil {
		started <- err
		return
	}
	started <- nil
	h := t.hyb
	for {
		if !hp.active.Load() {
			select {
			case j := <-h.jobs:
				hp.run(j)
				continue
			default:
			}
			select {
			case <-hp.wake:
			case <-t.done:
				return
			}
			continue
		}
		select {
		case j := <-h.jobs:
			hp.run(j)
		case <-hp.wake:
		case <-t.done:
			return
		}
	}
}
