package inlinebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBenchRunShort runs the whole table for a few milliseconds a case:
// every case is there, in order, with positive figures, and the table
// shows them all. It asserts nothing about speed.
func TestBenchRunShort(t *testing.T) {
	var seen []Case
	results, err := Run(context.Background(), Config{
		Duration: 30 * time.Millisecond,
		Progress: func(c Case) { seen = append(seen, c) },
	})
	if err != nil {
		t.Fatal(err)
	}
	cores := AvailableCores(DefaultCores)
	if want := len(DefaultSizes) * (1 + 2*len(cores)); len(results) != want || len(seen) != want {
		t.Fatalf("%d results, %d progress calls, want %d", len(results), len(seen), want)
	}
	for i, r := range results {
		if r.Case != seen[i] {
			t.Errorf("result %d is %v, progress said %v", i, r.Case, seen[i])
		}
		if r.Packets <= 0 || r.PacketsPerSec <= 0 || r.Gbps <= 0 || r.BusyCores <= 0 || r.GbpsPerCore <= 0 {
			t.Errorf("%v: a figure is not positive: %+v", r.Case, r)
		}
		if r.Impl == Inline && len(r.Pinned) == 2 && r.Cores == 1 && r.Pinned[0] != r.Pinned[1] {
			t.Errorf("%v: pinned to %v, want one core", r.Case, r.Pinned)
		}
	}
	goals := Goals(results)
	if len(goals) != len(DefaultSizes)*len(cores) {
		t.Fatalf("goals %+v", goals)
	}
	for _, g := range goals {
		if g.VsWireGuardGo <= 0 || g.VsAEAD <= 0 {
			t.Errorf("goal without a ratio: %+v", g)
		}
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, results); err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows[f[0]+" "+f[1]+" "+f[2]] = true
		}
	}
	for _, r := range results {
		if row := fmt.Sprintf("%d %d %s", r.Size, r.Cores, r.Impl); !rows[row] {
			t.Errorf("table lacks row %q:\n%s", row, buf.String())
		}
	}
	out := buf.String()
	if strings.Count(out, "met")+strings.Count(out, "missed") < 2*len(goals) {
		t.Errorf("table lacks the goals' verdicts:\n%s", out)
	}
}

// TestBenchMeasurePackets measures for a packet count, the go test -bench
// way: exactly that many arrive, and the hooks run once each.
func TestBenchMeasurePackets(t *testing.T) {
	for _, impl := range []Impl{AEAD, WireGuardGo, Inline} {
		var started, stopped int
		r, err := Measure(context.Background(), Case{Impl: impl, Size: 64, Cores: 1}, Amount{
			Packets: 5000, Started: func() { started++ }, Stopped: func() { stopped++ },
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Packets != 5000 || r.Lost != 0 || r.PacketsPerSec <= 0 || started != 1 || stopped != 1 {
			t.Errorf("%s: %+v, hooks %d/%d", impl, r, started, stopped)
		}
	}
}

func TestBenchConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Sizes: []int{MinSize - 1}},
		{Sizes: []int{MTU + 1}},
		{Cores: []int{0}},
		{Cores: []int{1 << 20}},
		{Duration: -time.Second},
		{Sizes: []int{}},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) did not fail", cfg)
		}
	}
	if _, err := Measure(context.Background(), Case{Impl: "nope", Size: 64, Cores: 1}, Amount{Packets: 1}); err == nil {
		t.Error("Measure of an unknown implementation did not fail")
	}
}

// TestBenchRunCancelled checks that cancelling stops a long case at once,
// the AEAD bound's and a pair's.
func TestBenchRunCancelled(t *testing.T) {
	for _, impl := range []Impl{AEAD, Inline} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		t0 := time.Now()
		_, err := Measure(ctx, Case{Impl: impl, Size: 64, Cores: 1}, Amount{Duration: time.Minute})
		if !errors.Is(err, context.Canceled) || time.Since(t0) > 30*time.Second {
			t.Errorf("%s: cancelled after %v: %v", impl, time.Since(t0), err)
		}
	}
}
