package inline

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/tuntest"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func genKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Inner addresses of the two ends of every in-process test tunnel.
var (
	addrA = netip.MustParseAddr("198.19.0.1")
	addrB = netip.MustParseAddr("198.19.0.2")
	pfxA  = netip.PrefixFrom(addrA, 32)
	pfxB  = netip.PrefixFrom(addrB, 32)
)

// fakeClock is real time plus an offset tests jump forward, so timers
// fire at once while time still flows (handshake flood protection, for
// one, needs it to).
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// startTunnel runs NewTunnel and closes the tunnel in t.Cleanup.
func startTunnel(t testing.TB, dev tun.Device, bind conn.Bind, cfg TunnelConfig, clock Clock) *Tunnel {
	t.Helper()
	tu, err := NewTunnel(dev, bind, cfg, clock)
	if err != nil {
		t.Fatalf("NewTunnel: %v", err)
	}
	t.Cleanup(func() {
		if err := tu.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tu
}

// wgPeer describes the peer of a wireguard-go device in a test.
type wgPeer struct {
	pub       wgtypes.Key
	psk       *wgtypes.Key
	endpoint  string // "" for none
	allowed   netip.Prefix
	keepalive int
}

// startWireGuardGo runs a wireguard-go device with one peer, closed in
// t.Cleanup.
func startWireGuardGo(t testing.TB, dev tun.Device, bind conn.Bind, priv wgtypes.Key, p wgPeer) *device.Device {
	t.Helper()
	d := device.NewDevice(dev, bind, device.NewLogger(device.LogLevelError, "wireguard-go: "))
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%x\npublic_key=%x\nallowed_ip=%s\n", priv[:], p.pub[:], p.allowed)
	if p.psk != nil {
		fmt.Fprintf(&b, "preshared_key=%x\n", p.psk[:])
	}
	if p.endpoint != "" {
		fmt.Fprintf(&b, "endpoint=%s\n", p.endpoint)
	}
	if p.keepalive > 0 {
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", p.keepalive)
	}
	if err := d.IpcSet(b.String()); err != nil {
		t.Fatalf("configure wireguard-go: %v", err)
	}
	if err := d.Up(); err != nil {
		t.Fatalf("wireguard-go up: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// ping is an ICMP echo from src to dst carrying seq, padded to size bytes
// when size is larger than the bare packet.
func ping(dst, src netip.Addr, seq uint16) []byte {
	p := tuntest.Ping(dst, src)
	p[len(p)-1] = byte(seq)
	p[len(p)-2] = byte(seq >> 8)
	return p
}

// expectPacket waits for want on ch.
func expectPacket(t testing.TB, ch <-chan []byte, want []byte, what string) {
	t.Helper()
	select {
	case got := <-ch:
		if string(got) != string(want) {
			t.Fatalf("%s: got packet %x, want %x", what, got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no packet within 5s", what)
	}
}

// expectNoPacket checks that nothing arrives on ch for a short while.
func expectNoPacket(t testing.TB, ch <-chan []byte, what string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("%s: unexpected packet %x", what, got)
	case <-time.After(100 * time.Millisecond):
	}
}

// eventually polls cond until it holds or 5s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
