package inline

import (
	"crypto/rand"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// typeCounter is a memNet tap counting message types per sender.
type typeCounter struct {
	mu sync.Mutex
	n  map[netip.AddrPort]map[uint32]int
}

func (c *typeCounter) tap(from, _ netip.AddrPort, b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[netip.AddrPort]map[uint32]int{}
	}
	if c.n[from] == nil {
		c.n[from] = map[uint32]int{}
	}
	c.n[from][messageType(b)]++
	return true
}

func (c *typeCounter) count(from netip.AddrPort, typ uint32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[from][typ]
}

// TestCookieUnderLoadInline: a loaded inline responder answers with a
// cookie reply, and the inline initiator's next initiation carries a MAC2
// that gets it through.
func TestCookieUnderLoadInline(t *testing.T) {
	n, a, b := newInlinePair(t, 8, nil)
	tc := &typeCounter{}
	n.SetTap(tc.tap)
	b.tunnel.forceUnderLoad.Store(true)
	p := ping(b.inner, a.inner, 1)
	a.send(p)
	eventually(t, "B's cookie reply", func() bool { return tc.count(underB, msgCookieReply) == 1 })
	eventually(t, "A keeps the cookie", func() bool {
		a.tunnel.mu.Lock()
		defer a.tunnel.mu.Unlock()
		return a.tunnel.generator.haveCookie
	})
	if got := b.drops(DropMAC); got != 1 {
		t.Errorf("B's MAC drops = %d, want 1 (the initiation without MAC2)", got)
	}
	a.clock.Advance(RekeyTimeout + rekeyTimeoutJitter) // retransmit, now with MAC2
	b.expect(t, p, "A to B once the handshake passed the cookie check")
	if got := tc.count(underB, msgCookieReply); got != 1 {
		t.Errorf("cookie replies = %d, want 1", got)
	}
	if got := b.drops(DropMAC); got != 1 {
		t.Errorf("B's MAC drops = %d, want still 1", got)
	}
}

// junkInitiation is an initiation to pub with a valid MAC1 and random
// contents: it costs a responder a MAC check and, under load, a cookie.
func junkInitiation(t testing.TB, pub key) []byte {
	t.Helper()
	b := make([]byte, initiationSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{msgInitiation, 0, 0, 0})
	newCookieGenerator(pub).addMACs(b, time.Now())
	return b
}

// TestCookieInteropInlineInitiates floods wireguard-go with junk
// initiations so that it is under load for real: it answers inline's
// initiation with a cookie reply, and inline's retransmission, with MAC2
// from that cookie, is accepted.
func TestCookieInteropInlineInitiates(t *testing.T) {
	n, a, b := newMixedPair(t, 8, false, nil)
	tc := &typeCounter{}
	n.SetTap(tc.tap)
	flooder := netip.MustParseAddrPort("198.18.9.9:9999")
	junk := junkInitiation(t, b.priv.PublicKey())
	flood := func() {
		for range 600 {
			n.Inject(flooder, b.addr, junk)
		}
	}
	flood()
	p := ping(b.inner, a.inner, 1)
	a.send(p)
	eventually(t, "wireguard-go's cookie reply to inline", func() bool {
		a.tunnel.mu.Lock()
		defer a.tunnel.mu.Unlock()
		return a.tunnel.generator.haveCookie
	})
	if got := a.tunnel.Stats().Handshakes; got != 0 {
		t.Fatalf("sessions = %d before the retransmission, want 0", got)
	}
	flood() // still under load when the retransmission arrives
	a.clock.Advance(RekeyTimeout + rekeyTimeoutJitter)
	b.expect(t, p, "inline to wireguard-go after the cookie exchange")
	if got := tc.count(underA, msgInitiation); got != 2 {
		t.Errorf("inline sent %d initiations, want 2", got)
	}
}

// TestCookieInteropWireGuardGoInitiates: a loaded inline responder sends
// wireguard-go a cookie reply, and wireguard-go's retransmission (after
// its real 5s RekeyTimeout) passes inline's MAC2 check.
func TestCookieInteropWireGuardGoInitiates(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for wireguard-go's 5s retransmission timer")
	}
	t.Parallel()
	n, a, b := newMixedPair(t, 8, true, nil)
	tc := &typeCounter{}
	n.SetTap(tc.tap)
	a.tunnel.forceUnderLoad.Store(true)
	q := ping(a.inner, b.inner, 1)
	b.send(q)
	eventually(t, "inline's cookie reply", func() bool { return tc.count(underA, msgCookieReply) == 1 })
	select {
	case got := <-a.tun.Out:
		if string(got) != string(q) {
			t.Fatalf("got %x, want %x", got, q)
		}
	case <-time.After(RekeyTimeout + 2*time.Second):
		t.Fatal("no packet after wireguard-go's retransmission")
	}
	if got := a.drops(DropMAC); got != 1 {
		t.Errorf("inline's MAC drops = %d, want 1", got)
	}
}
