package inlinebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
	if want := len(DefaultSizes) * (1 + 3*len(cores)); len(results) != want || len(seen) != want {
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
	want := 3 // 1420 B vs AEAD and vs wireguard-go, 64 B vs AEAD, on 1 core
	if slices.Contains(cores, 2) {
		want += 2 * len(DefaultSizes) // per size: inline 2 cores vs 1, hybrid vs inline
	}
	if len(goals) != want {
		t.Fatalf("%d goals, want %d: %+v", len(goals), want, goals)
	}
	for _, g := range goals {
		if g.Value <= 0 {
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
	if strings.Count(out, "met")+strings.Count(out, "missed") < len(goals) || !strings.Contains(out, EndToEndGoal) {
		t.Errorf("table lacks the goals' verdicts:\n%s", out)
	}
}

// TestBenchRunTX runs the transmit-side table for a few milliseconds a
// case: wireguard-go, inline and hybrid per core count, no AEAD bound,
// and on 2 cores the hybrid goal alone. It asserts nothing about speed.
func TestBenchRunTX(t *testing.T) {
	results, err := Run(context.Background(), Config{Duration: 30 * time.Millisecond, Sizes: []int{1420}, Direction: TX})
	if err != nil {
		t.Fatal(err)
	}
	cores := AvailableCores(DefaultCores)
	var want []Case
	for _, c := range cores {
		for _, impl := range []Impl{WireGuardGo, Inline, Hybrid} {
			want = append(want, Case{Impl: impl, Size: 1420, Cores: c, Direction: TX})
		}
	}
	var got []Case
	for _, r := range results {
		got = append(got, r.Case)
		if r.Packets <= 0 || r.Gbps <= 0 {
			t.Errorf("%v: no packets counted at the sink: %+v", r.Case, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("cases %v, want %v", got, want)
	}
	goals := Goals(results)
	wantGoals := 0
	if slices.Contains(cores, 2) {
		wantGoals = 1
	}
	if len(goals) != wantGoals || (wantGoals == 1 && (goals[0].Metric != HybridVsInline || goals[0].Direction != TX || goals[0].Value <= 0)) {
		t.Fatalf("goals %+v, want the hybrid one on 2 cores only", goals)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, results); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "Direction tx") || strings.Contains(out, EndToEndGoal) {
		t.Errorf("table:\n%s", out)
	}
}

// TestBenchMeasurePackets measures for a packet count, the go test -bench
// way: exactly that many arrive, and the hooks run once each.
func TestBenchMeasurePackets(t *testing.T) {
	for _, impl := range []Impl{AEAD, WireGuardGo, Inline, Hybrid} {
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

// TestGoals evaluates the goals of issue 18 on made-up results: which
// goals appear, their ratios, and met or missed at the thresholds.
func TestGoals(t *testing.T) {
	res := func(impl Impl, size, cores int, perCore float64) Result {
		return Result{Case: Case{Impl: impl, Size: size, Cores: cores}, GbpsPerCore: perCore}
	}
	gbps := func(impl Impl, dir Direction, size, cores int, g float64) Result {
		return Result{Case: Case{Impl: impl, Size: size, Cores: cores, Direction: dir}, Gbps: g, GbpsPerCore: g}
	}
	type key struct {
		size, cores int
		m           Metric
	}
	for _, tc := range []struct {
		name    string
		results []Result
		want    map[key]bool // goal → met
		values  map[key]float64
	}{
		{
			name: "all met at the thresholds",
			results: []Result{
				res(AEAD, 1420, 1, 10), res(WireGuardGo, 1420, 1, 7.7), res(Inline, 1420, 1, 8.5),
				res(WireGuardGo, 1420, 2, 1), res(Inline, 1420, 2, 8.075),
				res(AEAD, 64, 1, 2), res(WireGuardGo, 64, 1, 1), res(Inline, 64, 1, 1.4),
			},
			want: map[key]bool{
				{1420, 1, VsAEAD}: true, {1420, 1, VsWireGuardGo}: true, {64, 1, VsAEAD}: true,
				{1420, 2, VsOneCore}: true,
			},
			values: map[key]float64{{1420, 1, VsAEAD}: 0.85, {1420, 1, VsWireGuardGo}: 8.5 / 7.7, {1420, 2, VsOneCore}: 0.95},
		},
		{
			name: "just below, where the old 2x goal and 60 % would say otherwise",
			results: []Result{
				res(AEAD, 1420, 1, 10), res(WireGuardGo, 1420, 1, 7.8), res(Inline, 1420, 1, 8.4),
				res(Inline, 1420, 2, 7.9),
				res(AEAD, 64, 1, 2), res(Inline, 64, 1, 1.38),
			},
			want: map[key]bool{
				{1420, 1, VsAEAD}: false, {1420, 1, VsWireGuardGo}: false, {64, 1, VsAEAD}: false,
				{1420, 2, VsOneCore}: false,
			},
		},
		{
			name:    "a missing comparison is missed, not met",
			results: []Result{res(Inline, 1420, 1, 8)},
			want:    map[key]bool{{1420, 1, VsAEAD}: false, {1420, 1, VsWireGuardGo}: false},
			values:  map[key]float64{{1420, 1, VsAEAD}: 0, {1420, 1, VsWireGuardGo}: 0},
		},
		{
			name: "hybrid goals at their thresholds, per direction",
			results: []Result{
				gbps(Inline, Both, 1420, 2, 10), gbps(Hybrid, Both, 1420, 2, 9.5),
				gbps(Inline, Both, 64, 2, 2), gbps(Hybrid, Both, 64, 2, 1.89),
				gbps(Inline, TX, 64, 2, 2), gbps(Hybrid, TX, 64, 2, 4), // no tx goal at 64 B
			},
			want: map[key]bool{
				{1420, 2, HybridVsInline}: true, {64, 2, HybridVsInline}: false, {1420, 2, VsOneCore}: false,
				{64, 2, VsOneCore}: false,
			},
			values: map[key]float64{{1420, 2, HybridVsInline}: 0.95, {64, 2, HybridVsInline}: 1.89 / 2},
		},
		{
			name:    "the tx goal alone",
			results: []Result{gbps(Inline, TX, 1420, 2, 5), gbps(Hybrid, TX, 1420, 2, 7.9)},
			want:    map[key]bool{{1420, 2, HybridVsInline}: false},
			values:  map[key]float64{{1420, 2, HybridVsInline}: 7.9 / 5},
		},
		{
			name:    "no goal for sizes without one",
			results: []Result{res(AEAD, 1000, 1, 10), res(Inline, 1000, 1, 9)},
			want:    map[key]bool{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[key]Goal{}
			for _, g := range Goals(tc.results) {
				got[key{g.Size, g.Cores, g.Metric}] = g
			}
			if len(got) != len(tc.want) {
				t.Fatalf("goals %+v, want %v", got, tc.want)
			}
			for k, met := range tc.want {
				g, ok := got[k]
				if !ok {
					t.Fatalf("no goal %v in %+v", k, got)
				}
				if g.Met != met {
					t.Errorf("goal %v: met %t at %.4f, want %t", k, g.Met, g.Value, met)
				}
			}
			for k, v := range tc.values {
				if d := got[k].Value - v; d > 1e-9 || d < -1e-9 {
					t.Errorf("goal %v: value %v, want %v", k, got[k].Value, v)
				}
			}
		})
	}
}
