package inline

import (
	"encoding/binary"
	"net/netip"
)

// allowedIPs is a peer's AllowedIPs as masks the data path can test
// without allocating. A tunnel has one peer, so a linear scan over its
// few prefixes beats a trie.
type allowedIPs struct {
	prefixes []netip.Prefix
	v4       []prefix4
	v6       []prefix6
}

type prefix4 struct{ addr, mask uint32 }

type prefix6 struct{ hi, lo, maskHi, maskLo uint64 }

// newAllowedIPs builds the matcher of ps (masked to their length).
func newAllowedIPs(ps []netip.Prefix) *allowedIPs {
	a := &allowedIPs{}
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		a.prefixes = append(a.prefixes, p)
		if p.Addr().Is4() {
			b := p.Addr().As4()
			mask := ^(^uint32(0) >> p.Bits()) // shifts by 32 give 0 in Go
			a.v4 = append(a.v4, prefix4{binary.BigEndian.Uint32(b[:]), mask})
			continue
		}
		b := p.Addr().As16()
		hiMask, loMask := maskBits(p.Bits())
		a.v6 = append(a.v6, prefix6{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), hiMask, loMask})
	}
	return a
}

// maskBits returns the two 64-bit halves of a /bits IPv6 mask.
func maskBits(bits int) (hi, lo uint64) {
	if bits <= 64 {
		return ^(^uint64(0) >> bits), 0
	}
	return ^uint64(0), ^(^uint64(0) >> (bits - 64))
}

// contains4 reports whether the IPv4 address in b[:4] is allowed.
func (a *allowedIPs) contains4(b []byte) bool {
	ip := binary.BigEndian.Uint32(b)
	for _, p := range a.v4 {
		if ip&p.mask == p.addr {
			return true
		}
	}
	return false
}

// contains6 reports whether the IPv6 address in b[:16] is allowed.
func (a *allowedIPs) contains6(b []byte) bool {
	hi, lo := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	for _, p := range a.v6 {
		if hi&p.maskHi == p.hi && lo&p.maskLo == p.lo {
			return true
		}
	}
	return false
}
