package inline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// The TX fuzz target's inner IPv6 addresses (the IPv4 ones are addrA and
// addrB).
var (
	addrA6 = netip.MustParseAddr("fd00:77::1")
	addrB6 = netip.MustParseAddr("fd00:77::2")
	other4 = netip.MustParseAddr("203.0.113.9")
	other6 = netip.MustParseAddr("fd00:99::9")
)

// fuzzMTU is the TUN MTU of the TX fuzz target's inline tunnel.
const fuzzMTU = 1420

// tunRead is one Read result of a scriptTUN: the packets it hands over
// (at most the caller's batch) and the error it returns with them.
type tunRead struct {
	pkts [][]byte
	err  error
}

// scriptTUN is a TUN device whose reads return scripted results, as a
// Linux TUN with a virtio header does after splitting a GSO super-packet:
// several packets per read, or some of them with ErrTooManySegments when
// the batch is too small. Writes are discarded.
type scriptTUN struct {
	reads  chan tunRead
	closed chan struct{}
	events chan tun.Event
	once   sync.Once
}

func newScriptTUN() *scriptTUN {
	t := &scriptTUN{reads: make(chan tunRead, 64), closed: make(chan struct{}), events: make(chan tun.Event, 1)}
	t.events <- tun.EventUp
	return t
}

func (t *scriptTUN) File() *os.File                          { return nil }
func (t *scriptTUN) MTU() (int, error)                       { return fuzzMTU, nil }
func (t *scriptTUN) Name() (string, error)                   { return "fuzztun", nil }
func (t *scriptTUN) Events() <-chan tun.Event                { return t.events }
func (t *scriptTUN) BatchSize() int                          { return maxBatch }
func (t *scriptTUN) Write(bufs [][]byte, _ int) (int, error) { return len(bufs), nil }

func (t *scriptTUN) Close() error {
	t.once.Do(func() { close(t.closed); close(t.events) })
	return nil
}

func (t *scriptTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case r := <-t.reads:
		if len(r.pkts) > len(bufs) {
			return 0, fmt.Errorf("script TUN: %d packets for a batch of %d", len(r.pkts), len(bufs))
		}
		for i, p := range r.pkts {
			if len(p) > len(bufs[i])-offset {
				return 0, fmt.Errorf("script TUN: %d-byte packet for a %d-byte buffer", len(p), len(bufs[i])-offset)
			}
			sizes[i] = copy(bufs[i][offset:], p)
		}
		return len(r.pkts), r.err
	case <-t.closed:
		return 0, os.ErrClosed
	}
}

// txSlotRoom is the plaintext room of a TX read buffer after the offset:
// larger packets cannot come out of a TUN read.
var txSlotRoom = messageRoom((fuzzMTU+15)&^15, fuzzMTU) - transportHeaderSize

// txScript decodes fuzz input into TUN reads. Each read starts with an op
// byte: a batch of packets, a GSO super-packet split into segments the
// way the TUN's virtio header asks (gso_size, TCP or UDP), or an empty
// read.
type txScript struct{ b []byte }

func (s *txScript) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *txScript) uint16() int { return int(s.byte())<<8 | int(s.byte()) }

// reads returns the scripted reads, at most 8.
func (s *txScript) reads() []tunRead {
	var out []tunRead
	for len(s.b) > 0 && len(out) < 8 {
		switch op := s.byte(); op % 4 {
		case 0, 1:
			n := 1 + int(s.byte())%maxBatch
			var r tunRead
			for range n {
				if len(s.b) == 0 {
					break
				}
				r.pkts = append(r.pkts, s.packet())
			}
			out = append(out, r)
		case 2:
			out = append(out, s.gso())
		case 3:
			out = append(out, tunRead{})
		}
	}
	return out
}

// addrs picks the source and destination of a packet from flags: mostly
// the tunnel's own ends, sometimes addresses neither side allows.
func addrs(flags byte, v6 bool) (src, dst netip.Addr) {
	src, dst = addrA, addrB
	if v6 {
		src, dst = addrA6, addrB6
	}
	if flags&0x10 != 0 {
		if v6 {
			dst = other6
		} else {
			dst = other4
		}
	}
	if flags&0x20 != 0 {
		if v6 {
			src = other6
		} else {
			src = other4
		}
	}
	return src, dst
}

// packet decodes one inner packet: flags (IP version, addresses, a length
// field that lies, a garbage first byte), a size and a fill byte.
func (s *txScript) packet() []byte {
	flags, size, fill := s.byte(), s.uint16()%(txSlotRoom+1), s.byte()
	v6 := flags&1 != 0
	src, dst := addrs(flags, v6)
	p := make([]byte, size)
	for i := range p {
		p[i] = fill + byte(i)
	}
	writeIPHeader(p, src, dst, 17)
	if flags&0x40 != 0 { // the header's length lies
		lie := int(s.byte()) - 128
		setIPLength(p, len(p)+lie)
	}
	if flags&0x80 != 0 && len(p) > 0 {
		p[0] = s.byte() // any version nibble
	}
	return p
}

// gso decodes a GSO super-packet (IP version, TCP or UDP, gso_size, total
// payload) and splits it into the segments a TUN read hands over; when
// there are more segments than a batch holds, the read returns the first
// maxBatch-1 with tun.ErrTooManySegments, as wireguard-go's TUN does.
func (s *txScript) gso() tunRead {
	flags, gsoSize, payload, fill := s.byte(), 1+s.uint16()%fuzzMTU, s.uint16(), s.byte()
	v6, udp := flags&1 != 0, flags&2 != 0
	src, dst := addrs(flags, v6)
	ipLen, l4Len, proto := ipv4HeaderSize, 20, byte(6)
	if v6 {
		ipLen = ipv6HeaderSize
	}
	if udp {
		l4Len, proto = 8, 17
	}
	hdr := ipLen + l4Len
	var r tunRead
	seq := uint32(1000)
	for at := 0; at < payload || (payload == 0 && at == 0); at += gsoSize {
		if len(r.pkts) == maxBatch {
			r.pkts, r.err = r.pkts[:maxBatch-1], tun.ErrTooManySegments
			break
		}
		n := min(gsoSize, payload-at)
		if hdr+n > txSlotRoom {
			n = txSlotRoom - hdr // the kernel caps gso_size to the device
		}
		p := make([]byte, hdr+max(n, 0))
		for i := hdr; i < len(p); i++ {
			p[i] = fill + byte(at+i)
		}
		writeIPHeader(p, src, dst, proto)
		if udp {
			binary.BigEndian.PutUint16(p[ipLen+4:], uint16(8+max(n, 0)))
		} else {
			binary.BigEndian.PutUint32(p[ipLen+4:], seq)
			p[ipLen+12] = 5 << 4
			seq += uint32(max(n, 0))
		}
		r.pkts = append(r.pkts, p)
		if n <= 0 {
			break
		}
	}
	return r
}

// writeIPHeader writes an IPv4 or IPv6 header for a packet of len(p)
// bytes as far as p has room for it.
func writeIPHeader(p []byte, src, dst netip.Addr, proto byte) {
	var h [ipv6HeaderSize]byte
	if src.Is4() {
		h[0], h[8], h[9] = 0x45, 64, proto
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		copy(p, h[:ipv4HeaderSize])
	} else {
		h[0], h[6], h[7] = 0x60, proto, 64
		s, d := src.As16(), dst.As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
		copy(p, h[:])
	}
	setIPLength(p, len(p))
}

// setIPLength sets the length field of p's header to say n bytes.
func setIPLength(p []byte, n int) {
	switch {
	case len(p) >= 4 && p[0]>>4 == 4:
		binary.BigEndian.PutUint16(p[2:], uint16(n))
	case len(p) >= 6 && p[0]>>4 == 6:
		binary.BigEndian.PutUint16(p[4:], uint16(n-ipv6HeaderSize))
	}
}

// txOracle is what the reference peer must deliver for p, a packet a TUN
// read handed the inline tunnel, and whether it must (or, for optional,
// may) deliver anything. A packet is valid to send when it is not empty
// and goes to the peer's allowed IPs; the peer then pads it, decrypts it,
// trims it to its header's length and checks its source (whitepaper
// 5.4.6; the independent rules of wireguard-go's receive path). A packet
// larger than the MTU, which no real TUN hands over, is optional: both
// wireguard-go and kernel WireGuard send it, the inline engine sends it
// while it fits its buffer slot; it may be dropped, but not mangled.
func txOracle(p []byte) (want []byte, ok, optional bool) {
	optional = len(p) > fuzzMTU
	want, ok = txValid(p)
	return want, ok, optional
}

// txValid is txOracle without the MTU rule.
func txValid(p []byte) ([]byte, bool) {
	if len(p) == 0 {
		return nil, false
	}
	toPeer := func(a netip.Addr) bool { return a == addrB || a == addrB6 }
	fromUs := func(a netip.Addr) bool { return a == addrA || a == addrA6 }
	padded := append(append([]byte(nil), p...), make([]byte, paddedLen(len(p), fuzzMTU)-len(p))...)
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return nil, false
		}
		src, _ := netip.AddrFromSlice(p[12:16])
		dst, _ := netip.AddrFromSlice(p[16:20])
		n := int(binary.BigEndian.Uint16(p[2:]))
		if !toPeer(dst) || n < 20 || n > len(padded) || !fromUs(src) {
			return nil, false
		}
		return padded[:n], true
	case 6:
		if len(p) < 40 {
			return nil, false
		}
		src, _ := netip.AddrFromSlice(p[8:24])
		dst, _ := netip.AddrFromSlice(p[24:40])
		// wireguard-go adds the header length to the payload length in
		// 16 bits, so a payload length above 65495 wraps to a short
		// length (and an empty packet goes out of its TUN). That is the
		// reference's quirk, not the sender's: model it.
		n := (40 + int(binary.BigEndian.Uint16(p[4:]))) & 0xffff
		if !toPeer(dst) || n > len(padded) || !fromUs(src) {
			return nil, false
		}
		return padded[:n], true
	}
	return nil, false
}

// FuzzTransmit feeds scripted TUN reads (batches of random inner packets
// of random sizes, GSO super-packets split by gso_size, reads cut short
// by ErrTooManySegments, empty reads) to an inline tunnel's TX thread and
// decrypts everything it sends on a reference wireguard-go peer: the peer
// must deliver exactly the packets that were valid to send, in order, and
// no send counter may repeat. A sentinel packet after each input marks
// where its packets end.
func FuzzTransmit(f *testing.F) {
	seed := func(b ...byte) { f.Add(b) }
	seed(0, 0, 0, 0, 100, 1)                                        // one IPv4 packet
	seed(0, 2, 1, 0, 200, 2, 0, 0, 140, 3, 0, 0, 20, 4)             // IPv6, IPv4, a bare IPv4 header
	seed(1, 2, 0x10, 0, 60, 5, 0x20, 0, 60, 6, 0x40, 0, 90, 7, 100) // foreign dst, foreign src, lying length
	seed(0, 0, 0x80, 0, 64, 8, 0x35)                                // a bad version nibble
	seed(0, 1, 0, 0x05, 0x89, 9, 0, 0x05, 0x8c, 10)                 // 1417 bytes and the MTU
	seed(0, 1, 0, 0x05, 0xa0, 11, 0, 0x05, 0x8d, 12)                // larger than the MTU: 1440, 1421
	seed(2, 0, 0x05, 0x78, 0x20, 0x00, 12)                          // TCPv4 GSO, 1401-byte segments
	seed(2, 3, 0, 100, 0x30, 0x00, 13)                              // UDPv6 GSO, too many segments
	seed(2, 0x10, 0, 200, 0x10, 0x00, 14)                           // GSO to a foreign address
	seed(3, 0, 0, 0, 0, 0, 15, 3)                                   // empty reads around an empty packet
	n := newMemNet()
	fuzzTUN := newScriptTUN()
	privI, privW := genKey(f), genKey(f)
	peerTUN := newMemTUN(maxBatch, 1<<16)
	wgEP := netip.MustParseAddrPort("198.18.0.2:51820")
	inEP := netip.MustParseAddrPort("198.18.0.1:51820")
	in := startTunnel(f, fuzzTUN, n.NewBind(inEP, maxBatch), TunnelConfig{Name: "fuzzTX", PrivateKey: privI,
		Peer: PeerConfig{PublicKey: privW.PublicKey(), Endpoint: wgEP,
			AllowedIPs: []netip.Prefix{pfxB, netip.PrefixFrom(addrB6, 128)}}}, nil)
	pubI := privI.PublicKey()
	wg := startWireGuardGo(f, peerTUN, n.NewBind(wgEP, maxBatch), privW, wgPeer{pub: privI.PublicKey(), allowed: pfxA})
	if err := wg.IpcSet(fmt.Sprintf("public_key=%x\nallowed_ip=%s\n", pubI[:], netip.PrefixFrom(addrA6, 128))); err != nil {
		f.Fatalf("give wireguard-go the IPv6 allowed IP: %v", err)
	}

	// Every transport message the inline tunnel sends: its counters must
	// never repeat.
	var (
		tapMu sync.Mutex
		seen  = map[[12]byte]bool{}
		reuse string
	)
	n.SetTap(func(from, _ netip.AddrPort, b []byte) bool {
		if from != inEP || messageType(b) != msgTransport || len(b) < transportHeaderSize {
			return true
		}
		var k [12]byte
		copy(k[:], b[4:16])
		tapMu.Lock()
		if seen[k] && reuse == "" {
			reuse = fmt.Sprintf("receiver %x counter %d sent twice", b[4:8], binary.LittleEndian.Uint64(b[8:16]))
		}
		seen[k] = true
		tapMu.Unlock()
		return true
	})

	var (
		mu    sync.Mutex
		round uint32
	)
	sentinel := func(r uint32) []byte {
		p := udpPacket(64, addrA, addrB)
		copy(p[28:], "sentinel")
		binary.BigEndian.PutUint32(p[36:], r)
		return p
	}
	// The first sentinel makes the handshake.
	fuzzTUN.reads <- tunRead{pkts: [][]byte{sentinel(0)}}
	expectPacket(f, peerTUN.Out, sentinel(0), "handshake sentinel")
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		round++
		script := &txScript{b: data}
		var want []txWant
		for _, r := range script.reads() {
			for _, p := range r.pkts {
				if w, ok, opt := txOracle(p); ok {
					want = append(want, txWant{w, opt})
				}
			}
			fuzzTUN.reads <- r
		}
		end := sentinel(round)
		fuzzTUN.reads <- tunRead{pkts: [][]byte{end}}
		var got [][]byte
		deadline := time.After(5 * time.Second)
	collect:
		for {
			select {
			case p := <-peerTUN.Out:
				if bytes.Equal(p, end) {
					break collect
				}
				got = append(got, p)
			case <-deadline:
				t.Fatalf("round %d: the sentinel did not arrive within 5s (%d of %d packets did; inline stats %+v)",
					round, len(got), len(want), in.Stats())
			case <-in.Done():
				t.Fatalf("round %d: the tunnel stopped: %v", round, in.Err())
			}
		}
		tapMu.Lock()
		r := reuse
		tapMu.Unlock()
		if r != "" {
			t.Fatalf("round %d: nonce reuse: %s", round, r)
		}
		if err := matchTx(got, want); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	})
}

// txWant is a packet the reference peer must (or, if optional, may)
// deliver.
type txWant struct {
	p        []byte
	optional bool
}

// matchTx checks that got is want in order, optional packets left out or
// not.
func matchTx(got [][]byte, want []txWant) error {
	i := 0
	for j, g := range got {
		for i < len(want) && want[i].optional && !bytes.Equal(g, want[i].p) {
			i++
		}
		if i == len(want) {
			return fmt.Errorf("packet #%d arrived but was not valid to send (%d bytes, %x)", j, len(g), head(g))
		}
		if !bytes.Equal(g, want[i].p) {
			return fmt.Errorf("packet #%d differs: got %d bytes %x, want %d bytes %x", j, len(g), head(g), len(want[i].p), head(want[i].p))
		}
		i++
	}
	for ; i < len(want); i++ {
		if !want[i].optional {
			return fmt.Errorf("%d packets arrived; missing one of %d bytes: %x", len(got), len(want[i].p), head(want[i].p))
		}
	}
	return nil
}

// head is the start of p, for failure messages.
func head(p []byte) []byte { return p[:min(len(p), 48)] }
