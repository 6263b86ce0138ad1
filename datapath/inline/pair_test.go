package inline

import (
	"net/netip"
	"testing"
	"time"
)

// end is one side of an in-memory test tunnel.
type end struct {
	tun    *memTUN
	bind   *memBind
	addr   netip.AddrPort
	inner  netip.Addr
	clock  *fakeClock
	tunnel *Tunnel
	cfg    TunnelConfig
}

var (
	underA = netip.MustParseAddrPort("198.18.0.1:51820")
	underB = netip.MustParseAddrPort("198.18.0.2:51820")
)

// testLimits makes the timers tick fast; the fake clock makes them fire.
var testLimits = Limits{Tick: 2 * time.Millisecond}

// newEnd prepares (but does not start) an inline end at addr.
func newEnd(t testing.TB, n *memNet, addr netip.AddrPort, inner netip.Addr, batch int) *end {
	t.Helper()
	return &end{
		tun: newMemTUN(batch, 1420), bind: n.NewBind(addr, batch), addr: addr, inner: inner, clock: newFakeClock(),
		cfg: TunnelConfig{PrivateKey: genKey(t), Limits: testLimits},
	}
}

// start runs the end's tunnel.
func (e *end) start(t testing.TB) {
	t.Helper()
	if e.cfg.Name == "" {
		e.cfg.Name = "inl-" + e.inner.String()
	}
	e.tunnel = startTunnel(t, e.tun, e.bind, e.cfg, e.clock)
}

// newInlinePair prepares two inline ends, A and B, that know each other's
// keys, inner prefixes and endpoints. mod may adjust the configs before
// both start.
// B starts first, so that anything A sends on its own finds B listening.
func newInlinePair(t testing.TB, batch int, mod func(a, b *end)) (*memNet, *end, *end) {
	t.Helper()
	n := newMemNet()
	a := newEnd(t, n, underA, addrA, batch)
	b := newEnd(t, n, underB, addrB, batch)
	a.cfg.Peer = PeerConfig{PublicKey: b.cfg.PrivateKey.PublicKey(), Endpoint: b.addr, AllowedIPs: []netip.Prefix{pfxB}}
	b.cfg.Peer = PeerConfig{PublicKey: a.cfg.PrivateKey.PublicKey(), Endpoint: a.addr, AllowedIPs: []netip.Prefix{pfxA}}
	if mod != nil {
		mod(a, b)
	}
	b.start(t)
	a.start(t)
	return n, a, b
}

// send pushes packets into from's TUN.
func (e *end) send(pkts ...[]byte) { e.tun.In <- pkts }

// expect waits for want to come out of e's TUN.
func (e *end) expect(t testing.TB, want []byte, what string) {
	t.Helper()
	expectPacket(t, e.tun.Out, want, what)
}

// drops returns e's drop counter for r.
func (e *end) drops(r DropReason) uint64 { return e.tunnel.Stats().Drops[r] }

// handshake makes A and B establish a session with one packet each way.
func handshake(t testing.TB, a, b *end) {
	t.Helper()
	p := ping(b.inner, a.inner, 1)
	a.send(p)
	b.expect(t, p, "A to B")
	q := ping(a.inner, b.inner, 1)
	b.send(q)
	a.expect(t, q, "B to A")
}
