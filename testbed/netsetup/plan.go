// Package netsetup applies the testbed's addressing plan to the data-plane
// interfaces of one real host: the logic of `wgbench agent net-setup`, which
// the SSH testbed driver runs on each of the four machines.
//
// The local driver wires namespaces itself; on real machines the cabling
// exists already and only the addressing of the testbed package has to be
// put on the named interfaces: link addresses, the per-flow addresses on
// source and drain, the routes between the sites, and IP forwarding on the
// gateways. Every change is recorded and undone in reverse order, and
// changes that were already in place are left alone, so a host ends as it
// began.
//
// Plan is pure (it says what a role needs); Apply carries a plan out
// through rtnetlink and /proc on the calling thread's network namespace.
package netsetup

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/wgbench/wgbench/testbed"
)

// Config says which role this host plays and which of its interfaces carry
// the testbed's links.
type Config struct {
	// Role is source, gw1, gw2 or drain.
	Role string
	// Tunnels and FlowsPerTunnel size the per-flow addresses on source and
	// drain: the largest values of the run's sweep.
	Tunnels, FlowsPerTunnel int
	// LAN is the interface towards the host's site (source and drain: their
	// only data-plane interface; gateways: the one towards source or
	// drain). WAN is the gateways' interface towards each other. Each is an
	// interface name ("enp65s0f0np0"), a MAC address ("1c:34:da:5a:1b:20")
	// or an IPv4 address the interface holds ("10.10.1.2").
	LAN, WAN string
	// MTU sets the MTU of the data-plane interfaces; 0 leaves it.
	MTU int
}

// Validate checks c without touching the host.
func (c Config) Validate() error {
	var errs []error
	switch c.Role {
	case testbed.Source, testbed.Drain:
		if c.WAN != "" {
			errs = append(errs, fmt.Errorf("%s has no WAN interface; remove --wan", c.Role))
		}
	case testbed.GW1, testbed.GW2:
		if c.WAN == "" {
			errs = append(errs, fmt.Errorf("%s needs its WAN interface (towards the other gateway): give --wan", c.Role))
		}
	case "":
		errs = append(errs, fmt.Errorf("no role given; choose one of %s", strings.Join(testbed.Roles, ", ")))
	default:
		errs = append(errs, fmt.Errorf("%q is not a role; choose one of %s", c.Role, strings.Join(testbed.Roles, ", ")))
	}
	if c.LAN == "" {
		errs = append(errs, errors.New("no LAN interface given: give --lan (a name, MAC or IPv4 address)"))
	}
	if c.LAN != "" && c.LAN == c.WAN {
		errs = append(errs, fmt.Errorf("LAN and WAN are the same interface %q; the gateways need two", c.LAN))
	}
	if c.Tunnels < 1 || c.Tunnels > testbed.MaxTunnels {
		errs = append(errs, fmt.Errorf("%d tunnels is out of range 1..%d", c.Tunnels, testbed.MaxTunnels))
	}
	if c.FlowsPerTunnel < 1 || c.FlowsPerTunnel > testbed.MaxFlowsPerTunnel {
		errs = append(errs, fmt.Errorf("%d flows per tunnel is out of range 1..%d", c.FlowsPerTunnel, testbed.MaxFlowsPerTunnel))
	}
	if c.MTU != 0 && (c.MTU < 1280 || c.MTU > 9000) {
		errs = append(errs, fmt.Errorf("MTU %d is out of range 1280..9000", c.MTU))
	}
	return errors.Join(errs...)
}

// Port names one data-plane interface of a plan.
type Port string

// The two data-plane interfaces a host may have.
const (
	LAN Port = "lan"
	WAN Port = "wan"
)

// Addr is an address to put on an interface.
type Addr struct {
	Port   Port
	Prefix netip.Prefix
}

// Route is a route via a next hop on a data-plane link.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// Plan is what one role needs on its host.
type Plan struct {
	Role string
	// Ports lists the data-plane interfaces the role uses.
	Ports []Port
	// Addrs are the link addresses, then the per-flow addresses.
	Addrs []Addr
	// Routes lead to the other site's addresses (source, drain) or to the
	// own site's flow addresses (gateways). The tunnels' routes are the
	// datapath's business.
	Routes []Route
	// Forwarding turns IPv4 forwarding on (gateways).
	Forwarding bool
}

// PlanFor returns the plan of c.Role. Source and drain reach the other
// site through their gateway with a route for the other site's /16 only,
// never a default route: on a real machine the default route is the
// management network the controller talks over.
func PlanFor(c Config) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	p := Plan{Role: c.Role}
	flows := func(drain bool) error {
		for t := 0; t < c.Tunnels; t++ {
			for f := 0; f < c.FlowsPerTunnel; f++ {
				src, dst, err := testbed.FlowAddrs(t, f)
				if err != nil {
					return err
				}
				a := src
				if drain {
					a = dst
				}
				p.Addrs = append(p.Addrs, Addr{LAN, netip.PrefixFrom(a, 32)})
			}
		}
		return nil
	}
	switch c.Role {
	case testbed.Source:
		p.Ports = []Port{LAN}
		p.Addrs = append(p.Addrs, Addr{LAN, testbed.SourceLAN})
		if err := flows(false); err != nil {
			return Plan{}, err
		}
		p.Routes = []Route{{testbed.DrainSite, testbed.GW1LAN.Addr()}}
	case testbed.GW1:
		p.Ports = []Port{LAN, WAN}
		p.Addrs = []Addr{{LAN, testbed.GW1LAN}, {WAN, testbed.GW1WAN}}
		p.Routes = []Route{{testbed.SourceSite, testbed.SourceLAN.Addr()}}
		p.Forwarding = true
	case testbed.GW2:
		p.Ports = []Port{WAN, LAN}
		p.Addrs = []Addr{{WAN, testbed.GW2WAN}, {LAN, testbed.GW2LAN}}
		p.Routes = []Route{{testbed.DrainSite, testbed.DrainLAN.Addr()}}
		p.Forwarding = true
	case testbed.Drain:
		p.Ports = []Port{LAN}
		p.Addrs = append(p.Addrs, Addr{LAN, testbed.DrainLAN})
		if err := flows(true); err != nil {
			return Plan{}, err
		}
		p.Routes = []Route{{testbed.SourceSite, testbed.GW2LAN.Addr()}}
	}
	return p, nil
}

// Spec is how an interface is named on the command line or in an
// inventory: by name, MAC address or an IPv4 address it holds.
type Spec struct {
	Name string
	MAC  net.HardwareAddr
	IP   netip.Addr
}

// ParseSpec reads an interface spec: a MAC address (six octets, colons or
// dashes), an IPv4 address, or else an interface name.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Spec{}, errors.New("empty interface")
	}
	if mac, err := net.ParseMAC(s); err == nil && len(mac) == 6 {
		return Spec{MAC: mac}, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if !ip.Is4() {
			return Spec{}, fmt.Errorf("interface address %s: only IPv4 addresses name interfaces", s)
		}
		return Spec{IP: ip}, nil
	}
	if len(s) > 15 || strings.ContainsAny(s, "/ \t\n:") {
		return Spec{}, fmt.Errorf("%q is neither an interface name (at most 15 characters, no '/', ':' or spaces), a MAC address nor an IPv4 address", s)
	}
	return Spec{Name: s}, nil
}

// String renders the spec as ParseSpec reads it.
func (s Spec) String() string {
	switch {
	case s.MAC != nil:
		return s.MAC.String()
	case s.IP.IsValid():
		return s.IP.String()
	}
	return s.Name
}
