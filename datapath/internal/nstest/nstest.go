// Package nstest creates throw-away network namespaces and veth pairs for
// the datapath tests, and runs code inside them.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RequireRoot skips the test unless it runs as root with /dev/net/tun.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, TUN devices and routes")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("needs /dev/net/tun: %v", err)
	}
}

// Suffix returns a short random hex string for unique names.
func Suffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Run calls fn on a fresh goroutine locked to an OS thread that has entered
// ns, and returns fn's error. The thread is never unlocked, so the runtime
// discards it when the goroutine exits.
func Run(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// NewNS creates a named network namespace with loopback up, deleted in
// t.Cleanup. The calling thread's namespace is not changed.
func NewNS(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := func() error {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread changed namespace
			var err error
			ns, err = netns.NewNamed(name)
			errc <- err
		}()
		return <-errc
	}()
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	h := Handle(t, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("netns %s: set lo up: %v", name, err)
	}
	return ns
}

// Handle returns a netlink handle bound to ns, closed in t.Cleanup.
func Handle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// Veth joins namespaces a and b with a veth pair named nameA/nameB carrying
// addresses addrA/addrB, both up. The pair vanishes with the namespaces.
func Veth(t testing.TB, a, b netns.NsHandle, nameA, nameB string, addrA, addrB netip.Prefix) {
	t.Helper()
	ha, hb := Handle(t, a), Handle(t, b)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(int(b))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s/%s: %v", nameA, nameB, err)
	}
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		addr netip.Prefix
	}{{ha, nameA, addrA}, {hb, nameB, addrB}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			t.Fatalf("find %s: %v", side.name, err)
		}
		if err := side.h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{
			IP: side.addr.Addr().AsSlice(), Mask: net.CIDRMask(side.addr.Bits(), side.addr.Addr().BitLen())}}); err != nil {
			t.Fatalf("address %s: %v", side.name, err)
		}
		if err := side.h.LinkSetUp(l); err != nil {
			t.Fatalf("set %s up: %v", side.name, err)
		}
	}
}

// Transfer sends payload over TCP from namespace from to a listener on
// addr (any port) in namespace to, typically through a tunnel, and
// returns what arrived. It fails t when the connection cannot be made or
// nothing arrives within 25 s.
func Transfer(t testing.TB, from, to netns.NsHandle, addr netip.Addr, payload []byte) []byte {
	t.Helper()
	var ln net.Listener
	if err := Run(to, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	var c net.Conn
	if err := Run(from, func() error {
		var err error
		c, err = (&net.Dialer{Timeout: 10 * time.Second}).Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("dial %s through the tunnel: %v", ln.Addr(), err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("send through the tunnel: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		return b
	case <-time.After(25 * time.Second):
		t.Fatal("receiver timed out")
		return nil
	}
}
