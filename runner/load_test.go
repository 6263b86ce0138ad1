package runner

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed/local"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// tagLeftovers lists what a run tagged tag left: namespaces and state.
func tagLeftovers(tag string) []string {
	var out []string
	for _, pat := range []string{
		filepath.Join(local.NetnsDir, local.Prefix+tag+"-*"),
		filepath.Join(local.StateDir, tag),
	} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	return out
}

// TestIntegrationLoad128Tunnels brings 128 wireguard-go tunnels up on the
// local testbed, waits for every handshake, and tears everything down.
func TestIntegrationLoad128Tunnels(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("load test")
	}
	ctx := context.Background()
	begin := time.Now()
	tb, err := local.Provision(ctx, local.Options{Tunnels: 128, FlowsPerTunnel: 1, Binary: testutil.Wgbench(t)})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := deploy(ctx, tb.Hosts(), tb.Tag(), scenarios.Series{Name: "wggo", Datapath: scenarios.WireGuardGo}, 128, 0, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Teardown()
		t.Fatalf("128 tunnels: %v", err)
	}
	if len(dep.devices) != 128 {
		t.Errorf("%d devices, want 128", len(dep.devices))
	}
	up := time.Since(begin)
	begin = time.Now()
	if err := dep.stop(); err != nil {
		t.Error(err)
	}
	if err := tb.Teardown(); err != nil {
		t.Fatal(err)
	}
	t.Logf("128 wggo tunnels: testbed and tunnels up, all handshaken, in %s; torn down in %s", up.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	if l := tagLeftovers(tb.Tag()); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestIntegrationLoadBackToBack runs 8 repetitions back to back, then
// two runs at once: no leftovers, no file descriptors lost, no collision.
func TestIntegrationLoadBackToBack(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("load test")
	}
	bin := testutil.Wgbench(t)
	sc, err := scenarios.Parse("load.yaml", []byte(`
name: load
traffic: {duration: 1s, omit: 0s}
sweep: {tunnels: [2]}
repetitions: 8
series:
  - datapath: wggo
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	run, err := Run(context.Background(), Options{Scenario: sc, Dir: filepath.Join(t.TempDir(), "eight"), Binary: bin})
	if err != nil {
		t.Fatalf("8 repetitions: %v", err)
	}
	if n := run.Points[0].Summary.N; n != 8 {
		t.Errorf("%d successful repetitions, want 8", n)
	}
	after := openFDs(t)
	if after > before {
		t.Errorf("open file descriptors grew from %d to %d over 8 repetitions", before, after)
	}
	t.Logf("8 repetitions back to back: %d ok, open file descriptors %d before and %d after", run.Points[0].Summary.N, before, after)
	if l := tagLeftovers(run.Testbed.Tag); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}

	// Two runs at once on one machine.
	sc.Repetitions = 2
	var wg sync.WaitGroup
	runs := make([]*results.Run, 2)
	errs := make([]error, 2)
	for i := range runs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i], errs[i] = Run(context.Background(), Options{Scenario: sc, Dir: filepath.Join(t.TempDir(), "twin"), Binary: bin})
		}(i)
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil {
			t.Fatalf("concurrent run %d: %v", i, errs[i])
		}
		if runs[i].Status != results.StatusComplete || runs[i].Points[0].Summary.N != 2 {
			t.Errorf("concurrent run %d: status %s, %d ok repetitions", i, runs[i].Status, runs[i].Points[0].Summary.N)
		}
		if l := tagLeftovers(runs[i].Testbed.Tag); len(l) > 0 {
			t.Errorf("concurrent run %d left behind: %v", i, l)
		}
	}
	if runs[0].Testbed.Tag == runs[1].Testbed.Tag {
		t.Errorf("both runs used tag %s", runs[0].Testbed.Tag)
	}
}
