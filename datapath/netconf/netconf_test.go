package netconf

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
)

// state is what the tests look at on a link.
type state struct {
	mtu    int
	up     bool
	addrs  map[string]bool
	routes map[string]bool // "dst" or "dst via gw"
}

func linkState(t *testing.T, h *netlink.Handle, name string) state {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	s := state{mtu: l.Attrs().MTU, up: l.Attrs().Flags&net.FlagUp != 0, addrs: map[string]bool{}, routes: map[string]bool{}}
	as, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		s.addrs[a.IPNet.String()] = true
	}
	rs, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		key := r.Dst.String()
		if r.Gw != nil {
			key += " via " + r.Gw.String()
		}
		s.routes[key] = true
	}
	return s
}

func newDummyNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	nstest.RequireRoot(t)
	ns := nstest.NewNS(t, "wgbtest-"+nstest.Suffix(t)+"-nc")
	h := nstest.Handle(t, ns)
	// A veth pair, since this kernel may lack the dummy driver; the peer
	// is up so that dum0 has carrier.
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "dum0", MTU: 1500}, PeerName: "dum1"}); err != nil {
		t.Fatalf("add veth link: %v", err)
	}
	peer, err := h.LinkByName("dum1")
	if err == nil {
		err = h.LinkSetUp(peer)
	}
	if err != nil {
		t.Fatalf("set dum1 up: %v", err)
	}
	return ns, h
}

func TestIntegrationUndo(t *testing.T) {
	ns, h := newDummyNS(t)
	var u Undo
	err := nstest.Run(ns, func() error {
		if err := ConfigureLink("dum0", 1400,
			[]netip.Prefix{netip.MustParsePrefix("198.18.1.1/24"), netip.MustParsePrefix("198.18.2.1/32")},
			[]netip.Prefix{netip.MustParsePrefix("198.18.10.7/24"), netip.MustParsePrefix("198.18.1.0/24")}, &u); err != nil {
			return err
		}
		return AddRouteVia(netip.MustParsePrefix("198.18.20.0/24"), netip.MustParseAddr("198.18.1.2"), &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Run() })

	got := linkState(t, h, "dum0")
	if got.mtu != 1400 || !got.up {
		t.Errorf("after ConfigureLink: mtu %d up %t, want 1400 true", got.mtu, got.up)
	}
	for _, a := range []string{"198.18.1.1/24", "198.18.2.1/32"} {
		if !got.addrs[a] {
			t.Errorf("address %s missing; have %v", a, got.addrs)
		}
	}
	for _, r := range []string{"198.18.10.0/24", "198.18.1.0/24", "198.18.20.0/24 via 198.18.1.2"} {
		if !got.routes[r] {
			t.Errorf("route %s missing; have %v", r, got.routes)
		}
	}
	// MTU, 2 addresses, up, 1 device route (the connected one is not ours), 1 via route.
	if n := u.Len(); n != 6 {
		t.Errorf("Undo.Len() = %d, want 6", n)
	}

	// Run from this goroutine, which is not in the namespace: the Undo
	// must still act on the namespace it recorded.
	if err := u.Run(); err != nil {
		t.Fatalf("Undo.Run: %v", err)
	}
	got = linkState(t, h, "dum0")
	if got.mtu != 1500 || got.up || len(got.addrs) != 0 || len(got.routes) != 0 {
		t.Errorf("after Undo.Run: mtu %d up %t addrs %v routes %v; want 1500 false none none",
			got.mtu, got.up, got.addrs, got.routes)
	}
	if n := u.Len(); n != 0 {
		t.Errorf("Undo.Len() after Run = %d, want 0", n)
	}
}

func TestIntegrationUndoToleratesGone(t *testing.T) {
	ns, h := newDummyNS(t)
	var u Undo
	err := nstest.Run(ns, func() error {
		return ConfigureLink("dum0", 0, []netip.Prefix{netip.MustParsePrefix("198.18.1.1/24")},
			[]netip.Prefix{netip.MustParsePrefix("198.18.10.0/24")}, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName("dum0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	if err := u.Run(); err != nil {
		t.Errorf("Undo.Run after the link vanished = %v, want nil", err)
	}
}

func TestIntegrationErrors(t *testing.T) {
	ns, _ := newDummyNS(t)
	tests := []struct {
		name string
		fn   func(u *Undo) error
		want string
	}{
		{"missing link", func(u *Undo) error { return ConfigureLink("nosuch0", 0, nil, nil, u) }, "find link nosuch0"},
		{"duplicate address", func(u *Undo) error {
			a := []netip.Prefix{netip.MustParsePrefix("198.18.1.1/24"), netip.MustParsePrefix("198.18.1.1/24")}
			return ConfigureLink("dum0", 0, a, nil, u)
		}, "add address 198.18.1.1/24 to dum0"},
		{"unreachable gateway", func(u *Undo) error {
			return AddRouteVia(netip.MustParsePrefix("198.18.20.0/24"), netip.MustParseAddr("198.18.99.1"), u)
		}, "add route 198.18.20.0/24 via 198.18.99.1"},
		{"mixed families", func(u *Undo) error {
			return AddRouteVia(netip.MustParsePrefix("2001:db8::/64"), netip.MustParseAddr("198.18.1.2"), u)
		}, "different IP families"},
		{"nil undo", func(*Undo) error {
			return AddRouteVia(netip.MustParsePrefix("198.18.20.0/24"), netip.MustParseAddr("198.18.1.2"), nil)
		}, "nil Undo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u Undo
			err := nstest.Run(ns, func() error { return tt.fn(&u) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
			if err := u.Run(); err != nil {
				t.Errorf("Undo.Run: %v", err)
			}
		})
	}
}
