package facts

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// endpointsFile is the snapshot file (below wgbench/) that records the
// WireGuard peers' endpoints, one "<device> <ip:port>" a line: the kernel
// tells them only over netlink, so a snapshot keeps them beside proc/.
const endpointsFile = "wg-endpoints"

// Route is one route of the main routing table (proc/net/route and
// proc/net/ipv6_route).
type Route struct {
	// Dst is the destination prefix, "0.0.0.0/0" for the default route.
	Dst string `json:"dst"`
	Dev string `json:"dev"`
	// Gateway is the next hop; empty for a directly connected prefix.
	Gateway string `json:"gateway,omitempty"`
	Metric  int    `json:"metric,omitempty"`
}

// Endpoint is a WireGuard peer's endpoint and the link the host routes
// it through.
type Endpoint struct {
	// Device is the WireGuard device the peer belongs to.
	Device string `json:"device"`
	// Addr is the peer's endpoint, ip:port.
	Addr string `json:"endpoint"`
	// Link is the link the route to Addr leaves by, and Via how it was
	// looked up ("netlink" on the live host, "proc/net/route" in a
	// snapshot); both empty when no route was found.
	Link string `json:"link,omitempty"`
	Via  string `json:"via,omitempty"`
}

// Underlay is the link the host's tunnels are carried on, and why it is
// that one.
type Underlay struct {
	Link string `json:"link"`
	// How is one of the How* constants.
	How string `json:"how"`
	// Reason says how the link was found, in words.
	Reason string `json:"reason"`
}

// How an underlay was found, most certain first.
const (
	// HowEndpoints: the route to the WireGuard peers' endpoints.
	HowEndpoints = "peer-endpoints"
	// HowTestbed: the WAN link a testbed used (from a run folder).
	HowTestbed = "testbed-wan"
	// HowFastest: no endpoint known; the fastest physical port that is up.
	HowFastest = "fastest-port"
	// HowDefault: no physical port up; the default route's link.
	HowDefault = "default-route"
	// HowOther: none of these; a software link (veth) of the host.
	HowOther = "other-link"
)

// Found reports whether the underlay rests on the tunnels' own routes
// (endpoints or the testbed), not on a guess.
func (u *Underlay) Found() bool {
	return u != nil && (u.How == HowEndpoints || u.How == HowTestbed)
}

// TestbedWAN is what a run folder tells of a gateway's WAN: the WAN
// subnet (run.json addressing) and the name the testbed gives the link.
type TestbedWAN struct {
	Subnet netip.Prefix
	Link   string
	// Where names the source in reasons ("run.json").
	Where string
}

// ChooseUnderlay returns the link h's tunnels are carried on: the link of
// the route to the WireGuard peers' endpoints; else, with wan, the link
// of the route to the testbed's WAN subnet (or the link the testbed names
// so); else the fastest physical port that is up; else the default
// route's link; else a veth or other software link. It returns nil when
// the host has no link but tunnels.
func ChooseUnderlay(h *Host, wan *TestbedWAN) *Underlay {
	if u := endpointUnderlay(h); u != nil {
		return u
	}
	if wan != nil {
		if u := testbedUnderlay(h, *wan); u != nil {
			return u
		}
	}
	if u := fastestPort(h); u != nil {
		return u
	}
	if l, ok := h.Link(h.DefaultRoute); ok && !isTunnel(l) {
		return &Underlay{Link: l.Name, How: HowDefault,
			Reason: fmt.Sprintf("no WireGuard peer endpoint known and no physical port up: the default route's link %s", l.Name)}
	}
	var best *Link
	for i, l := range h.Links {
		if isTunnel(l) {
			continue
		}
		if best == nil || (l.Kind == KindVeth && best.Kind != KindVeth) || (l.Kind == best.Kind && l.MTU < best.MTU) {
			best = &h.Links[i]
		}
	}
	if best == nil {
		return nil
	}
	return &Underlay{Link: best.Name, How: HowOther,
		Reason: fmt.Sprintf("no WireGuard peer endpoint, physical port or default route known: %s link %s (the smallest MTU of its kind)", best.Kind, best.Name)}
}

func isTunnel(l Link) bool { return l.Kind == KindWireGuard || l.Kind == KindTun }

// endpointUnderlay picks the link most peer endpoints are routed through.
func endpointUnderlay(h *Host) *Underlay {
	count := map[string]int{}
	var order []string
	first := map[string]Endpoint{}
	for _, e := range h.Endpoints {
		link, via := e.Link, e.Via
		if link == "" {
			ap, err := netip.ParseAddrPort(e.Addr)
			if err != nil {
				continue
			}
			r, ok := h.RouteTo(ap.Addr())
			if !ok {
				continue
			}
			link, via = r.Dev, "the routing table (proc/net/route)"
		}
		l, ok := h.Link(link)
		if !ok || isTunnel(l) {
			continue
		}
		if count[link] == 0 {
			order = append(order, link)
			e.Link, e.Via = link, via
			first[link] = e
		}
		count[link]++
	}
	if len(order) == 0 {
		return nil
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(count[b], count[a]) })
	e := first[order[0]]
	total := 0
	for _, n := range count {
		total += n
	}
	reason := fmt.Sprintf("the route to the WireGuard peers' endpoints: %d of %d (e.g. %s's peer %s, looked up through %s)", count[order[0]], total, e.Device, e.Addr, e.Via)
	if len(order) > 1 {
		reason += fmt.Sprintf("; others leave by %s", strings.Join(order[1:], ", "))
	}
	return &Underlay{Link: order[0], How: HowEndpoints, Reason: reason}
}

// testbedUnderlay finds the testbed's WAN link: the route to its subnet,
// else the link it names.
func testbedUnderlay(h *Host, wan TestbedWAN) *Underlay {
	where := cmp.Or(wan.Where, "the run")
	if wan.Subnet.IsValid() {
		if r, ok := h.RouteTo(wan.Subnet.Masked().Addr()); ok {
			if l, ok := h.Link(r.Dev); ok && !isTunnel(l) && r.Dst != "0.0.0.0/0" && r.Dst != "::/0" {
				return &Underlay{Link: l.Name, How: HowTestbed,
					Reason: fmt.Sprintf("the testbed's WAN: the route to its subnet %s (%s) leaves by %s", wan.Subnet, where, l.Name)}
			}
		}
	}
	if wan.Link != "" {
		if l, ok := h.Link(wan.Link); ok && !isTunnel(l) {
			return &Underlay{Link: l.Name, How: HowTestbed,
				Reason: fmt.Sprintf("the testbed's WAN link, which it names %s (%s)", l.Name, where)}
		}
	}
	return nil
}

// fastestPort picks the fastest physical port that is up; on a tie, one
// that does not carry the default route (on testbeds such as CloudLab the
// default route is the control network's).
func fastestPort(h *Host) *Underlay {
	var up []Link
	for _, l := range h.Links {
		if l.Kind == KindPhysical && l.State == "up" {
			up = append(up, l)
		}
	}
	if len(up) == 0 {
		return nil
	}
	slices.SortStableFunc(up, func(a, b Link) int {
		return cmp.Or(cmp.Compare(b.SpeedMbps, a.SpeedMbps),
			cmp.Compare(boolRank(a.Name == h.DefaultRoute), boolRank(b.Name == h.DefaultRoute)))
	})
	best := up[0]
	reason := fmt.Sprintf("no WireGuard peer endpoint known: the fastest physical port that is up, %s (%s)", best.Name, speed(best.SpeedMbps))
	if len(up) > 1 {
		var others []string
		for _, l := range up[1:] {
			others = append(others, fmt.Sprintf("%s %s", l.Name, speed(l.SpeedMbps)))
		}
		reason += "; also up: " + strings.Join(others, ", ")
		if up[1].SpeedMbps == best.SpeedMbps && h.DefaultRoute != "" && best.Name != h.DefaultRoute {
			reason += fmt.Sprintf(" (on a tie, not the default route's %s)", h.DefaultRoute)
		}
	}
	return &Underlay{Link: best.Name, How: HowFastest, Reason: reason}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func speed(mbps int) string {
	switch {
	case mbps <= 0:
		return "speed unknown"
	case mbps%1000 == 0:
		return fmt.Sprintf("%d Gbit/s", mbps/1000)
	}
	return fmt.Sprintf("%d Mbit/s", mbps)
}

// RouteTo returns the route of h.Routes that addr takes: the longest
// matching prefix, the lowest metric among equals.
func (h *Host) RouteTo(addr netip.Addr) (Route, bool) {
	var best Route
	bestBits := -1
	for _, r := range h.Routes {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil || !p.Contains(addr.Unmap()) {
			continue
		}
		if p.Bits() > bestBits || (p.Bits() == bestBits && r.Metric < best.Metric) {
			best, bestBits = r, p.Bits()
		}
	}
	return best, bestBits >= 0
}

// rtfUp is RTF_UP in proc/net/route's flags.
const rtfUp = 0x1

// readRoutes reads the main table's routes from proc/net/route and
// proc/net/ipv6_route.
func readRoutes(t *tree) []Route {
	var out []Route
	if s, err := t.read("proc/net/route"); err == nil {
		for _, line := range strings.Split(s, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			flags, err := strconv.ParseUint(f[3], 16, 32)
			if err != nil || flags&rtfUp == 0 {
				continue
			}
			dst, ok1 := hexIPv4(f[1])
			gw, ok2 := hexIPv4(f[2])
			mask, ok3 := hexIPv4(f[7])
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			m := mask.As4()
			bits := 0
			for _, b := range m {
				for ; b&0x80 != 0; b <<= 1 {
					bits++
				}
			}
			r := Route{Dst: netip.PrefixFrom(dst, bits).Masked().String(), Dev: f[0]}
			if !gw.IsUnspecified() {
				r.Gateway = gw.String()
			}
			r.Metric, _ = strconv.Atoi(f[6])
			out = append(out, r)
		}
	}
	if s, err := t.read("proc/net/ipv6_route"); err == nil {
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) != 10 || f[9] == "lo" {
				continue
			}
			dst, ok1 := hexIPv6(f[0])
			gw, ok2 := hexIPv6(f[4])
			bits, err1 := strconv.ParseUint(f[1], 16, 8)
			metric, err2 := strconv.ParseUint(f[5], 16, 32)
			if !ok1 || !ok2 || err1 != nil || err2 != nil || bits > 128 {
				continue
			}
			r := Route{Dst: netip.PrefixFrom(dst, int(bits)).Masked().String(), Dev: f[9], Metric: int(metric)}
			if !gw.IsUnspecified() {
				r.Gateway = gw.String()
			}
			out = append(out, r)
		}
	}
	return out
}

// hexIPv4 decodes an address of proc/net/route (host byte order, which
// is little-endian on every machine wgbench runs on).
func hexIPv4(s string) (netip.Addr, bool) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, false
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), true
}

// hexIPv6 decodes an address of proc/net/ipv6_route (32 hex digits).
func hexIPv6(s string) (netip.Addr, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(b)), true
}

// readEndpoints reads the WireGuard peers' endpoints: over netlink on the
// live host (recorded in the snapshot), else from the snapshot's file.
func readEndpoints(t *tree, h *Host, live bool) {
	if !live {
		s, err := t.read(extraDir + "/" + endpointsFile)
		if err != nil {
			return
		}
		for _, line := range strings.Split(s, "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				h.Endpoints = append(h.Endpoints, Endpoint{Device: f[0], Addr: f[1]})
			}
		}
		return
	}
	eps, err := liveEndpoints()
	if err != nil {
		if len(h.Tunnels()) > 0 {
			h.Notes = append(h.Notes, "WireGuard peer endpoints not read: "+err.Error())
		}
		return
	}
	var b strings.Builder
	for _, e := range eps {
		// Userspace devices' control sockets are shared by all network
		// namespaces: keep the devices of this one.
		if _, ok := h.Link(e.Device); !ok {
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", e.Device, e.Addr)
		if ap, err := netip.ParseAddrPort(e.Addr); err == nil {
			if link, err := routeGet(ap.Addr()); err == nil {
				e.Link, e.Via = link, "netlink (RouteGet)"
			}
		}
		h.Endpoints = append(h.Endpoints, e)
	}
	eps = h.Endpoints
	if len(eps) > 0 {
		t.rec.extra(endpointsFile, []byte(b.String()))
	}
}
