package inline

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/wgbench/wgbench/datapath/inline/internal/memnet"
)

// BenchmarkStdNetBindLoopback sends b.N 1420-byte packets one way through
// two unpinned tunnels over wireguard-go's StdNetBind on loopback (UDP
// GSO and GRO when the kernel offers them), from a paced generator TUN to
// a sink TUN. It reports ns and CPU ns (whole process) per packet: the
// TX layout for StdNetBind (see newTxState) is measured here, since
// package inlinebench's pairs run over an in-memory bind.
func BenchmarkStdNetBindLoopback(b *testing.B) {
	const batch, mtu, size = 128, 1420, 1420
	gen := memnet.NewGenerator(batch, mtu, memnet.UDPPacket(size, addrA, addrB))
	sink := memnet.NewSink(batch, mtu)
	gen.Pace(sink, 2*batch)
	privA, privB := genKey(b), genKey(b)
	tb := startTunnel(b, sink, conn.NewStdNetBind(), TunnelConfig{Name: "benchB", PrivateKey: privB,
		Peer: PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}, nil)
	startTunnel(b, gen, conn.NewStdNetBind(), TunnelConfig{Name: "benchA", PrivateKey: privA,
		Peer: PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB},
			Endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tb.ListenPort())}}, nil)
	gen.Generate(1)
	eventually(b, "the first packet", func() bool { return sink.SinkPackets() >= 1 })
	gen.Generate(20000) // warm up
	eventually(b, "the warm-up", func() bool { return sink.SinkPackets() >= 15000 && gen.Generated() >= 20001 })
	time.Sleep(50 * time.Millisecond)
	base := sink.SinkPackets()
	b.ResetTimer()
	cpu0 := cpuNow()
	gen.Generate(int64(b.N))
	// Until all arrived, or arrivals stalled for 200 ms (lost packets).
	last, lastChange := base, time.Now()
	for sink.SinkPackets()-base < int64(b.N) && time.Since(lastChange) < 200*time.Millisecond {
		time.Sleep(100 * time.Microsecond)
		if got := sink.SinkPackets(); got != last {
			last, lastChange = got, time.Now()
		}
	}
	b.StopTimer()
	got := min(sink.SinkPackets()-base, int64(b.N))
	b.ReportMetric(float64(cpuNow()-cpu0)/float64(max(got, 1)), "cpu-ns/pkt")
	b.ReportMetric(float64(int64(b.N)-got)/float64(b.N), "lost")
}

// cpuNow is the CPU time of the whole process.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
