package inline

import (
	"net/netip"
	"testing"
	"time"
)

// TestRekeyInterop checks rekeying against wireguard-go: after the message
// and time limits, inline starts a new handshake and traffic goes on with
// the new session, losing nothing.
func TestRekeyInterop(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		step   func(a *end) // applied after the first session is up
		want   uint64       // sessions at least
	}{
		// No initiation goes out within RekeyTimeout of the last one.
		{"rekey after messages", Limits{RekeyAfterMessages: 30}, func(a *end) { a.clock.Advance(RekeyTimeout) }, 2},
		{"reject after messages", Limits{RekeyAfterMessages: 1 << 40, RejectAfterMessages: 25}, func(a *end) { a.clock.Advance(RekeyTimeout) }, 2},
		{"rekey after time", Limits{}, func(a *end) { a.clock.Advance(RekeyAfterTime + time.Second) }, 2},
		{"reject after time", Limits{}, func(a *end) { a.clock.Advance(RejectAfterTime + time.Second) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, a, b := newMixedPair(t, 8, false, func(a *end) {
				tt.limits.Tick = testLimits.Tick
				a.cfg.Limits = tt.limits
			})
			exchange(t, a, b, 0, 10)
			if got := a.tunnel.Stats().Handshakes; got != 1 {
				t.Fatalf("sessions after the first exchange = %d, want 1", got)
			}
			// wireguard-go consumes at most one initiation per 20ms of
			// real time from a peer (and TAI64N stamps are whitened to
			// ~16ms): let that pass before forcing the rekey.
			time.Sleep(25 * time.Millisecond)
			if tt.step != nil {
				tt.step(a)
			}
			exchange(t, a, b, 10, 30)
			eventually(t, "the new session", func() bool { return a.tunnel.Stats().Handshakes >= tt.want })
			st := a.tunnel.Stats()
			for r, c := range st.Drops {
				if c != 0 {
					t.Errorf("drops[%s] = %d, want 0", r, c)
				}
			}
		})
	}
}

// TestRejectAfterTimeOnReceive checks that a receiver refuses a session
// older than RejectAfterTime, and that the tunnel recovers with a new
// handshake.
func TestRejectAfterTimeOnReceive(t *testing.T) {
	_, a, b := newInlinePair(t, 8, nil)
	handshake(t, a, b)
	b.clock.Advance(RejectAfterTime + time.Second)
	a.send(ping(b.inner, a.inner, 2)) // A still thinks its session is fresh
	eventually(t, "B drops the expired session's packet", func() bool { return b.drops(DropExpired) == 1 })
	expectNoPacket(t, b.tun.Out, "B's TUN")
	q := ping(a.inner, b.inner, 3) // B has no usable session: it handshakes
	b.send(q)
	a.expect(t, q, "B to A after B's new handshake")
	p := ping(b.inner, a.inner, 4)
	a.send(p)
	b.expect(t, p, "A to B on the new session")
}

// TestTimers steps the fake clocks through the protocol's timers on an
// inline pair whose datagrams pass a recorder.
func TestTimers(t *testing.T) {
	t.Run("keepalive after unanswered data", func(t *testing.T) {
		n, a, b := newInlinePair(t, 8, nil)
		rec := &recorder{from: underB}
		n.SetTap(rec.tap)
		handshake(t, a, b)
		p := ping(b.inner, a.inner, 2)
		a.send(p)
		b.expect(t, p, "A to B")
		sent := b.tunnel.Stats().TxPackets
		b.clock.Advance(KeepaliveTimeout + time.Second)
		eventually(t, "B's keepalive", func() bool { return b.tunnel.Stats().TxPackets == sent+1 })
		if m := rec.last(t, msgTransport); len(m) != keepaliveSize {
			t.Errorf("B's last message is %d bytes, want a %d-byte keepalive", len(m), keepaliveSize)
		}
		eventually(t, "A receives it", func() bool { return a.tunnel.Stats().RxPackets >= 2 })
		expectNoPacket(t, a.tun.Out, "A's TUN (a keepalive carries no packet)")
	})
	t.Run("new handshake when data gets no answer", func(t *testing.T) {
		n, a, b := newInlinePair(t, 8, nil)
		handshake(t, a, b)
		rec := &recorder{from: underA, hold: func([]byte) bool { return true }} // B hears nothing more
		n.SetTap(rec.tap)
		a.send(ping(b.inner, a.inner, 2))
		eventually(t, "A sends the data", func() bool { return rec.count(msgTransport) == 1 })
		a.clock.Advance(KeepaliveTimeout + RekeyTimeout + time.Second)
		eventually(t, "A's new initiation", func() bool { return rec.count(msgInitiation) == 1 })
	})
	t.Run("retransmit then give up", func(t *testing.T) {
		n := newMemNet()
		a := newEnd(t, n, underA, addrA, 8)
		a.cfg.Peer = PeerConfig{PublicKey: genKey(t).PublicKey(), Endpoint: underB, AllowedIPs: []netip.Prefix{pfxB}}
		rec := &recorder{from: underA}
		n.SetTap(rec.tap)
		a.start(t)
		a.send(ping(addrB, addrA, 1)) // nobody answers at underB
		eventually(t, "the first initiation", func() bool { return rec.count(msgInitiation) == 1 })
		for i := 2; i <= 19; i++ {
			a.clock.Advance(RekeyTimeout + rekeyTimeoutJitter)
			eventually(t, "a retransmission", func() bool { return rec.count(msgInitiation) == i })
		}
		a.clock.Advance(RekeyTimeout + rekeyTimeoutJitter)
		eventually(t, "the staged packet dropped", func() bool { return a.drops(DropNoSession) == 1 })
		a.clock.Advance(RekeyTimeout + rekeyTimeoutJitter)
		time.Sleep(20 * time.Millisecond)
		if got := rec.count(msgInitiation); got != 19 {
			t.Errorf("initiations = %d, want 19 (1 + RekeyAttemptTime/RekeyTimeout retries)", got)
		}
	})
	t.Run("persistent keepalive", func(t *testing.T) {
		n, a, b := newInlinePair(t, 8, func(a, b *end) { a.cfg.Peer.PersistentKeepalive = 25 * time.Second })
		rec := &recorder{from: underA}
		n.SetTap(rec.tap)
		// The persistent keepalive starts the first handshake by itself.
		eventually(t, "a session from the first keepalive", func() bool { return b.tunnel.Stats().Handshakes == 1 })
		before := rec.count(msgTransport)
		a.clock.Advance(25 * time.Second)
		eventually(t, "a persistent keepalive", func() bool { return rec.count(msgTransport) == before+1 })
		if m := rec.last(t, msgTransport); len(m) != keepaliveSize {
			t.Errorf("last message is %d bytes, want a keepalive", len(m))
		}
	})
	t.Run("keys forgotten after 3 x RejectAfterTime", func(t *testing.T) {
		_, a, b := newInlinePair(t, 8, nil)
		handshake(t, a, b)
		a.clock.Advance(3*RejectAfterTime + time.Second)
		eventually(t, "A's sessions wiped", func() bool {
			return a.tunnel.pairs.current.Load() == nil && a.tunnel.pairs.previous.Load() == nil
		})
	})
}

// TestRoaming moves wireguard-go to another address: inline follows it to
// the source of the latest authenticated packet.
func TestRoaming(t *testing.T) {
	_, a, b := newMixedPair(t, 8, false, nil)
	exchange(t, a, b, 0, 3)
	moved := netip.MustParseAddrPort("198.18.7.7:4242")
	b.bind.MoveTo(moved)
	q := ping(a.inner, b.inner, 10)
	b.send(q)
	a.expect(t, q, "wireguard-go to inline from the new address")
	if got := a.tunnel.remote.Load().ep.DstToString(); got != moved.String() {
		t.Fatalf("inline's endpoint = %s, want %s", got, moved)
	}
	exchange(t, a, b, 11, 3)
}

// TestRekeyRequestWaitsForThrottle: a rekey asked for less than
// RekeyTimeout after the last handshake message is held back, not lost,
// and goes out once RekeyTimeout has passed.
func TestRekeyRequestWaitsForThrottle(t *testing.T) {
	n, a, b := newInlinePair(t, 8, func(a, b *end) {
		a.cfg.Limits.RekeyAfterMessages = 3
	})
	rec := &recorder{from: underA}
	n.SetTap(rec.tap)
	handshake(t, a, b)
	time.Sleep(25 * time.Millisecond) // past B's initiation flood limit
	for i := range uint16(5) {
		p := ping(b.inner, a.inner, 10+i)
		a.send(p)
		b.expect(t, p, "A to B past the rekey limit")
	}
	time.Sleep(20 * time.Millisecond) // a few control ticks
	if got := rec.count(msgInitiation); got != 1 {
		t.Fatalf("initiations within RekeyTimeout of the first = %d, want 1", got)
	}
	a.clock.Advance(RekeyTimeout)
	eventually(t, "the held-back rekey", func() bool { return a.tunnel.Stats().Handshakes == 2 })
}
