// Package plain is the no-tunnel baseline datapath: the gateway only
// forwards, along static routes it adds and later removes.
package plain

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wgbench/wgbench/datapath/netconf"
)

// Route is a static route "Dst via Via".
type Route struct {
	// Dst is the destination prefix.
	Dst netip.Prefix
	// Via is the next hop.
	Via netip.Addr
}

// String formats r as "DST=VIA", the form ParseRoute reads.
func (r Route) String() string { return r.Dst.String() + "=" + r.Via.String() }

// ParseRoute reads "DST=VIA", e.g. "198.18.2.0/24=198.18.255.2"; a bare
// DST address is a host route.
func ParseRoute(s string) (Route, error) {
	dst, via, ok := strings.Cut(s, "=")
	if !ok {
		return Route{}, fmt.Errorf("route %q: want DST=VIA, e.g. 198.18.2.0/24=198.18.255.2", s)
	}
	var r Route
	var err error
	dst, via = strings.TrimSpace(dst), strings.TrimSpace(via)
	if r.Dst, err = netip.ParsePrefix(dst); err != nil {
		a, aerr := netip.ParseAddr(dst)
		if aerr != nil {
			return Route{}, fmt.Errorf("route %q: destination %q is not an IP prefix; write e.g. 198.18.2.0/24", s, dst)
		}
		r.Dst = netip.PrefixFrom(a, a.BitLen())
	}
	if r.Via, err = netip.ParseAddr(via); err != nil {
		return Route{}, fmt.Errorf("route %q: next hop %q is not an IP address; write e.g. 198.18.255.2", s, via)
	}
	if r.Dst.Addr().Is4() != r.Via.Unmap().Is4() {
		return Route{}, fmt.Errorf("route %q: destination and next hop are of different IP families", s)
	}
	r.Dst = r.Dst.Masked()
	return r, nil
}

// Engine is a set of installed routes.
type Engine struct {
	undo netconf.Undo
}

// Up adds routes in the calling thread's network namespace. If one fails,
// those already added are removed.
func Up(routes []Route) (*Engine, error) {
	e := &Engine{}
	for _, r := range routes {
		if err := netconf.AddRouteVia(r.Dst, r.Via, &e.undo); err != nil {
			return nil, errors.Join(fmt.Errorf("plain: %w", err), e.undo.Run())
		}
	}
	return e, nil
}

// Devices returns no names: the baseline creates no interfaces.
func (e *Engine) Devices() []string { return nil }

// Close removes the routes Up added.
func (e *Engine) Close() error {
	if err := e.undo.Run(); err != nil {
		return fmt.Errorf("plain: %w", err)
	}
	return nil
}
