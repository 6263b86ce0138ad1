package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/local"
)

// udpBlocker binds a UDP socket to addr:port inside a namespace, as a
// WireGuard already running on a gateway would hold its port.
type udpBlocker struct {
	fd   int
	port int
}

func bindUDPIn(t *testing.T, ns string, addr [4]byte, port int) *udpBlocker {
	t.Helper()
	b := &udpBlocker{fd: -1, port: port}
	err := testutil.InNetns(ns, func() error {
		var err error
		if b.fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0); err != nil {
			return err
		}
		return syscall.Bind(b.fd, &syscall.SockaddrInet4{Port: port, Addr: addr})
	})
	if err != nil {
		t.Fatalf("bind udp :%d in %s: %v", port, ns, err)
	}
	t.Cleanup(func() { syscall.Close(b.fd) })
	return b
}

// untouched asserts the blocker still holds its port and got nothing.
func (b *udpBlocker) untouched(t *testing.T) {
	t.Helper()
	sa, err := syscall.Getsockname(b.fd)
	if in4, ok := sa.(*syscall.SockaddrInet4); err != nil || !ok || in4.Port != b.port {
		t.Errorf("blocking socket of port %d: %v %+v", b.port, err, sa)
	}
	if n, _, err := syscall.Recvfrom(b.fd, make([]byte, 64), 0); err != syscall.EAGAIN {
		t.Errorf("the socket blocking UDP %d received %d bytes (%v); want none", b.port, n, err)
	}
}

// TestIntegrationWireGuardPortTaken: tunnel 0's UDP port is held on gw2
// (every address) and tunnel 1's on gw1 (its WAN address) by sockets the
// run did not make. Both tunnels move to free ports, the moves are said
// in the point's notes, the point is measured, and the holders get no
// packet.
func TestIntegrationWireGuardPortTaken(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	sc, err := scenarios.Parse("wgports.yaml", []byte(`
name: wgports
traffic: {duration: 1s, omit: 0s}
sweep: {tunnels: [2]}
repetitions: 1
series:
  - datapath: wggo
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var held []*udpBlocker
	provision := func(ctx context.Context, tunnels, flows int) (Testbed, error) {
		tb, err := local.Provision(ctx, local.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: bin})
		if err != nil {
			return nil, err
		}
		ns := func(role string) string { return filepath.Join(local.NetnsDir, local.NamespaceName(tb.Tag(), role)) }
		held = append(held,
			bindUDPIn(t, ns(testbed.GW2), [4]byte{}, testbed.BasePort),
			bindUDPIn(t, ns(testbed.GW1), testbed.GW1WAN.Addr().As4(), testbed.BasePort+1))
		return tb, nil
	}
	run, err := Run(context.Background(), Options{Scenario: sc, Dir: filepath.Join(t.TempDir(), "run"), Binary: bin, Provision: provision, SharedCores: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(run.Points) != 1 || !run.Points[0].Complete || run.Points[0].Summary.N != 1 {
		t.Fatalf("points %+v; want one measured point", run.Points)
	}
	notes := run.Points[0].Notes
	for _, want := range []string{
		fmt.Sprintf("UDP port %d is taken: gw2 (%s) holds it (udp 0.0.0.0:%d by \"runner.test\" pid %d); tunnel 0 uses port %d instead",
			testbed.BasePort, local.NamespaceName(run.Testbed.Tag, testbed.GW2), testbed.BasePort, os.Getpid(), testbed.BasePort+2),
		fmt.Sprintf("UDP port %d is taken: gw1 (%s) holds it (udp %s:%d by \"runner.test\" pid %d); tunnel 1 uses port %d instead",
			testbed.BasePort+1, local.NamespaceName(run.Testbed.Tag, testbed.GW1), testbed.GW1WAN.Addr(), testbed.BasePort+1, os.Getpid(), testbed.BasePort+3),
	} {
		if !slices.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	for _, b := range held {
		b.untouched(t)
	}
	if l := tagLeftovers(run.Testbed.Tag); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}
