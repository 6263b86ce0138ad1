package netsetup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/undo"
)

// forwardingPath is the IPv4 forwarding switch of the current network
// namespace.
const forwardingPath = "/proc/sys/net/ipv4/ip_forward"

// Setup is a plan applied to this host: the changes made, newest last.
type Setup struct {
	h     *netlink.Handle
	log   io.Writer
	stack undo.Stack
	kept  []string
}

// Changes describes the changes made, oldest first.
func (s *Setup) Changes() []string { return s.stack.Changes() }

// Kept lists what the plan needed but was already in place: it is left as
// it was, also at Undo.
func (s *Setup) Kept() []string { return slices.Clone(s.kept) }

// Undo reverts the changes newest first. Every step is tried; changes
// already gone (an address removed by hand, a link deleted; see
// undo.Gone) count as undone and the other failures are joined into the
// error. Undo is safe to call more than once.
func (s *Setup) Undo() error {
	err := s.stack.RunEach(func(what string) { s.logf("undone: %s", what) })
	if s.h != nil {
		s.h.Close()
		s.h = nil
	}
	return err
}

func (s *Setup) logf(format string, args ...any) {
	if s.log != nil {
		fmt.Fprintf(s.log, "net-setup: "+format+"\n", args...)
	}
}

func (s *Setup) did(what string, revert func() error) {
	s.stack.Push(what, revert)
	s.logf("%s", what)
}

// Apply carries the plan of c out on the calling thread's network
// namespace, logging each change to log (may be nil). On error the
// changes made so far are undone and nothing is left behind.
func Apply(c Config, log io.Writer) (s *Setup, err error) {
	p, err := PlanFor(c)
	if err != nil {
		return nil, err
	}
	specs := map[Port]Spec{}
	for _, port := range p.Ports {
		raw := c.LAN
		if port == WAN {
			raw = c.WAN
		}
		sp, err := ParseSpec(raw)
		if err != nil {
			return nil, fmt.Errorf("%s interface: %w", port, err)
		}
		specs[port] = sp
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	setup := &Setup{h: h, log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, setup.Undo())
			s = nil
		}
	}()
	s = setup
	links := map[Port]netlink.Link{}
	for _, port := range p.Ports {
		l, err := resolve(h, specs[port])
		if err != nil {
			return nil, fmt.Errorf("%s interface %s: %w", port, specs[port], err)
		}
		for other, ol := range links {
			if ol.Attrs().Index == l.Attrs().Index {
				return nil, fmt.Errorf("%s interface %s and %s interface %s are the same device %s; the gateways need two", port, specs[port], other, specs[other], l.Attrs().Name)
			}
		}
		links[port] = l
	}
	for _, port := range p.Ports {
		if err := setup.setMTU(links[port], c.MTU); err != nil {
			return nil, err
		}
	}
	if err := setup.addAddrs(p.Addrs, links); err != nil {
		return nil, err
	}
	for _, port := range p.Ports {
		if err := setup.setUp(links[port]); err != nil {
			return nil, err
		}
	}
	for _, r := range p.Routes {
		if err := setup.addRoute(r); err != nil {
			return nil, err
		}
	}
	if p.Forwarding {
		if err := setup.forward(); err != nil {
			return nil, err
		}
	}
	return setup, nil
}

// resolve finds the link sp names.
func resolve(h *netlink.Handle, sp Spec) (netlink.Link, error) {
	switch {
	case sp.Name != "":
		l, err := h.LinkByName(sp.Name)
		if err != nil {
			return nil, fmt.Errorf("no such interface (%w); list them with `ip -br link`", err)
		}
		return l, nil
	case sp.MAC != nil:
		all, err := h.LinkList()
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		var match []netlink.Link
		for _, l := range all {
			if bytes.Equal(l.Attrs().HardwareAddr, sp.MAC) {
				match = append(match, l)
			}
		}
		// Bonds, VLANs and bridges may share a NIC's MAC: prefer the
		// physical device.
		if len(match) > 1 {
			phys := slices.DeleteFunc(slices.Clone(match), func(l netlink.Link) bool { return l.Type() != "device" })
			if len(phys) > 0 {
				match = phys
			}
		}
		switch len(match) {
		case 0:
			return nil, errors.New("no interface has this MAC address; list them with `ip -br link`")
		case 1:
			return match[0], nil
		}
		names := make([]string, len(match))
		for i, l := range match {
			names[i] = l.Attrs().Name
		}
		return nil, fmt.Errorf("several interfaces have this MAC address (%s); name one instead", strings.Join(names, ", "))
	default:
		addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == sp.IP {
				return h.LinkByIndex(a.LinkIndex)
			}
		}
		return nil, errors.New("no interface holds this address; list them with `ip -br addr`")
	}
}

func (s *Setup) setMTU(l netlink.Link, mtu int) error {
	name, idx, old := l.Attrs().Name, l.Attrs().Index, l.Attrs().MTU
	if mtu <= 0 || old == mtu {
		return nil
	}
	if err := s.h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set MTU %d on %s: %w", mtu, name, err)
	}
	s.did(fmt.Sprintf("MTU of %s %d -> %d", name, old, mtu), func() error {
		l, err := s.h.LinkByIndex(idx)
		if err != nil {
			return err
		}
		return s.h.LinkSetMTU(l, old)
	})
	return nil
}

func (s *Setup) addAddrs(addrs []Addr, links map[Port]netlink.Link) error {
	existing, err := s.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	type where struct {
		link int
		bits int
	}
	have := map[netip.Addr]where{}
	for _, a := range existing {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			bits, _ := a.Mask.Size()
			have[ip.Unmap()] = where{a.LinkIndex, bits}
		}
	}
	for _, a := range addrs {
		l := links[a.Port]
		name, idx := l.Attrs().Name, l.Attrs().Index
		if w, ok := have[a.Prefix.Addr()]; ok {
			if w.link == idx && w.bits == a.Prefix.Bits() {
				s.kept = append(s.kept, fmt.Sprintf("address %s on %s", a.Prefix, name))
				s.logf("address %s on %s is already there; left in place", a.Prefix, name)
				continue
			}
			other := fmt.Sprintf("interface %d", w.link)
			if ol, err := s.h.LinkByIndex(w.link); err == nil {
				other = ol.Attrs().Name
			}
			return fmt.Errorf("address %s is already on %s/%d; the testbed needs it as %s on %s: remove it (ip addr del %s/%d dev %s) or name other interfaces",
				a.Prefix.Addr(), other, w.bits, a.Prefix, name, a.Prefix.Addr(), w.bits, other)
		}
		addr := &netlink.Addr{IPNet: ipNet(a.Prefix)}
		if err := s.h.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("add address %s to %s: %w", a.Prefix, name, err)
		}
		s.did(fmt.Sprintf("address %s on %s", a.Prefix, name), func() error {
			l, err := s.h.LinkByIndex(idx)
			if err != nil {
				return err
			}
			return s.h.AddrDel(l, addr)
		})
	}
	return nil
}

func (s *Setup) setUp(l netlink.Link) error {
	name, idx := l.Attrs().Name, l.Attrs().Index
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := s.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	s.did(fmt.Sprintf("link %s up", name), func() error {
		l, err := s.h.LinkByIndex(idx)
		if err != nil {
			return err
		}
		return s.h.LinkSetDown(l)
	})
	return nil
}

func (s *Setup) addRoute(r Route) error {
	dst := r.Dst.Masked()
	nr := &netlink.Route{Dst: ipNet(dst), Gw: r.Via.AsSlice()}
	err := s.h.RouteAdd(nr)
	if errors.Is(err, unix.EEXIST) {
		rs, lerr := s.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(dst), Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
		if lerr == nil {
			for _, x := range rs {
				if gw, ok := netip.AddrFromSlice(x.Gw); ok && gw.Unmap() == r.Via {
					s.kept = append(s.kept, fmt.Sprintf("route %s via %s", dst, r.Via))
					s.logf("route %s via %s is already there; left in place", dst, r.Via)
					return nil
				}
			}
		}
		return fmt.Errorf("add route %s via %s: another route for %s exists (see `ip route show %s`); remove it first", dst, r.Via, dst, dst)
	}
	if err != nil {
		return fmt.Errorf("add route %s via %s: %w", dst, r.Via, err)
	}
	s.did(fmt.Sprintf("route %s via %s", dst, r.Via), func() error { return s.h.RouteDel(nr) })
	return nil
}

func (s *Setup) forward() error {
	old, err := os.ReadFile(forwardingPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", forwardingPath, err)
	}
	if strings.TrimSpace(string(old)) == "1" {
		s.kept = append(s.kept, "IPv4 forwarding on")
		s.logf("IPv4 forwarding is already on; left on")
		return nil
	}
	if err := os.WriteFile(forwardingPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	s.did("IPv4 forwarding on", func() error { return os.WriteFile(forwardingPath, old, 0o644) })
	return nil
}

// ipNet converts a prefix, keeping the address's host bits.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// Serve applies c, writes "ready <n> changes" to out and holds the changes
// until ctx ends or, when watch is not nil, until watch reaches end of
// file (the controller's SSH session is gone); then it undoes them. The
// returned error is Apply's or Undo's.
func Serve(ctx context.Context, c Config, watch io.Reader, out, log io.Writer) error {
	s, err := Apply(c, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if watch != nil {
		go func() {
			io.Copy(io.Discard, watch)
			cancel(errors.New("standard input closed"))
		}()
	}
	if _, err := fmt.Fprintf(out, "ready %d changes\n", s.stack.Len()); err != nil {
		return errors.Join(fmt.Errorf("write ready line: %w", err), s.Undo())
	}
	<-ctx.Done()
	s.logf("stopping (%v): undoing %d changes", context.Cause(ctx), s.stack.Len())
	return s.Undo()
}
