//go:build !linux

package facts

import (
	"errors"
	"net/netip"
)

// liveEndpoints reports that WireGuard's netlink interface is Linux-only.
func liveEndpoints() ([]Endpoint, error) {
	return nil, errors.New("WireGuard peers are read over netlink, on Linux only")
}

// routeGet reports that route look-ups are Linux-only.
func routeGet(netip.Addr) (string, error) {
	return "", errors.New("route look-ups over netlink exist on Linux only")
}
