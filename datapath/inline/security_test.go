package inline

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
)

// recorder is a memNet tap that keeps copies of the datagrams from one
// address, and can hold some back.
type recorder struct {
	mu   sync.Mutex
	from netip.AddrPort
	msgs [][]byte
	hold func(b []byte) bool // drop instead of delivering
}

func (r *recorder) tap(from, to netip.AddrPort, b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if from == r.from {
		r.msgs = append(r.msgs, slices.Clone(b))
	}
	return r.hold == nil || !r.hold(b)
}

// last returns the last recorded message of type typ.
func (r *recorder) last(t testing.TB, typ uint32) []byte {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.msgs) - 1; i >= 0; i-- {
		if messageType(r.msgs[i]) == typ {
			return slices.Clone(r.msgs[i])
		}
	}
	t.Fatalf("no message of type %d recorded", typ)
	return nil
}

// count returns how many messages of type typ were recorded.
func (r *recorder) count(typ uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if messageType(m) == typ {
			n++
		}
	}
	return n
}

// TestSecurityDrops sends B forged, replayed and out-of-policy packets and
// checks that each is dropped, counted under its reason, and that nothing
// reaches B's TUN.
func TestSecurityDrops(t *testing.T) {
	outsider := netip.MustParseAddr("198.19.9.9")
	tests := []struct {
		name   string
		attack func(t *testing.T, n *memNet, a, b *end, rec *recorder)
		reason DropReason
		at     func(a, b *end) *end // the end that counts the drop (default B)
	}{
		{"replayed data", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			n.Inject(a.addr, b.addr, rec.last(t, msgTransport))
		}, DropReplay, nil},
		{"flipped bit in ciphertext", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			m := rec.last(t, msgTransport)
			m[transportHeaderSize+3] ^= 0x10
			n.Inject(a.addr, b.addr, m)
		}, DropAuth, nil},
		{"flipped bit in counter", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			m := rec.last(t, msgTransport)
			m[8] ^= 0x80
			n.Inject(a.addr, b.addr, m)
		}, DropAuth, nil},
		{"unknown session index", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			m := rec.last(t, msgTransport)
			m[4] ^= 0xff
			n.Inject(a.addr, b.addr, m)
		}, DropUnknownIndex, nil},
		{"handshake from an unknown key", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			// An intruder that knows B's public key and claims B as its peer.
			c := newEnd(t, n, netip.MustParseAddrPort("198.18.0.3:51820"), outsider, 16)
			c.cfg.Peer = PeerConfig{PublicKey: b.cfg.PrivateKey.PublicKey(), Endpoint: b.addr, AllowedIPs: []netip.Prefix{pfxB}}
			c.start(t)
			c.send(ping(b.inner, outsider, 1))
		}, DropUnknownKey, nil},
		{"replayed handshake initiation", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			n.Inject(a.addr, b.addr, rec.last(t, msgInitiation))
		}, DropReplay, nil},
		{"initiation with a bad MAC1", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			m := rec.last(t, msgInitiation)
			m[mac1Offset(m)] ^= 1
			n.Inject(a.addr, b.addr, m)
		}, DropMAC, nil},
		{"response for no handshake", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			// B's response, replayed to A after A's handshake finished.
			n.Inject(b.addr, a.addr, recFrom(t, n, b, a))
		}, DropUnknownIndex, func(a, b *end) *end { return a }},
		{"source outside AllowedIPs", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			a.send(ping(b.inner, outsider, 7))
		}, DropAllowedIPs, nil},
		{"destination outside AllowedIPs", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			a.send(ping(outsider, a.inner, 7))
		}, DropNoRoute, func(a, b *end) *end { return a }},
		{"garbage", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			n.Inject(a.addr, b.addr, []byte{9, 0, 0, 0, 1, 2, 3})
		}, DropMalformed, nil},
		{"truncated transport message", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			n.Inject(a.addr, b.addr, rec.last(t, msgTransport)[:keepaliveSize-1])
		}, DropMalformed, nil},
		{"data that is not an IP packet", func(t *testing.T, n *memNet, a, b *end, rec *recorder) {
			// Sealed with A's session key: an IPv4 header claiming 99
			// bytes with 6 present.
			n.Inject(a.addr, b.addr, forge(t, a, []byte{0x45, 0, 0, 99, 0, 0}))
		}, DropMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{from: underA}
			n, a, b := newInlinePair(t, 16, nil)
			n.SetTap(rec.tap)
			handshake(t, a, b)
			at := b
			if tt.at != nil {
				at = tt.at(a, b)
			}
			before := at.tunnel.Stats().Drops
			tt.attack(t, n, a, b, rec)
			eventually(t, "drop counted as "+string(tt.reason), func() bool { return at.drops(tt.reason) > before[tt.reason] })
			expectNoPacket(t, b.tun.Out, "B's TUN after the attack")
			for r, c := range at.tunnel.Stats().Drops {
				if r != tt.reason && c != before[r] {
					t.Errorf("drops[%s] went from %d to %d; only %s should count", r, before[r], c, tt.reason)
				}
			}
			// The tunnel still works.
			p := ping(b.inner, a.inner, 99)
			a.send(p)
			b.expect(t, p, "A to B after the attack")
		})
	}
}

// recFrom returns the last handshake response from b to a, recorded by a
// second tap layered on n.
func recFrom(t *testing.T, n *memNet, b, a *end) []byte {
	t.Helper()
	// Force a fresh handshake initiated by A and record B's response.
	rec := &recorder{from: b.addr}
	n.SetTap(rec.tap)
	a.clock.Advance(RekeyAfterTime + RekeyTimeout)
	b.clock.Advance(RekeyAfterTime + RekeyTimeout) // past B's initiation flood limit too
	p := ping(b.inner, a.inner, 5)
	a.send(p)
	b.expect(t, p, "A to B, triggering a rekey")
	eventually(t, "the rekey handshake", func() bool { return a.tunnel.Stats().Handshakes >= 2 })
	return rec.last(t, msgResponse)
}

// forge seals plain as the next transport message of a's current session.
func forge(t *testing.T, a *end, plain []byte) []byte {
	t.Helper()
	kp := a.tunnel.pairs.current.Load()
	if kp == nil {
		t.Fatal("A has no session")
	}
	start, n := reserveNonces(kp, 1, RejectAfterMessages)
	if n != 1 {
		t.Fatal("A's session has no counters left")
	}
	buf := make([]byte, messageRoom(len(plain), 1420))
	copy(buf[transportHeaderSize:], plain)
	var nonce [nonceSize]byte
	l := sealPacket(kp.send, buf, buf, len(plain), 1420, kp.remoteIndex, start, &nonce)
	return buf[:l]
}
