package inline

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// failingTUN is a memory TUN whose reads fail with err once failing is
// set (after the read in progress returns).
type failingTUN struct {
	*memTUN
	err     error
	failing atomic.Bool
}

func (f *failingTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if f.failing.Load() {
		return 0, f.err
	}
	return f.memTUN.Read(bufs, sizes, offset)
}

// TestTUNReadErrorStopsTunnel checks that a TUN read error the TX thread
// cannot go on after stops the whole tunnel, not only its sending: the
// tunnel closes (so it no longer answers handshakes), and Err, Stats and
// UAPI say why.
func TestTUNReadErrorStopsTunnel(t *testing.T) {
	n := newMemNet()
	a, b := newEnd(t, n, underA, addrA, 8), newEnd(t, n, underB, addrB, 8)
	a.cfg.Name = "failing"
	a.cfg.Peer = PeerConfig{PublicKey: b.cfg.PrivateKey.PublicKey(), Endpoint: b.addr, AllowedIPs: []netip.Prefix{pfxB}}
	b.cfg.Peer = PeerConfig{PublicKey: a.cfg.PrivateKey.PublicKey(), Endpoint: a.addr, AllowedIPs: []netip.Prefix{pfxA}}
	b.start(t)
	ftun := &failingTUN{memTUN: a.tun, err: errors.New("tun: device gone")}
	a.tunnel = startTunnel(t, ftun, a.bind, a.cfg, a.clock)
	handshake(t, a, b)
	if err := a.tunnel.Err(); err != nil {
		t.Fatalf("Err of a running tunnel = %v", err)
	}

	ftun.failing.Store(true)
	a.send(ping(addrB, addrA, 2)) // ends the read in progress; the next one fails
	b.expect(t, ping(addrB, addrA, 2), "the packet read before the failure")
	select {
	case <-a.tunnel.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the tunnel still runs 5s after its TX thread died")
	}
	if err := a.tunnel.Err(); !errors.Is(err, ftun.err) {
		t.Errorf("Err = %v, want the TUN read error", err)
	}
	if f := a.tunnel.Stats().Failure; !strings.Contains(f, "device gone") {
		t.Errorf("Stats().Failure = %q, want the TUN read error", f)
	}
	if _, errno := uapiDo(t, a.tunnel, "get=1\n\n"); errno != int(unix.ENETDOWN) {
		t.Errorf("UAPI get on the stopped tunnel: errno %d, want ENETDOWN (%d)", errno, unix.ENETDOWN)
	}

	// The stopped tunnel no longer answers handshakes.
	before := b.tunnel.Stats().Handshakes
	b.clock.Advance(3 * time.Minute) // past RejectAfterTime: B must handshake anew
	b.send(ping(addrA, addrB, 3))
	time.Sleep(200 * time.Millisecond)
	if got := b.tunnel.Stats().Handshakes; got != before {
		t.Errorf("the stopped tunnel completed a handshake (%d → %d)", before, got)
	}
}
