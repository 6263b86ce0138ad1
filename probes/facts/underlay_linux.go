package facts

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl"
)

// liveEndpoints asks every WireGuard device of this network namespace
// (kernel and userspace) for its peers' endpoints.
func liveEndpoints() ([]Endpoint, error) {
	c, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("wgctrl: %w", err)
	}
	defer c.Close()
	devs, err := c.Devices()
	if err != nil {
		return nil, fmt.Errorf("wgctrl: list devices: %w", err)
	}
	var out []Endpoint
	for _, d := range devs {
		for _, p := range d.Peers {
			if p.Endpoint != nil {
				out = append(out, Endpoint{Device: d.Name, Addr: p.Endpoint.String()})
			}
		}
	}
	return out, nil
}

// routeGet returns the link the kernel routes addr through.
func routeGet(addr netip.Addr) (string, error) {
	routes, err := netlink.RouteGet(net.IP(addr.Unmap().AsSlice()))
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", addr, err)
	}
	if len(routes) == 0 || routes[0].LinkIndex == 0 {
		return "", fmt.Errorf("route to %s: no link", addr)
	}
	l, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("route to %s: link %d: %w", addr, routes[0].LinkIndex, err)
	}
	return l.Attrs().Name, nil
}
