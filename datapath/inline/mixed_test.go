package inline

import (
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// wgEnd is a wireguard-go device on a memNet.
type wgEnd struct {
	tun   *memTUN
	bind  *memBind
	addr  netip.AddrPort
	inner netip.Addr
	priv  wgtypes.Key
	dev   *device.Device
}

func (w *wgEnd) send(pkts ...[]byte) { w.tun.In <- pkts }

func (w *wgEnd) expect(t testing.TB, want []byte, what string) {
	t.Helper()
	expectPacket(t, w.tun.Out, want, what)
}

// newMixedPair runs inline end A against wireguard-go end B over a memNet.
// A knows B's endpoint; B learns A's unless bKnowsA.
func newMixedPair(t testing.TB, batch int, bKnowsA bool, mod func(a *end)) (*memNet, *end, *wgEnd) {
	t.Helper()
	n := newMemNet()
	a := newEnd(t, n, underA, addrA, batch)
	b := &wgEnd{tun: newMemTUN(batch, 1420), bind: n.NewBind(underB, batch), addr: underB, inner: addrB, priv: genKey(t)}
	a.cfg.Peer = PeerConfig{PublicKey: b.priv.PublicKey(), Endpoint: b.addr, AllowedIPs: []netip.Prefix{pfxB}}
	if mod != nil {
		mod(a)
	}
	a.start(t)
	p := wgPeer{pub: a.cfg.PrivateKey.PublicKey(), allowed: pfxA}
	if bKnowsA {
		p.endpoint = a.addr.String()
	}
	b.dev = startWireGuardGo(t, b.tun, b.bind, b.priv, p)
	return n, a, b
}

// exchange sends count packets each way between inline a and
// wireguard-go b and checks each arrives.
func exchange(t testing.TB, a *end, b *wgEnd, from, count uint16) {
	t.Helper()
	for i := from; i < from+count; i++ {
		p := ping(b.inner, a.inner, i)
		a.send(p)
		b.expect(t, p, "inline to wireguard-go")
		q := ping(a.inner, b.inner, i)
		b.send(q)
		a.expect(t, q, "wireguard-go to inline")
	}
}
