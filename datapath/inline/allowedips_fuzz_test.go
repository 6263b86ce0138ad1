package inline

import (
	"net/netip"
	"testing"
)

// naiveAllowed is the oracle of allowedIPs: addr is allowed when some
// prefix contains it, by netip.Prefix.Contains, an IPv4-mapped IPv6
// prefix of at least 96 bits standing for its IPv4 prefix.
func naiveAllowed(ps []netip.Prefix, addr netip.Addr) bool {
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// fuzzPrefixes decodes prefixes from data, 18 bytes each: a family byte
// (even: IPv4), 16 address bytes (the first 4 for IPv4) and a length
// byte, taken modulo one more than the family's bit count.
func fuzzPrefixes(data []byte) []netip.Prefix {
	var ps []netip.Prefix
	for len(data) >= 18 && len(ps) < 16 {
		var a netip.Addr
		if data[0]%2 == 0 {
			a = netip.AddrFrom4([4]byte(data[1:5]))
		} else {
			a = netip.AddrFrom16([16]byte(data[1:17]))
		}
		ps = append(ps, netip.PrefixFrom(a, int(data[17])%(a.BitLen()+1)))
		data = data[18:]
	}
	return ps
}

// FuzzAllowedIPs checks the data path's allowed-IPs matcher against the
// naive one, for IPv4 and IPv6 addresses, and for addresses derived from
// the prefixes themselves (their first address, and with the bit just
// past the prefix flipped), where masks go wrong.
func FuzzAllowedIPs(f *testing.F) {
	seed := func(ps []netip.Prefix, addr netip.Addr) {
		var data []byte
		for _, p := range ps {
			fam := byte(0)
			a16 := p.Addr().As16()
			if p.Addr().Is4() {
				a4 := p.Addr().As4()
				copy(a16[:], a4[:])
			} else {
				fam = 1
			}
			data = append(data, fam)
			data = append(data, a16[:]...)
			data = append(data, byte(p.Bits()))
		}
		f.Add(data, addr.AsSlice())
	}
	mp := netip.MustParsePrefix
	ma := netip.MustParseAddr
	seed([]netip.Prefix{mp("10.0.0.0/8")}, ma("10.1.2.3"))
	seed([]netip.Prefix{mp("0.0.0.0/0")}, ma("192.0.2.1"))
	seed([]netip.Prefix{mp("192.0.2.1/32"), mp("2001:db8::/32")}, ma("2001:db8::1"))
	seed([]netip.Prefix{mp("::/0")}, ma("::1"))
	seed([]netip.Prefix{mp("2001:db8::/64")}, ma("2001:db8:0:1::1"))
	seed([]netip.Prefix{mp("2001:db8::/65")}, ma("2001:db8::8000:0:0:1"))
	seed([]netip.Prefix{mp("::ffff:10.0.0.0/104")}, ma("10.9.9.9"))
	seed([]netip.Prefix{mp("::ffff:0.0.0.0/95")}, ma("::ffff:1.2.3.4"))
	f.Fuzz(func(t *testing.T, data, addrBytes []byte) {
		ps := fuzzPrefixes(data)
		a := newAllowedIPs(ps)
		var addrs []netip.Addr
		if addr, ok := netip.AddrFromSlice(addrBytes); ok {
			addrs = append(addrs, addr)
		}
		for _, p := range ps {
			base := p.Masked().Addr()
			addrs = append(addrs, base)
			if p.Bits() < base.BitLen() {
				b := base.AsSlice()
				b[p.Bits()/8] ^= 0x80 >> (p.Bits() % 8)
				flipped, _ := netip.AddrFromSlice(b)
				addrs = append(addrs, flipped)
			}
			if p.Bits() > 0 {
				b := base.AsSlice()
				b[(p.Bits()-1)/8] ^= 0x80 >> ((p.Bits() - 1) % 8)
				inside, _ := netip.AddrFromSlice(b)
				addrs = append(addrs, inside)
			}
		}
		for _, addr := range addrs {
			var got bool
			if addr.Is4() {
				b := addr.As4()
				got = a.contains4(b[:])
			} else {
				b := addr.As16()
				got = a.contains6(b[:])
			}
			if want := naiveAllowed(ps, addr); got != want {
				t.Fatalf("prefixes %v, address %v: matcher says %t, naive %t", ps, addr, got, want)
			}
		}
	})
}
