package inline

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgbench/wgbench/datapath/inline/internal/memnet"
)

// TestModeController drives the switching rule with made-up windows.
func TestModeController(t *testing.T) {
	busy := loadSample{busy: 0.95, full: 0.8, demand: 0.95, others: []float64{0.05}}
	busyOtherBusy := loadSample{busy: 0.95, full: 0.8, demand: 0.95, others: []float64{0.30}}
	notFull := loadSample{busy: 0.95, full: 0.2, demand: 0.95, others: []float64{0}}
	hot := loadSample{busy: 0.7, full: 0.9, demand: 1.6, others: []float64{0.1}, lent: []bool{true}}
	quiet := loadSample{busy: 0.2, full: 0, demand: 0.4, others: []float64{0.1}, lent: []bool{true}}
	middling := loadSample{busy: 0.5, full: 0.3, demand: 0.7, others: []float64{0.1}, lent: []bool{true}}
	needed := loadSample{busy: 0.7, full: 0.9, demand: 1.6, others: []float64{0.5}, lent: []bool{true}}
	crowded := loadSample{busy: 0.7, full: 0.9, demand: 1.6, others: []float64{0.45}, lent: []bool{true}}
	rep := func(s loadSample, n int) []loadSample { return slices.Repeat([]loadSample{s}, n) }
	for _, tc := range []struct {
		name    string
		samples []loadSample
		want    []Mode // after each sample; shorter means the rest repeat the last
	}{
		{"saturated with an idle core: up after 3 windows", rep(busy, 3),
			[]Mode{ModeInline, ModeInline, ModeHybrid}},
		{"the other core is not idle enough: stays inline (fairness)", rep(busyOtherBusy, 10), []Mode{ModeInline}},
		{"busy but no backlog: stays inline", rep(notFull, 10), []Mode{ModeInline}},
		{"busier still without full batches (a GSO TUN): up", rep(loadSample{busy: 0.98, full: 0.1, demand: 0.98, others: []float64{0}}, 3),
			[]Mode{ModeInline, ModeInline, ModeHybrid}},
		{"a busy streak broken starts over", append(append(rep(busy, 2), notFull), rep(busy, 3)...),
			[]Mode{ModeInline, ModeInline, ModeInline, ModeInline, ModeInline, ModeHybrid}},
		{"hybrid while hot", append(rep(busy, 3), rep(hot, 20)...), append(rep3(ModeInline, 2), ModeHybrid)},
		{"load falls: down after 10 quiet windows, not before",
			append(append(rep(busy, 3), rep(hot, 10)...), rep(quiet, 10)...),
			append(append(rep3(ModeInline, 2), rep3(ModeHybrid, 20)...), ModeInline)},
		{"middling load keeps hybrid (hysteresis)", append(append(rep(busy, 3), rep(hot, 10)...), rep(middling, 30)...),
			append(rep3(ModeInline, 2), ModeHybrid)},
		{"another tunnel needs the core: down at once",
			append(append(rep(busy, 3), rep(hot, 10)...), needed),
			append(append(rep3(ModeInline, 2), rep3(ModeHybrid, 11)...), ModeInline)},
		{"hybrid that pays (rate 1.3x the busy windows') stays",
			append(rep(withRate(busy, 1000), 3), rep(withRate(hot, 1300), 30)...),
			append(rep3(ModeInline, 2), ModeHybrid)},
		{"hybrid that does not pay (0.8x) goes back after the settling and paying windows",
			append(rep(withRate(busy, 1000), 3), rep(withRate(hot, 800), hybridPaySettle+hybridPayWindows)...),
			append(append(rep3(ModeInline, 2), rep3(ModeHybrid, hybridPaySettle+hybridPayWindows)...), ModeInline)},
		{"a gain under 5 % does not pay either",
			append(rep(withRate(busy, 1000), 3), rep(withRate(hot, 1040), hybridPaySettle+hybridPayWindows)...),
			append(append(rep3(ModeInline, 2), rep3(ModeHybrid, hybridPaySettle+hybridPayWindows)...), ModeInline)},
		{"slow settling windows do not count against hybrid",
			append(append(rep(withRate(busy, 1000), 3), rep(withRate(hot, 100), hybridPaySettle)...), rep(withRate(hot, 1200), 30)...),
			append(rep3(ModeInline, 2), ModeHybrid)},
		{"a borrowed core between the thresholds is kept (hysteresis)",
			append(append(rep(busy, 3), rep(hot, 10)...), rep(crowded, 5)...),
			append(rep3(ModeInline, 2), ModeHybrid)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c modeController
			now := time.Duration(0)
			for i, s := range tc.samples {
				now += hybridWindow * 10 // past the dwell time at every step
				d := c.step(s, now)
				want := tc.want[min(i, len(tc.want)-1)]
				if d.mode != want {
					t.Fatalf("window %d: mode %s, want %s", i, d.mode, want)
				}
				if d.mode == ModeHybrid && !slices.Contains(d.lent, true) {
					t.Fatalf("window %d: hybrid without a lent core", i)
				}
			}
		})
	}
}

// withRate is s with a packet rate.
func withRate(s loadSample, rate float64) loadSample {
	s.rate = rate
	return s
}

// rep3 is n copies of m.
func rep3(m Mode, n int) []Mode { return slices.Repeat([]Mode{m}, n) }

// TestModeControllerDwell checks that no switch follows another within
// hybridMinDwell.
func TestModeControllerDwell(t *testing.T) {
	var c modeController
	busy := loadSample{busy: 1, full: 1, demand: 1, others: []float64{0}}
	now := time.Duration(0)
	for range hybridUpWindows {
		now += hybridWindow
		c.step(busy, now)
	}
	if c.mode != ModeHybrid {
		t.Fatalf("mode %s after %d busy windows, want hybrid", c.mode, hybridUpWindows)
	}
	quiet := loadSample{demand: 0.1, others: []float64{0}, lent: []bool{true}}
	steps := 0
	for c.mode == ModeHybrid {
		now += hybridWindow
		c.step(quiet, now)
		steps++
	}
	if got := time.Duration(steps) * hybridWindow; steps < hybridDownWindows || got < hybridMinDwell {
		t.Errorf("back to inline after %d windows (%v), want ≥ %d and ≥ %v", steps, got, hybridDownWindows, hybridMinDwell)
	}
}

// TestModeControllerBackoff checks that a tunnel sent back to inline by
// a busy neighbour waits longer each time before borrowing again, and
// that a return for low load resets the wait.
func TestModeControllerBackoff(t *testing.T) {
	var c modeController
	busy := loadSample{busy: 1, full: 1, demand: 1, others: []float64{0}}
	needed := loadSample{busy: 1, full: 1, demand: 2, others: []float64{0.6}, lent: []bool{true}}
	quiet := loadSample{demand: 0.1, others: []float64{0}, lent: []bool{true}}
	now := time.Duration(0)
	// upAfter feeds busy windows until the tunnel borrows and returns how
	// long inline lasted.
	upAfter := func() time.Duration {
		t0 := now
		for c.mode != ModeHybrid {
			now += hybridWindow
			c.step(busy, now)
			if now-t0 > time.Minute {
				t.Fatal("never went hybrid")
			}
		}
		return now - t0
	}
	upAfter()
	var waits []time.Duration
	for range 3 {
		now += hybridWindow
		c.step(needed, now)
		if c.mode != ModeInline {
			t.Fatal("kept a needed core")
		}
		waits = append(waits, upAfter())
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < 2*waits[i-1]-hybridWindow {
			t.Errorf("waits %v: want each about twice the one before", waits)
		}
	}
	for c.mode == ModeHybrid {
		now += hybridWindow
		c.step(quiet, now)
	}
	if w := upAfter(); w > hybridMinDwell+hybridWindow {
		t.Errorf("after a return for low load the tunnel waited %v, want about %v", w, hybridMinDwell)
	}
}

// TestPipelineOrder commits batches worked on by many threads in random
// order strictly in submission order.
func TestPipelineOrder(t *testing.T) {
	jobs := make(chan job, 8)
	done := make(chan struct{})
	var committed []int
	p := newPipeline(8, func() int { return 0 }, jobs, done,
		func(v *int) {
			for range rand.IntN(2000) { // uneven work, so batches finish out of order
				runtime.Gosched()
			}
		},
		func(v *int) { committed = append(committed, *v) }) // under the pipeline's lock
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case j := <-jobs:
					j.run()
				case <-done:
					return
				}
			}
		})
	}
	const n = 2000
	for i := range n {
		s := p.acquire()
		s.val = i
		if i%7 == 3 {
			p.release(s) // nothing to send: takes no sequence number
			continue
		}
		p.submit(s)
	}
	if !p.drain() {
		t.Fatal("drain: closed")
	}
	close(done)
	wg.Wait()
	var want []int
	for i := range n {
		if i%7 != 3 {
			want = append(want, i)
		}
	}
	if !slices.Equal(committed, want) {
		t.Fatalf("committed %d batches out of order or lost (first: %v)", len(committed), committed[:min(20, len(committed))])
	}
}

// twoCPUs returns two cores this process may use, or skips.
func twoCPUs(t *testing.T) []int {
	t.Helper()
	cpus, err := AllowedCPUs()
	if err != nil || len(cpus) < 2 {
		t.Skipf("hybrid mode needs two cores (have %v, %v)", cpus, err)
	}
	return cpus[:2]
}

// hybridEnd makes end a a hybrid tunnel homed on cpus[0] that may borrow
// cpus[1].
func hybridEnd(a *end, cpus []int) {
	a.cfg.Mode, a.cfg.Pinned, a.cfg.CPU, a.cfg.CPUs = ModeHybrid, true, cpus[0], cpus
}

// seqPacket is an IPv4/UDP packet from src to dst of size bytes carrying
// sequence number i.
func seqPacket(src, dst netip.Addr, size int, i uint32) []byte {
	p := udpPacket(size, src, dst)
	binary.BigEndian.PutUint32(p[28:], i)
	return p
}

// collectSeq reads n packets from ch and returns their sequence numbers
// in arrival order.
func collectSeq(t *testing.T, ch <-chan []byte, n int) []uint32 {
	t.Helper()
	out := make([]uint32, 0, n)
	for len(out) < n {
		select {
		case p := <-ch:
			out = append(out, binary.BigEndian.Uint32(p[28:]))
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d packets arrived", len(out), n)
		}
	}
	return out
}

// inOrder reports the first position where seqs is not 0, 1, 2, …
func inOrder(seqs []uint32) int {
	for i, s := range seqs {
		if s != uint32(i) {
			return i
		}
	}
	return -1
}

// TestHybridOrderingWireGuardGo sends through a hybrid tunnel whose mode
// is switched back and forth while batches are in flight, both ways,
// against a reference wireguard-go peer: every packet arrives, in order,
// and the counters on the wire never repeat or go back.
func TestHybridOrderingWireGuardGo(t *testing.T) {
	cpus := twoCPUs(t)
	n, a, b := newMixedPair(t, 32, false, func(a *end) { hybridEnd(a, cpus) })
	injectLoads(a.tunnel.hyb)
	var (
		mu       sync.Mutex
		counters []uint64
	)
	n.SetTap(func(from, to netip.AddrPort, p []byte) bool {
		if from == underA && len(p) >= transportHeaderSize && messageType(p) == msgTransport {
			mu.Lock()
			counters = append(counters, binary.LittleEndian.Uint64(p[8:]))
			mu.Unlock()
		}
		return true
	})
	exchange(t, a, b, 0, 1) // the session

	const batches, per = 300, 32
	send := func(in chan<- [][]byte, src, dst netip.Addr) {
		for i := range batches {
			if i%10 == 0 {
				m := ModeHybrid
				if i%20 == 10 {
					m = ModeInline
				}
				a.tunnel.hyb.force(m, time.Now())
			}
			batch := make([][]byte, per)
			for j := range batch {
				batch[j] = seqPacket(src, dst, 200+j*37, uint32(i*per+j))
			}
			in <- batch
		}
	}

	t.Run("inline to wireguard-go", func(t *testing.T) {
		mu.Lock()
		counters = counters[:0]
		mu.Unlock()
		go send(a.tun.In, addrA, addrB)
		got := collectSeq(t, b.tun.Out, batches*per)
		if i := inOrder(got); i >= 0 {
			t.Fatalf("packet %d arrived as %d: reordered", i, got[i])
		}
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i < len(counters); i++ {
			if counters[i] <= counters[i-1] {
				t.Fatalf("wire counter %d after %d: nonce reused or reordered", counters[i], counters[i-1])
			}
		}
	})
	t.Run("wireguard-go to inline", func(t *testing.T) {
		replays := a.tunnel.Stats().Drops[DropReplay]
		go send(b.tun.In, addrB, addrA)
		got := collectSeq(t, a.tun.Out, batches*per)
		if i := inOrder(got); i >= 0 {
			t.Fatalf("packet %d delivered as %d: reordered", i, got[i])
		}
		if d := a.tunnel.Stats().Drops[DropReplay] - replays; d != 0 {
			t.Errorf("%d replay drops", d)
		}
	})
	st := a.tunnel.Stats()
	if st.Mode != ModeHybrid || st.ModeChanges < 2*batches/10-2 || len(st.ModeLog) == 0 {
		t.Errorf("stats: mode %s, %d changes, log %v", st.Mode, st.ModeChanges, st.ModeLog)
	}
}

// injectLoad sets every data thread's latest window of h to busy and
// full (shares) at now and evaluates.
func injectLoad(h *hybridState, busy, full float64, now time.Time) {
	for i := range h.threads {
		th := &h.threads[i]
		b := 0.0
		if i == 0 {
			b = busy
		}
		th.busy.Store(int64(1000 * b))
		th.full.Store(int64(1000 * full))
		th.at.Store(now.UnixNano())
	}
	h.evaluate(now)
}

// loadCore puts load (a share) on cpu's board entry for the test's
// length.
func loadCore(t *testing.T, cpu int, load float64) {
	d := int64(1000 * load)
	board.add(cpu, d)
	t.Cleanup(func() { board.add(cpu, -d) })
}

// TestHybridSwitchUnderLoad switches a tunnel carrying traffic by the
// real rule, fed with load windows: up when its core saturates with the
// other idle, down at once when another tunnel needs that core, up
// again, and down when the load falls; every packet arrives in order.
func TestHybridSwitchUnderLoad(t *testing.T) {
	cpus := twoCPUs(t)
	_, a, b := newInlinePair(t, 32, func(a, _ *end) { hybridEnd(a, cpus) })
	h := a.tunnel.hyb
	injectLoads(h)
	a.send(ping(addrB, addrA, 0))
	expectPacket(t, b.tun.Out, ping(addrB, addrA, 0), "first packet")

	now := time.Now()
	step := func() time.Time { now = now.Add(hybridMinDwell); return now }
	var (
		sent    uint32
		arrived = make(chan []uint32, 1)
	)
	const total = 40 * 32
	go func() {
		seqs := make([]uint32, 0, total)
		for len(seqs) < total {
			select {
			case p := <-b.tun.Out:
				seqs = append(seqs, binary.BigEndian.Uint32(p[28:]))
			case <-time.After(10 * time.Second):
				arrived <- seqs
				return
			}
		}
		arrived <- seqs
	}()
	traffic := func(batches int) {
		for range batches {
			batch := make([][]byte, 32)
			for j := range batch {
				batch[j] = seqPacket(addrA, addrB, 1000, sent)
				sent++
			}
			a.tun.In <- batch
		}
	}
	expect := func(want Mode, what string) {
		t.Helper()
		if got := a.tunnel.mode(); got != want {
			t.Fatalf("%s: mode %s, want %s", what, got, want)
		}
	}
	traffic(5)
	for range hybridUpWindows {
		injectLoad(h, 0.97, 0.9, step())
	}
	expect(ModeHybrid, "saturated, other core idle")
	traffic(10)
	loadCore(t, cpus[1], hybridNeedLoad)
	injectLoad(h, 0.7, 0.9, step())
	expect(ModeInline, "the other core's tunnel needs it")
	traffic(5)
	board.add(cpus[1], -int64(1000*hybridNeedLoad)) // that tunnel is done
	t.Cleanup(func() { board.add(cpus[1], int64(1000*hybridNeedLoad)) })
	for range hybridUpWindows {
		injectLoad(h, 0.97, 0.9, step())
	}
	expect(ModeHybrid, "saturated again")
	traffic(10)
	for range hybridDownWindows {
		injectLoad(h, 0.1, 0, step())
	}
	expect(ModeInline, "load fell")
	traffic(10)
	seqs := <-arrived
	if len(seqs) != total {
		t.Fatalf("%d of %d packets arrived", len(seqs), total)
	}
	if i := inOrder(seqs); i >= 0 {
		t.Fatalf("packet %d arrived as %d: reordered", i, seqs[i])
	}
	st := a.tunnel.Stats()
	if st.ModeChanges != 4 || len(st.ModeLog) != 4 {
		t.Fatalf("%d changes, log %v; want 4", st.ModeChanges, st.ModeLog)
	}
	for i, c := range st.ModeLog {
		want := []Mode{ModeHybrid, ModeInline, ModeHybrid, ModeInline}[i]
		if c.To != want || c.At.IsZero() || (i > 0 && !c.At.After(st.ModeLog[i-1].At)) {
			t.Errorf("change %d: %+v, want to %s, later than the one before", i, c, want)
		}
		if want == ModeHybrid && !slices.Equal(c.Cores, cpus[1:]) {
			t.Errorf("change %d lends %v, want %v", i, c.Cores, cpus[1:])
		}
	}
}

// TestHybridFairness runs two hybrid tunnels, an elephant on the first
// core and another on the second: the elephant borrows the second core
// only while that tunnel leaves it idle, gives it back when it gets
// busy, and cannot take it while it is busy; the other tunnel never
// leaves its core and its packets keep flowing.
func TestHybridFairness(t *testing.T) {
	cpus := twoCPUs(t)
	_, e1, e1peer := newInlinePair(t, 32, func(a, _ *end) { hybridEnd(a, cpus) })
	n2 := newMemNet()
	m1 := newEnd(t, n2, underA, addrA, 32)
	m2 := newEnd(t, n2, underB, addrB, 32)
	m1.cfg.Peer = PeerConfig{PublicKey: m2.cfg.PrivateKey.PublicKey(), Endpoint: m2.addr, AllowedIPs: []netip.Prefix{pfxB}}
	m2.cfg.Peer = PeerConfig{PublicKey: m1.cfg.PrivateKey.PublicKey(), Endpoint: m1.addr, AllowedIPs: []netip.Prefix{pfxA}}
	m1.cfg.Name = "mouse"
	hybridEnd(m1, []int{cpus[1], cpus[0]})
	m2.start(t)
	m1.start(t)
	eleph, mouse := e1.tunnel.hyb, m1.tunnel.hyb
	injectLoads(eleph)
	injectLoads(mouse)
	e1.send(ping(addrB, addrA, 1))
	expectPacket(t, e1peer.tun.Out, ping(addrB, addrA, 1), "elephant")

	now := time.Now()
	step := func() time.Time { now = now.Add(hybridMinDwell); return now }
	mousePing := func(seq uint16) {
		t.Helper()
		p := ping(addrB, addrA, seq)
		m1.send(p)
		expectPacket(t, m2.tun.Out, p, "mouse's packet")
	}
	// The mouse is busy: the elephant may not borrow its core.
	injectLoad(mouse, 0.6, 0, step())
	for range 2 * hybridUpWindows {
		injectLoad(eleph, 1, 1, step())
		injectLoad(mouse, 0.6, 0, step())
	}
	if eleph.hybrid() || mouse.hybrid() {
		t.Fatalf("elephant hybrid %t, mouse hybrid %t while both cores are busy", eleph.hybrid(), mouse.hybrid())
	}
	mousePing(1)
	// The mouse goes quiet: the elephant borrows its core.
	for range hybridUpWindows {
		injectLoad(mouse, 0.05, 0, step())
		injectLoad(eleph, 1, 1, step())
	}
	if !eleph.hybrid() {
		t.Fatal("elephant not hybrid with the other core idle")
	}
	mousePing(2)
	// The mouse gets busy again: the elephant gives its core back at
	// once, and the mouse, whose home core the elephant loads, does not
	// go hybrid itself.
	injectLoad(mouse, 0.55, 0.6, step())
	injectLoad(eleph, 1, 1, step())
	if eleph.hybrid() {
		t.Fatal("elephant kept the busy tunnel's core")
	}
	for range 2 * hybridUpWindows {
		injectLoad(mouse, 0.95, 0.9, step())
		injectLoad(eleph, 1, 1, step())
	}
	if eleph.hybrid() || mouse.hybrid() {
		t.Fatalf("elephant hybrid %t, mouse hybrid %t with both saturated", eleph.hybrid(), mouse.hybrid())
	}
	mousePing(3)
	if got := m1.tunnel.Stats().Core; got != cpus[1] {
		t.Errorf("mouse on core %d, want %d", got, cpus[1])
	}
}

// TestHybridConfig checks the configurations hybrid mode refuses.
func TestHybridConfig(t *testing.T) {
	base := TunnelConfig{PrivateKey: genKey(t), Peer: PeerConfig{PublicKey: genKey(t).PublicKey()}}
	for _, tc := range []struct {
		name string
		mod  func(*TunnelConfig)
	}{
		{"unknown mode", func(c *TunnelConfig) { c.Mode = "turbo" }},
		{"hybrid unpinned", func(c *TunnelConfig) { c.Mode = ModeHybrid }},
	} {
		c := base
		tc.mod(&c)
		if err := checkConfig(c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := ParseMode("hybrid"); err != nil {
		t.Error(err)
	}
	if m, err := ParseMode(""); err != nil || m != ModeInline {
		t.Errorf("ParseMode(\"\") = %q, %v", m, err)
	}
}

// TestHybridUAPI reads a hybrid tunnel's mode changes back from its UAPI
// get reply, as the runner does.
func TestHybridUAPI(t *testing.T) {
	cpus := twoCPUs(t)
	_, a, _ := newInlinePair(t, 8, func(a, _ *end) { hybridEnd(a, cpus) })
	injectLoads(a.tunnel.hyb)
	t0 := time.Now()
	a.tunnel.hyb.force(ModeHybrid, t0)
	a.tunnel.hyb.force(ModeInline, t0.Add(time.Second))
	a.tunnel.hyb.force(ModeHybrid, t0.Add(2*time.Second))
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		_ = a.tunnel.ServeUAPI(server)
	}()
	go func() { _, _ = io.WriteString(client, "get=1\n\n") }()
	var reply strings.Builder
	sc := bufio.NewScanner(client)
	for sc.Scan() && sc.Text() != "" {
		reply.WriteString(sc.Text() + "\n")
	}
	client.Close()
	s, ok, err := ParseModeStatus(reply.String())
	if err != nil || !ok {
		t.Fatalf("ParseModeStatus: %v, ok %t:\n%s", err, ok, reply.String())
	}
	if s.Mode != ModeHybrid || s.Active != ModeHybrid || s.Changes != 3 || len(s.Log) != 3 {
		t.Fatalf("mode status %+v:\n%s", s, reply.String())
	}
	for i, want := range []Mode{ModeHybrid, ModeInline, ModeHybrid} {
		c := s.Log[i]
		if c.To != want || !c.At.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("change %d: %+v, want to %s at %v", i, c, want, t0.Add(time.Duration(i)*time.Second))
		}
	}
	if !slices.Equal(s.Log[0].Cores, cpus[1:]) {
		t.Errorf("lent cores %v, want %v", s.Log[0].Cores, cpus[1:])
	}
	if _, ok, _ := ParseModeStatus("private_key=00\nlisten_port=1\n"); ok {
		t.Error("a reply without inline keys parsed as an inline tunnel's")
	}
}

// injectLoads makes h's controller hear only the loads the test injects:
// no meter windows and no /proc/stat (the board alone).
func injectLoads(h *hybridState) {
	setSys(h, nil)
	h.injected.Store(true)
}

// setSys makes f h's source of other cores' busy shares (nil: the board
// alone).
func setSys(h *hybridState, f sysLoadFunc) {
	h.mu.Lock()
	h.sys = f
	h.mu.Unlock()
}

// TestHybridRealMeters runs the switching rule on the data threads' own
// meters (only /proc/stat is left out, so that other work on a busy test
// machine cannot veto the borrowing): a tunnel whose TUN always has a
// full batch waiting goes hybrid, and when its load falls away to a
// trickle it comes back to inline and stays there. The data stops as it
// leaves A (a tap on the network), so the receiver does no work per
// packet.
func TestHybridRealMeters(t *testing.T) {
	cpus := twoCPUs(t)
	const batch = 64
	gen := memnet.NewGenerator(batch, 1420, udpPacket(1400, addrA, addrB))
	n, a, _ := newInlinePair(t, batch, func(a, _ *end) {
		a.tun = gen
		hybridEnd(a, cpus)
	})
	h := a.tunnel.hyb
	setSys(h, nil)
	var trace []ModeSample
	var traceMu sync.Mutex
	a.tunnel.TraceMode(func(s ModeSample) {
		traceMu.Lock()
		trace = append(trace, s)
		traceMu.Unlock()
	})
	var data atomic.Int64
	n.SetTap(func(from, _ netip.AddrPort, p []byte) bool {
		if from == underA && len(p) > 32 && p[0] == 4 {
			data.Add(1)
			return false
		}
		return true
	})
	gen.Generate(1)
	eventually(t, "the first packet sealed", func() bool { return data.Load() > 0 })
	waitMode := func(want Mode, within time.Duration) time.Duration {
		t.Helper()
		t0 := time.Now()
		for a.tunnel.mode() != want {
			if time.Since(t0) > within {
				traceMu.Lock()
				defer traceMu.Unlock()
				t.Fatalf("not %s after %v; trace of %d windows, last: %+v", want, within, len(trace), trace[max(len(trace)-5, 0):])
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(t0)
	}
	gen.Generate(math.MaxInt64 / 2) // saturated: a full batch always waits
	up := waitMode(ModeHybrid, 5*time.Second)
	// At once a trickle: a batch every 5 ms, about 13 000 packets a
	// second.
	gen.Stop()
	stop, trickled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				gen.Generate(batch)
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-trickled }()
	down := waitMode(ModeInline, 5*time.Second)
	sent, changes := data.Load(), a.tunnel.Stats().ModeChanges
	time.Sleep(2 * hybridMinDwell)
	st := a.tunnel.Stats()
	if st.ActiveMode != ModeInline || st.ModeChanges != changes {
		t.Fatalf("trickling: active %s with %d changes, want inline and no change since the %d before (%v)", st.ActiveMode, st.ModeChanges, changes, st.ModeLog)
	}
	if data.Load() == sent {
		t.Fatal("no packet went out while trickling in inline mode")
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	t.Logf("hybrid %v after saturating, inline %v after the load fell; %d windows traced",
		up.Round(time.Millisecond), down.Round(time.Millisecond), len(trace))
	for _, s := range trace {
		t.Logf("  %s busy %.2f full %.2f demand %.2f rate %.0f/s others %.2f", s.Mode, s.Busy, s.Full, s.Demand, s.Rate, s.Others)
	}
}
