// Package netconf does on a Linux host what wg-quick does around a
// WireGuard device — MTU, addresses, link up, routes — through rtnetlink,
// and records each change so that it can be undone.
//
// Changes apply to the network namespace of the calling thread at the time
// an Undo is first used; the Undo keeps a netlink socket in that namespace,
// so Run may later be called from any goroutine.
package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/undo"
)

// Undo records changes made by this package, newest last, and reverts
// them. The zero value is ready to use. An Undo belongs to one network
// namespace: the one its first use ran in.
type Undo struct {
	mu    sync.Mutex
	h     *netlink.Handle
	stack undo.Stack
}

// handle returns the Undo's netlink handle, opening it in the calling
// thread's namespace on first use. The caller holds u.mu.
func (u *Undo) handle() (*netlink.Handle, error) {
	if u.h == nil {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open rtnetlink socket: %w", err)
		}
		u.h = h
	}
	return u.h, nil
}

// Len reports how many changes are recorded.
func (u *Undo) Len() int { return u.stack.Len() }

// Run reverts the recorded changes newest first. It is best-effort: every
// step is tried, changes already gone (say, routes removed with their
// device; see undo.Gone) count as undone, and the other failures are
// joined into the returned error. Afterwards the Undo is empty and may be
// reused.
func (u *Undo) Run() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.h == nil {
		return nil
	}
	err := u.stack.Run()
	u.h.Close()
	u.h = nil
	return err
}

// ConfigureLink sets the MTU of link name (when mtu > 0), adds addrs, sets
// the link up and adds a device route for each of routes, recording each
// change in u. A route whose destination the link already has (say, the
// connected route of one of addrs) is left alone. On error the changes
// made so far stay recorded in u; the caller decides when to Run it.
func ConfigureLink(name string, mtu int, addrs []netip.Prefix, routes []netip.Prefix, u *Undo) error {
	if u == nil {
		return errors.New("configure link: nil Undo")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	h, err := u.handle()
	if err != nil {
		return err
	}
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	idx := link.Attrs().Index

	if old := link.Attrs().MTU; mtu > 0 && old != mtu {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, name, err)
		}
		u.stack.Push(fmt.Sprintf("MTU of %s", name), func() error {
			l, err := h.LinkByIndex(idx)
			if err != nil {
				return err
			}
			return h.LinkSetMTU(l, old)
		})
	}
	for _, a := range addrs {
		if !a.IsValid() {
			return fmt.Errorf("address on %s: invalid prefix", name)
		}
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if err := h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", a, name, err)
		}
		u.stack.Push(fmt.Sprintf("address %s on %s", a, name), func() error {
			l, err := h.LinkByIndex(idx)
			if err != nil {
				return err
			}
			return h.AddrDel(l, addr)
		})
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", name, err)
		}
		u.stack.Push(fmt.Sprintf("link %s up", name), func() error {
			l, err := h.LinkByIndex(idx)
			if err != nil {
				return err
			}
			return h.LinkSetDown(l)
		})
	}
	for _, dst := range routes {
		if !dst.IsValid() {
			return fmt.Errorf("route via %s: invalid prefix", name)
		}
		dst = dst.Masked()
		r := &netlink.Route{LinkIndex: idx, Dst: ipNet(dst), Scope: netlink.SCOPE_LINK}
		err := h.RouteAdd(r)
		if errors.Is(err, unix.EEXIST) && hasRoute(h, dst, idx) {
			continue // already routed to this link, e.g. the connected route
		}
		if err != nil {
			return fmt.Errorf("add route %s dev %s: %w", dst, name, err)
		}
		u.stack.Push(fmt.Sprintf("route %s dev %s", dst, name), func() error { return h.RouteDel(r) })
	}
	return nil
}

// AddRouteVia adds the route "dst via via" in the main table, recording it
// in u. The kernel picks the outgoing link from via.
func AddRouteVia(dst netip.Prefix, via netip.Addr, u *Undo) error {
	if u == nil {
		return errors.New("add route: nil Undo")
	}
	if !dst.IsValid() || !via.IsValid() {
		return fmt.Errorf("add route %s via %s: invalid destination or gateway", dst, via)
	}
	via = via.Unmap()
	if dst.Addr().Is4() != via.Is4() {
		return fmt.Errorf("add route %s via %s: destination and gateway are of different IP families", dst, via)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	h, err := u.handle()
	if err != nil {
		return err
	}
	dst = dst.Masked()
	r := &netlink.Route{Dst: ipNet(dst), Gw: via.AsSlice()}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("add route %s via %s: %w", dst, via, err)
	}
	u.stack.Push(fmt.Sprintf("route %s via %s", dst, via), func() error { return h.RouteDel(r) })
	return nil
}

// hasRoute reports whether the main table routes dst to link idx.
func hasRoute(h *netlink.Handle, dst netip.Prefix, idx int) bool {
	family := netlink.FAMILY_V4
	if dst.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	filter := &netlink.Route{Dst: ipNet(dst), Table: unix.RT_TABLE_MAIN}
	rs, err := h.RouteListFiltered(family, filter, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.LinkIndex == idx {
			return true
		}
	}
	return false
}

// ipNet converts a prefix, keeping the address's host bits.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
