package inline

import "encoding/binary"

// IP header facts the data path needs.
const (
	ipv4HeaderSize = 20
	ipv6HeaderSize = 40
)

// innerLength returns the length of the IP packet at the start of p, from
// its header, and whether p holds a whole IPv4 or IPv6 packet (trailing
// bytes, such as WireGuard padding, are allowed).
func innerLength(p []byte) (int, bool) {
	if len(p) == 0 {
		return 0, false
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < ipv4HeaderSize {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(p[2:]))
		if n < ipv4HeaderSize || n > len(p) {
			return 0, false
		}
		return n, true
	case 6:
		if len(p) < ipv6HeaderSize {
			return 0, false
		}
		n := ipv6HeaderSize + int(binary.BigEndian.Uint16(p[4:]))
		if n > len(p) {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// sourceAllowed reports whether the source address of the well-formed IP
// packet p is in a.
func (a *allowedIPs) sourceAllowed(p []byte) bool {
	if p[0]>>4 == 4 {
		return a.contains4(p[12:16])
	}
	return a.contains6(p[8:24])
}

// destinationAllowed reports whether p is an IP packet whose destination
// is in a: the route lookup of a one-peer tunnel.
func (a *allowedIPs) destinationAllowed(p []byte) bool {
	switch {
	case len(p) >= ipv4HeaderSize && p[0]>>4 == 4:
		return a.contains4(p[16:20])
	case len(p) >= ipv6HeaderSize && p[0]>>4 == 6:
		return a.contains6(p[24:40])
	}
	return false
}
