package inline

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/kernel"
)

// TestStdNetBindGSOFallback runs two tunnels over wireguard-go's
// StdNetBind on a real veth pair whose sending side has TX checksum
// offload off. Kernels before 6.11 refuse UDP GSO there with EIO, and
// StdNetBind resends the coalesced batch without GSO, each message from
// the buffer the tunnel handed it. Kernels since 6.11 checksum GSO
// segments in software and send the batch with GSO; there the test still
// checks what the resend would send: the sender's bind is wrapped so that
// every Send verifies that StdNetBind's coalescing left each buffer it was
// given intact. Every message must arrive intact, and nothing may count
// as dropped.
func TestStdNetBindGSOFallback(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	nsA, nsB := nstest.NewNS(t, "gsoA-"+sfx), nstest.NewNS(t, "gsoB-"+sfx)
	wanA, wanB := netip.MustParsePrefix("10.213.0.1/24"), netip.MustParsePrefix("10.213.0.2/24")
	nstest.Veth(t, nsA, nsB, "gso"+sfx, "gsp"+sfx, wanA, wanB)
	if err := nstest.Run(nsA, func() error {
		et, err := kernel.OpenEthtool()
		if err != nil {
			return err
		}
		defer et.Close()
		return et.SetFeature("gso"+sfx, "tx-checksum-ip-generic", false)
	}); err != nil {
		t.Fatalf("turn TX checksum offload off: %v", err)
	}

	privA, privB := genKey(t), genKey(t)
	ta, tb := newMemTUN(maxBatch, 1420), newMemTUN(maxBatch, 1420)
	std := conn.NewStdNetBind().(*conn.StdNetBind)
	bindA, bindB := &resendCheckBind{StdNetBind: std}, conn.NewStdNetBind()
	var a, b *Tunnel
	if err := nstest.Run(nsB, func() error {
		var err error
		b, err = NewTunnel(tb, bindB, TunnelConfig{Name: "gsoB", PrivateKey: privB,
			Peer: PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := nstest.Run(nsA, func() error {
		var err error
		a, err = NewTunnel(ta, bindA, TunnelConfig{Name: "gsoA", PrivateKey: privA,
			Peer: PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB},
				Endpoint: netip.AddrPortFrom(wanB.Addr(), b.ListenPort())}}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if !gsoOn(std) {
		t.Skip("StdNetBind found no UDP GSO on this kernel: there is no fallback to test")
	}

	mk := func(size int, seq uint32) []byte {
		p := udpPacket(size, addrA, addrB)
		for i := 32; i < size; i++ {
			p[i] = byte(seq*13 + uint32(i))
		}
		binary.BigEndian.PutUint32(p[28:], seq)
		return p
	}
	first := mk(100, 0)
	ta.In <- [][]byte{first} // a single message: no GSO yet
	expectPacket(t, tb.Out, first, "first packet over the veth")

	sizes := []int{1420, 1420, 1420, 1000, 1420, 1420, 64, 64, 1420}
	var batch [][]byte
	for i := range 60 {
		batch = append(batch, mk(sizes[i%len(sizes)], uint32(i+1)))
	}
	ta.In <- batch
	got := map[uint32][]byte{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(batch) {
		select {
		case p := <-tb.Out:
			got[binary.BigEndian.Uint32(p[28:])] = p
		case <-deadline:
			t.Fatalf("received %d of %d packets of the batch the kernel refused to segment; receiver drops %v, sender drops %v",
				len(got), len(batch), b.Stats().Drops, a.Stats().Drops)
		}
	}
	t.Logf("StdNetBind UDP GSO still on after the batch: %t (false: the kernel refused it and StdNetBind resent)", gsoOn(std))
	if n := bindA.corrupted.Load(); n > 0 {
		t.Errorf("StdNetBind's GSO coalescing overwrote %d buffers of the batch: a resend without GSO would send garbage", n)
	}
	for _, w := range batch {
		seq := binary.BigEndian.Uint32(w[28:])
		if string(got[seq]) != string(w) {
			t.Fatalf("packet %d arrived corrupted: %s", seq, diffAt(got[seq], w))
		}
	}
	if d := nonZero(a.Stats().Drops); len(d) != 0 {
		t.Errorf("sender counted drops %v for a batch that went out", d)
	}
	if d := nonZero(b.Stats().Drops); len(d) != 0 {
		t.Errorf("receiver counted drops %v", d)
	}
}

// nonZero returns the drop reasons that counted anything.
func nonZero(drops map[DropReason]uint64) map[DropReason]uint64 {
	out := map[DropReason]uint64{}
	for r, n := range drops {
		if n != 0 {
			out[r] = n
		}
	}
	return out
}

// gsoOn reports whether StdNetBind b still uses UDP GSO for IPv4.
func gsoOn(b *conn.StdNetBind) bool {
	return reflect.ValueOf(b).Elem().FieldByName("ipv4TxOffload").Bool()
}

// resendCheckBind is StdNetBind with a check in Send: after StdNetBind
// sent (and, with GSO, coalesced) a batch, every buffer must still hold
// the message it held before, since that is what StdNetBind resends
// without GSO when the kernel refuses GSO.
type resendCheckBind struct {
	*conn.StdNetBind
	corrupted atomic.Int64 // buffers that changed during Send
}

func (b *resendCheckBind) Unwrap() conn.Bind { return b.StdNetBind }

func (b *resendCheckBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	before := make([][]byte, len(bufs))
	for i, m := range bufs {
		before[i] = append([]byte(nil), m...)
	}
	err := b.StdNetBind.Send(bufs, ep)
	for i, m := range bufs {
		if string(m) != string(before[i]) {
			b.corrupted.Add(1)
		}
	}
	return err
}

// gsoRefusingBind reports, like StdNetBind, that it turned UDP GSO off and
// resent the first batch of more than one message; resendErr is the
// resend's result (nil: the batch went out, and it is delivered).
type gsoRefusingBind struct {
	*memBind
	resendErr error
	refused   atomic.Bool
}

func (b *gsoRefusingBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	if len(bufs) < 2 || b.refused.Swap(true) {
		return b.memBind.Send(bufs, ep)
	}
	if b.resendErr == nil {
		if err := b.memBind.Send(bufs, ep); err != nil {
			return err
		}
	}
	return conn.ErrUDPGSODisabled{RetryErr: b.resendErr}
}

// TestGSODisabledIsNotADrop checks how a tunnel counts StdNetBind's
// ErrUDPGSODisabled: a batch whose resend without GSO succeeded went out
// and is no drop; one whose resend failed is DropIO.
func TestGSODisabledIsNotADrop(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resendErr error
		wantIO    uint64
	}{
		{"resend ok", nil, 0},
		{"resend failed", errors.New("no buffer space"), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newMemNet()
			a, b := newEnd(t, n, underA, addrA, 8), newEnd(t, n, underB, addrB, 8)
			a.cfg.Peer = PeerConfig{PublicKey: b.cfg.PrivateKey.PublicKey(), Endpoint: b.addr, AllowedIPs: []netip.Prefix{pfxB}}
			b.cfg.Peer = PeerConfig{PublicKey: a.cfg.PrivateKey.PublicKey(), Endpoint: a.addr, AllowedIPs: []netip.Prefix{pfxA}}
			b.start(t)
			bindA := &gsoRefusingBind{memBind: a.bind, resendErr: tc.resendErr}
			a.cfg.Name = "gsoref"
			a.tunnel = startTunnel(t, a.tun, bindA, a.cfg, a.clock)
			first := ping(addrB, addrA, 0)
			a.send(first)
			b.expect(t, first, "first packet")
			var batch [][]byte
			for i := range 5 {
				batch = append(batch, ping(addrB, addrA, uint16(i+1)))
			}
			a.send(batch...)
			if tc.resendErr == nil {
				for _, p := range batch {
					b.expect(t, p, "packet of the resent batch")
				}
			} else {
				eventually(t, "the failed batch counted", func() bool { return a.drops(DropIO) >= tc.wantIO })
			}
			if !bindA.refused.Load() {
				t.Fatal("the batch did not reach the bind in one Send")
			}
			if got := a.drops(DropIO); got != tc.wantIO {
				t.Errorf("DropIO = %d, want %d", got, tc.wantIO)
			}
		})
	}
}
