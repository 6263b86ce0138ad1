package inline_test

import (
	"fmt"
	"testing"

	"github.com/wgbench/wgbench/datapath/inline/inlinebench"
)

// BenchmarkDatapath is the performance family, on package inlinebench's
// harness (the one `wgbench bench datapath` runs): per packet size, the
// raw AEAD bound of this machine (seal + open of one packet on one core,
// what a pair spends in crypto per packet), then per core count a
// wireguard-go pair and an inline pair over the same in-memory batched TUN
// and network, sending one way for b.N packets. Compare Gbit/s/core:
// throughput per CPU core the process kept busy (the in-memory TUN and
// network are included for both pairs). Each case sets GOMAXPROCS and
// pinning itself (see inlinebench.Case), whatever -cpu says.
func BenchmarkDatapath(b *testing.B) {
	for _, size := range inlinebench.DefaultSizes {
		b.Run(fmt.Sprintf("size=%d/impl=%s", size, inlinebench.AEAD), func(b *testing.B) {
			benchCase(b, inlinebench.Case{Impl: inlinebench.AEAD, Size: size, Cores: 1})
		})
		for _, cores := range inlinebench.AvailableCores(inlinebench.DefaultCores) {
			for _, impl := range []inlinebench.Impl{inlinebench.WireGuardGo, inlinebench.Inline} {
				b.Run(fmt.Sprintf("size=%d/cores=%d/impl=%s", size, cores, impl), func(b *testing.B) {
					benchCase(b, inlinebench.Case{Impl: impl, Size: size, Cores: cores})
				})
			}
		}
	}
}

// benchCase measures c for b.N packets and reports the family's metrics:
// packets/s, Gbit/s of inner packets, the CPU cores the process kept busy,
// Gbit/s per busy core, ns per packet, and the share of packets lost if
// any were.
func benchCase(b *testing.B, c inlinebench.Case) {
	if c.Impl == inlinebench.AEAD {
		b.SetBytes(int64(c.Size))
	}
	r, err := inlinebench.Measure(b.Context(), c, inlinebench.Amount{
		Packets: int64(b.N), Started: b.ResetTimer, Stopped: b.StopTimer,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.PacketsPerSec, "pkts/s")
	b.ReportMetric(r.Gbps, "Gbit/s")
	b.ReportMetric(r.BusyCores, "cores")
	b.ReportMetric(r.GbpsPerCore, "Gbit/s/core")
	b.ReportMetric(float64(r.Wall.Nanoseconds())/float64(max(r.Packets, 1)), "ns/pkt")
	if r.Lost > 0 {
		b.ReportMetric(float64(r.Lost)/float64(b.N), "lost")
	}
}
