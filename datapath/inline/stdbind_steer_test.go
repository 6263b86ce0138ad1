//go:build linux

package inline

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/wgbench/wgbench/datapath/inline/internal/memnet"
)

// TestSteerBind opens a steered StdNetBind on loopback: each socket must
// carry the tunnel's core in SO_INCOMING_CPU, the tunnel must still see a
// StdNetBind (its TX layout depends on it), data must flow, and the log
// must say what was set and, on close, where the packets landed.
func TestSteerBind(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cpuA, cpuB := cpus[0], cpus[len(cpus)-1]
	var logB lockedBuffer
	bindB := newSteerBind(cpuB, slog.New(slog.NewTextHandler(&logB, nil)))
	ta, tb := newMemTUN(maxBatch, 1420), newMemTUN(maxBatch, 1420)
	privA, privB := genKey(t), genKey(t)
	b, err := NewTunnel(tb, bindB, TunnelConfig{Name: "steerB", PrivateKey: privB, Pinned: true, CPU: cpuB,
		Peer: PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closedB := false
	t.Cleanup(func() {
		if !closedB {
			_ = b.Close()
		}
	})
	if !b.stdBind {
		t.Fatal("the tunnel does not see the steered bind as a StdNetBind")
	}
	socks := stdSockets(bindB.StdNetBind)
	if len(socks) == 0 {
		t.Fatal("found no socket in the StdNetBind")
	}
	for fam, c := range socks {
		got, err := incomingCPU(c)
		if err != nil {
			t.Fatalf("%s: read SO_INCOMING_CPU: %v", fam, err)
		}
		if got != cpuB {
			t.Errorf("%s: SO_INCOMING_CPU = %d, want the tunnel's core %d", fam, got, cpuB)
		}
	}
	startTunnel(t, ta, newSteerBind(cpuA, nil), TunnelConfig{Name: "steerA", PrivateKey: privA, Pinned: true, CPU: cpuA,
		Peer: PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB},
			Endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.ListenPort())}}, nil)
	for i := range uint16(20) {
		p := ping(addrB, addrA, i)
		ta.In <- [][]byte{p}
		expectPacket(t, tb.Out, p, "A to B over steered binds")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closedB = true
	log := logB.String()
	for _, want := range []string{"UDP socket set to the tunnel's core", "SO_INCOMING_CPU at close"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	t.Logf("log of B:\n%s", log)
}

// BenchmarkSteerLoopback sends b.N 1420-byte packets one way between two
// tunnels over StdNetBind on loopback, A pinned to the first core this
// process may use and B to the last, with plain binds (off) and steered
// ones (on), to see whether SO_INCOMING_CPU pays; it reports the CPU per
// packet and the share lost, as BenchmarkStdNetBindLoopback does.
// Compare the two in one run.
func BenchmarkSteerLoopback(b *testing.B) {
	cpus, err := AllowedCPUs()
	if err != nil {
		b.Fatal(err)
	}
	cpuA, cpuB := cpus[0], cpus[len(cpus)-1]
	for _, steer := range []bool{false, true} {
		name := "off"
		if steer {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			mk := func(cpu int) conn.Bind {
				if steer {
					return newSteerBind(cpu, nil)
				}
				return conn.NewStdNetBind()
			}
			const batch, mtu, size = 128, 1420, 1420
			gen := memnet.NewGenerator(batch, mtu, memnet.UDPPacket(size, addrA, addrB))
			sink := memnet.NewSink(batch, mtu)
			gen.Pace(sink, 2*batch)
			privA, privB := genKey(b), genKey(b)
			tb := startTunnel(b, sink, mk(cpuB), TunnelConfig{Name: "stB", PrivateKey: privB, Pinned: true, CPU: cpuB,
				Peer: PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}, nil)
			startTunnel(b, gen, mk(cpuA), TunnelConfig{Name: "stA", PrivateKey: privA, Pinned: true, CPU: cpuA,
				Peer: PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB},
					Endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tb.ListenPort())}}, nil)
			gen.Generate(1)
			eventually(b, "the first packet", func() bool { return sink.SinkPackets() >= 1 })
			gen.Generate(20000) // warm up
			eventually(b, "the warm-up", func() bool { return sink.SinkPackets() >= 15000 && gen.Generated() >= 20001 })
			time.Sleep(50 * time.Millisecond)
			base := sink.SinkPackets()
			b.SetBytes(size)
			b.ResetTimer()
			cpu0 := cpuNow()
			gen.Generate(int64(b.N))
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
		})
	}
}
