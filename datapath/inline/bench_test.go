package inline

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// udpPacket is an IPv4/UDP packet of size bytes from src to dst.
func udpPacket(size int, src, dst netip.Addr) []byte {
	p := make([]byte, size)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(size))
	p[8], p[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], 4242)
	binary.BigEndian.PutUint16(p[22:], 4243)
	binary.BigEndian.PutUint16(p[24:], uint16(size-20))
	return p
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report sets the family's common metrics: packets/s, Gbit/s of inner
// packets, the CPU cores the process kept busy, and Gbit/s per busy core.
func report(b *testing.B, packets int64, size int, wall, cpu time.Duration) {
	pps := float64(packets) / wall.Seconds()
	gbps := pps * float64(size) * 8 / 1e9
	cores := cpu.Seconds() / wall.Seconds()
	b.ReportMetric(pps, "pkts/s")
	b.ReportMetric(gbps, "Gbit/s")
	b.ReportMetric(cores, "cores")
	b.ReportMetric(gbps/cores, "Gbit/s/core")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(max(packets, 1)), "ns/pkt")
}

// pairHarness is a sender A whose TUN generates packets and a receiver B
// whose TUN counts them, over a memNet.
type pairHarness struct {
	n       *memNet
	genTUN  *memTUN // A's
	sinkTUN *memTUN // B's
	bindA   *memBind
	bindB   *memBind
	privA   wgtypes.Key
	privB   wgtypes.Key
	packet  []byte
}

const benchBatch = 128

func newHarness(b *testing.B, size int) *pairHarness {
	n := newMemNet()
	h := &pairHarness{
		n:       n,
		genTUN:  newMemTUN(benchBatch, 1420),
		sinkTUN: newMemTUN(benchBatch, 1420),
		bindA:   n.newBind(underA, benchBatch),
		bindB:   n.newBind(underB, benchBatch),
		privA:   genKey(b),
		privB:   genKey(b),
		packet:  udpPacket(size, addrA, addrB),
	}
	h.genTUN.gen = h.packet
	h.sinkTUN.sink = true
	return h
}

// run pushes b.N packets through an established pair and reports.
func (h *pairHarness) run(b *testing.B, size int) {
	// Warm up: the first packet makes the handshake.
	h.genTUN.generate(1)
	deadline := time.Now().Add(10 * time.Second)
	for h.sinkTUN.sinkPackets.Load() < 1 {
		if time.Now().After(deadline) {
			b.Fatal("no session within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	base := h.sinkTUN.sinkPackets.Load()
	want := base + int64(b.N)
	runtime.GC()
	b.ResetTimer()
	cpu0, t0 := cpuTime(b), time.Now()
	h.genTUN.generate(int64(b.N))
	last, lastChange := base, time.Now()
	for {
		got := h.sinkTUN.sinkPackets.Load()
		if got >= want {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 2*time.Second {
			break // packets were lost; report what arrived
		}
		time.Sleep(50 * time.Microsecond)
	}
	wall, cpu := time.Since(t0), cpuTime(b)-cpu0
	b.StopTimer()
	delivered := h.sinkTUN.sinkPackets.Load() - base
	if lost := int64(b.N) - delivered; lost > 0 {
		b.ReportMetric(float64(lost)/float64(b.N), "lost")
		wall -= 2 * time.Second
	}
	report(b, delivered, size, wall, cpu)
}

// BenchmarkDatapath is the performance family: the raw AEAD bound of this
// machine (seal + open of one packet on one core, what a pair spends in
// crypto per packet), then a wireguard-go pair and an inline pair over the
// same in-memory batched TUN and network, sending one way for b.N
// packets. Compare Gbit/s/core: throughput per CPU core the process kept
// busy (the in-memory TUN and network are included for both pairs).
func BenchmarkDatapath(b *testing.B) {
	for _, size := range []int{1420, 64} {
		b.Run(fmt.Sprintf("size=%d/impl=aead-bound", size), func(b *testing.B) { benchAEAD(b, size) })
		b.Run(fmt.Sprintf("size=%d/impl=wireguard-go", size), func(b *testing.B) { benchWireGuardGo(b, size) })
		b.Run(fmt.Sprintf("size=%d/impl=inline", size), func(b *testing.B) { benchInline(b, size) })
	}
}

// benchAEAD seals and opens one packet in place per iteration, as a
// tunnel pair does, on one core.
func benchAEAD(b *testing.B, size int) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		b.Fatal(err)
	}
	a, _ := chacha20poly1305.New(k[:])
	var nonce [nonceSize]byte
	p := paddedLen(size, 1420)
	buf := make([]byte, p+tagSize)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(size))
	cpu0, t0 := cpuTime(b), time.Now()
	var ctr uint64
	for b.Loop() {
		binary.LittleEndian.PutUint64(nonce[4:], ctr)
		ctr++
		a.Seal(buf[:0], nonce[:], buf[:p], nil)
		if _, err := a.Open(buf[:0], nonce[:], buf[:p+tagSize], nil); err != nil {
			b.Fatal(err)
		}
	}
	report(b, int64(b.N), size, time.Since(t0), cpuTime(b)-cpu0)
}

func benchWireGuardGo(b *testing.B, size int) {
	h := newHarness(b, size)
	startWireGuardGo(b, h.sinkTUN, h.bindB, h.privB, wgPeer{pub: h.privA.PublicKey(), allowed: pfxA})
	startWireGuardGo(b, h.genTUN, h.bindA, h.privA, wgPeer{pub: h.privB.PublicKey(), allowed: pfxB, endpoint: underB.String()})
	h.run(b, size)
}

func benchInline(b *testing.B, size int) {
	h := newHarness(b, size)
	cpus, _ := allowedCPUs()
	pin := func(c *TunnelConfig, i int) {
		if len(cpus) > 0 {
			c.Pinned, c.CPU = true, cpus[i%len(cpus)]
		}
	}
	// As Up does: room in GOMAXPROCS for the pinned data threads.
	if want := maxProcsFor(2); runtime.GOMAXPROCS(0) < want {
		b.Cleanup(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(want)) })
	}
	cb := TunnelConfig{Name: "benchB", PrivateKey: h.privB, Peer: PeerConfig{PublicKey: h.privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}
	ca := TunnelConfig{Name: "benchA", PrivateKey: h.privA, Peer: PeerConfig{PublicKey: h.privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB}, Endpoint: underB}}
	pin(&cb, 1)
	pin(&ca, 0)
	startTunnel(b, h.sinkTUN, h.bindB, cb, nil)
	startTunnel(b, h.genTUN, h.bindA, ca, nil)
	h.run(b, size)
}
