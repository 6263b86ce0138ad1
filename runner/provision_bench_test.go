package runner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed/local"
)

// BenchmarkProvision measures bringing the local testbed and N tunnels up
// (every tunnel handshaken) and tearing them down, for wireguard-go and,
// as the baseline in the same run, the plain routed datapath. The goal is
// 64 wggo tunnels up in under 3 s on a 2-core machine.
//
//	sudo go test ./runner -run '^$' -bench Provision -benchtime 3x
func BenchmarkProvision(b *testing.B) {
	if testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	testutil.RequireRoot(b)
	bin := testutil.Wgbench(b)
	for _, n := range []int{1, 16, 64} {
		for _, dp := range []scenarios.Datapath{scenarios.Plain, scenarios.WireGuardGo} {
			b.Run(fmt.Sprintf("tunnels=%d/datapath=%s", n, dp), func(b *testing.B) {
				var testbedUp, tunnelsUp, down time.Duration
				for i := 0; i < b.N; i++ {
					ctx := context.Background()
					t0 := time.Now()
					tb, err := local.Provision(ctx, local.Options{Tunnels: n, FlowsPerTunnel: 1, Binary: bin})
					if err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					dep, err := deploy(ctx, tb.Hosts(), tb.Tag(), scenarios.Series{Name: string(dp), Datapath: dp}, n, 0, nil, slog.Default())
					if err != nil {
						tb.Teardown()
						b.Fatal(err)
					}
					t2 := time.Now()
					if err := dep.stop(); err != nil {
						b.Error(err)
					}
					if err := tb.Teardown(); err != nil {
						b.Fatal(err)
					}
					t3 := time.Now()
					testbedUp += t1.Sub(t0)
					tunnelsUp += t2.Sub(t1)
					down += t3.Sub(t2)
				}
				per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
				b.ReportMetric(per(testbedUp), "testbed-up-s")
				b.ReportMetric(per(tunnelsUp), "tunnels-up-s")
				b.ReportMetric(per(testbedUp+tunnelsUp), "total-up-s")
				b.ReportMetric(per(down), "teardown-s")
			})
		}
	}
}
