package blackhole

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/stage"
)

// load is one core's busy time in a sample, in percent.
type load struct{ user, sys, soft float64 }

func cs(core int, l load) probes.CoreSample {
	busy := l.user + l.sys + l.soft
	return probes.CoreSample{Core: core, User: l.user, System: l.sys, SoftIRQ: l.soft, Idle: 100 - busy, Busy: busy}
}

// synth builds a trace of n samples of 250 ms over the given cores; loadOf
// gives the load of a core in a sample and threadsOf the thread rows.
func synth(n, cores int, loadOf func(sample, core int) load, threadsOf func(sample int) []probes.ThreadSample) *probes.Trace {
	tr := &probes.Trace{Header: probes.Header{Version: probes.TraceVersion, CPUs: cores, IntervalSeconds: 0.25}}
	for i := range n {
		s := probes.Sample{T: float64(i+1) * 0.25, DT: 0.25}
		for c := range cores {
			s.Cores = append(s.Cores, cs(c, loadOf(i, c)))
		}
		if threadsOf != nil {
			s.Threads = threadsOf(i)
		}
		tr.Samples = append(tr.Samples, s)
	}
	return tr
}

func kworkers(cores int, pct float64) []probes.ThreadSample {
	var ts []probes.ThreadSample
	for c := range cores {
		ts = append(ts, probes.ThreadSample{PID: 1000 + c, TID: 1000 + c, Comm: fmt.Sprintf("kworker/%d:1+wg-crypt-wg%d", c, c%8), Stage: stage.WGCrypt, Dev: fmt.Sprintf("wg%d", c%8), Core: c, Pct: pct, Shared: true})
	}
	return ts
}

// fig9 is the black hole of the paper's Fig. 9: 32 cores decrypting at
// 10–20 %, cores 1–8 receiving the 8 tunnels at ~40 %, and core 30, where
// all NAPI polls gathered, saturated by softirq.
func fig9() *probes.Trace {
	return synth(20, 32, func(_, c int) load {
		switch {
		case c == 30:
			return load{sys: 2, soft: 98}
		case c >= 1 && c <= 8:
			return load{sys: 25, soft: 15}
		default:
			return load{sys: float64(10 + c%11)}
		}
	}, func(int) []probes.ThreadSample {
		return append(kworkers(32, 8), probes.ThreadSample{PID: 170, TID: 170, Comm: "ksoftirqd/30", Stage: stage.KSoftirqd, Core: 30, Pct: 30, Shared: true})
	})
}

// fig5 is the single-tunnel bottleneck of Fig. 5: core 0, which receives
// the tunnel, saturated; decryption spread over the other cores.
func fig5() *probes.Trace {
	return synth(20, 32, func(_, c int) load {
		if c == 0 {
			return load{sys: 45, soft: 55}
		}
		return load{sys: 35}
	}, func(int) []probes.ThreadSample { return kworkers(32, 30) })
}

func TestDetect(t *testing.T) {
	gw2 := DetectOptions{Role: "gw2", Tunnels: 8}
	tests := []struct {
		name     string
		tr       *probes.Trace
		th       Thresholds
		opts     DetectOptions
		want     []Finding // Summary is checked by wantText
		wantText [][]string
	}{
		{
			name: "Fig. 9 black hole",
			tr:   fig9(), opts: gw2,
			want: []Finding{{Kind: KindBlackHole, Core: 30, BusyMean: 100, SoftirqShare: 0.98, SaturatedShare: 1, HostIdle: 0.762,
				Stages: []StageShare{
					{Stage: stage.KSoftirqd, Pct: 30, Shared: true, Threads: []string{"ksoftirqd/30"}},
					{Stage: stage.WGCrypt, Dev: "wg6", Pct: 8, Shared: true, Threads: []string{"kworker/30:1+wg-crypt-wg6"}},
				}}},
			wantText: [][]string{{"gw2: black hole on core 30", "busy ≥90% for 100% of the window", "98% of it softirq", "host 76% idle", "ksoftirqd 30% [ksoftirqd/30]"}},
		},
		{
			name: "Fig. 5 single tunnel on gw2",
			tr:   fig5(), opts: DetectOptions{Role: "gw2", Tunnels: 1},
			want: []Finding{{Kind: KindSingleCore, Core: 0, BusyMean: 100, SoftirqShare: 0.55, SaturatedShare: 1, HostIdle: 0.63,
				Stages: []StageShare{{Stage: stage.WGCrypt, Dev: "wg0", Pct: 30, Shared: true, Threads: []string{"kworker/0:1+wg-crypt-wg0"}}}}},
			wantText: [][]string{{"single-core bottleneck on core 0 (one tunnel, receive side)", "no other core saturated", "55% of it softirq"}},
		},
		{
			name: "single tunnel, receive side by flag",
			tr:   fig5(), opts: DetectOptions{Role: "gw1", ReceiveSide: true, Tunnels: 1},
			want: []Finding{{Kind: KindSingleCore, Core: 0}},
		},
		{
			name: "single tunnel on the sender: a hot core, not a black hole",
			tr:   fig5(), opts: DetectOptions{Role: "gw1", Tunnels: 1},
			want: []Finding{{Kind: KindHotCore, Core: 0}},
		},
		{
			name: "tunnel count unknown: softirq-filled core is a black hole",
			tr:   fig5(), opts: DetectOptions{Role: "gw2"},
			want: []Finding{{Kind: KindBlackHole, Core: 0}},
		},
		{
			name: "evenly loaded",
			tr:   synth(20, 8, func(_, c int) load { return load{user: 20, sys: 30, soft: 10} }, nil), opts: gw2,
		},
		{
			name: "short spike (20 % of the window)",
			tr: synth(20, 8, func(i, c int) load {
				if c == 3 && i >= 8 && i < 12 {
					return load{soft: 100}
				}
				return load{sys: 20}
			}, nil), opts: gw2,
		},
		{
			name: "saturated for exactly the persistence",
			tr: synth(20, 8, func(i, c int) load {
				if c == 3 && i < 12 {
					return load{soft: 100}
				}
				return load{sys: 20}
			}, nil), opts: gw2,
			want: []Finding{{Kind: KindBlackHole, Core: 3}},
		},
		{
			name: "saturated for just under the persistence",
			tr: synth(20, 8, func(i, c int) load {
				if c == 3 && i < 11 {
					return load{soft: 100}
				}
				return load{sys: 20}
			}, nil), opts: gw2,
		},
		{
			name: "two saturated cores: one finding each",
			tr: synth(20, 8, func(_, c int) load {
				if c == 2 || c == 5 {
					return load{sys: 5, soft: 95}
				}
				return load{sys: 10}
			}, nil), opts: gw2,
			want:     []Finding{{Kind: KindBlackHole, Core: 2}, {Kind: KindBlackHole, Core: 5}},
			wantText: [][]string{{"core 2 (8 tunnels, one of 2 saturated cores)", "no sampled thread"}, {"core 5 (8 tunnels, one of 2 saturated cores)"}},
		},
		{
			name: "fully loaded machine: cpu-bound, not a black hole",
			tr:   synth(20, 4, func(_, c int) load { return load{user: 30, sys: 45, soft: 20} }, nil), opts: gw2,
			want:     []Finding{{Kind: KindCPUBound, Core: -1, Cores: []int{0, 1, 2, 3}, BusyMean: 95, SoftirqShare: 0.211, SaturatedShare: 1, HostIdle: 0.05}},
			wantText: [][]string{{"gw2: cpu-bound: cores 0,1,2,3 busy ≥90% for ≥60% of the window and the host only 5% idle (< 25% headroom)"}},
		},
		{
			name: "a thread fills a core: hot core naming it",
			tr: synth(20, 4, func(_, c int) load {
				if c == 1 {
					return load{user: 99, sys: 1}
				}
				return load{sys: 10}
			}, func(int) []probes.ThreadSample {
				return []probes.ThreadSample{
					{PID: 42, TID: 43, Comm: "spin", Stage: stage.Other, Core: 1, Pct: 99.5},
					{PID: 7, TID: 7, Comm: "iperf3", Stage: stage.IPerf3, Core: 0, Pct: 9},
				}
			}), opts: gw2,
			want: []Finding{{Kind: KindHotCore, Core: 1, BusyMean: 100, SoftirqShare: 0, SaturatedShare: 1, HostIdle: 0.675, OwnPct: 99.5,
				Stages: []StageShare{{Stage: stage.Other, Pct: 99.5, Threads: []string{"spin"}}}}},
			wantText: [][]string{{"hot core 1", "0% of it softirq", "on it: other 99.5% [spin]"}},
		},
		{
			name: "shared cores of the local testbed",
			tr: func() *probes.Trace {
				tr := synth(8, 2, func(_, c int) load {
					if c == 1 {
						return load{sys: 20, soft: 80}
					}
					return load{user: 20}
				}, func(int) []probes.ThreadSample {
					return []probes.ThreadSample{
						{PID: 5, TID: 6, Comm: "inline/wg1", Stage: stage.Inline, Dev: "wg1", Core: 1, Pct: 15},
						{PID: 22, TID: 22, Comm: "ksoftirqd/1", Stage: stage.KSoftirqd, Core: 1, Pct: 40, Shared: true},
					}
				})
				tr.Header.SharedCores = true
				return tr
			}(),
			opts: DetectOptions{Role: "gw2", Tunnels: 2},
			want: []Finding{{Kind: KindBlackHole, Core: 1, BusyMean: 100, SoftirqShare: 0.8, SaturatedShare: 1, HostIdle: 0.4, Shared: true, OwnPct: 15,
				Stages: []StageShare{
					{Stage: stage.KSoftirqd, Pct: 40, Shared: true, Threads: []string{"ksoftirqd/1"}},
					{Stage: stage.Inline, Dev: "wg1", Pct: 15, Threads: []string{"inline/wg1"}},
				}}},
			wantText: [][]string{{"core shared by all hosts of the local testbed", "machine-wide", "gw2's own threads used 15% of it", "inline(wg1) 15% [inline/wg1]"}},
		},
		{
			name: "samples weighted by their length",
			tr: func() *probes.Trace {
				tr := synth(5, 4, func(i, c int) load {
					if c == 0 && i < 3 {
						return load{soft: 100}
					}
					return load{}
				}, nil)
				for i := range tr.Samples {
					if i >= 3 {
						tr.Samples[i].DT = 1
					} else {
						tr.Samples[i].DT = 0.1
					}
				}
				return tr
			}(),
			opts: gw2,
		},
		{
			name: "re-analysis with a lower saturation",
			tr:   fig9(), th: Thresholds{Saturation: 35, Persistence: 0.6, Headroom: 0.25, SoftirqDominance: 0.5}, opts: gw2,
			want: []Finding{
				{Kind: KindHotCore, Core: 1}, {Kind: KindHotCore, Core: 2}, {Kind: KindHotCore, Core: 3}, {Kind: KindHotCore, Core: 4},
				{Kind: KindHotCore, Core: 5}, {Kind: KindHotCore, Core: 6}, {Kind: KindHotCore, Core: 7}, {Kind: KindHotCore, Core: 8},
				{Kind: KindBlackHole, Core: 30},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := tt.th
			if th == (Thresholds{}) {
				th = DefaultThresholds()
			}
			got, err := Detect("gw2", tt.tr, th, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			// Cases that give only kind and core are compared on those.
			brief := len(tt.want) > 0 && tt.want[0].BusyMean == 0 && tt.want[0].Kind != KindCPUBound
			var opts []cmp.Option
			opts = append(opts, cmpopts.IgnoreFields(Finding{}, "Summary", "Host"), cmpopts.EquateEmpty())
			if brief {
				opts = append(opts, cmp.Transformer("brief", func(f Finding) string { return fmt.Sprintf("%s@%d", f.Kind, f.Core) }))
			}
			if d := cmp.Diff(tt.want, got, opts...); d != "" {
				t.Fatalf("Detect (-want +got):\n%s", d)
			}
			for i, texts := range tt.wantText {
				for _, s := range texts {
					if !strings.Contains(got[i].Summary, s) {
						t.Errorf("finding %d summary %q\nlacks %q", i, got[i].Summary, s)
					}
				}
			}
			for _, f := range got {
				if f.Host != "gw2" || strings.Contains(f.Summary, "\n") || f.Summary == "" {
					t.Errorf("finding %+v: want host gw2 and a one-line summary", f)
				}
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	ok := synth(2, 2, func(int, int) load { return load{} }, nil)
	tests := []struct {
		name string
		tr   *probes.Trace
		th   Thresholds
		want string
	}{
		{"zero thresholds", ok, Thresholds{}, "saturation 0"},
		{"saturation above 100", ok, Thresholds{Saturation: 101, Persistence: 0.6, Headroom: 0.25, SoftirqDominance: 0.5}, "saturation 101"},
		{"persistence as a percentage", ok, Thresholds{Saturation: 90, Persistence: 60, Headroom: 0.25, SoftirqDominance: 0.5}, "persistence 60"},
		{"headroom of 1", ok, Thresholds{Saturation: 90, Persistence: 0.6, Headroom: 1, SoftirqDominance: 0.5}, "headroom 1"},
		{"NaN dominance", ok, Thresholds{Saturation: 90, Persistence: 0.6, Headroom: 0.25, SoftirqDominance: nan()}, "softirq dominance NaN"},
		{"nil trace", nil, DefaultThresholds(), "no trace"},
		{"no samples", &probes.Trace{}, DefaultThresholds(), "no samples"},
		{"only zero-length samples", &probes.Trace{Samples: []probes.Sample{{T: 1, Cores: []probes.CoreSample{{Busy: 100}}}}}, DefaultThresholds(), "no samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Detect("gw1", tt.tr, tt.th, DetectOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Detect error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestDetectIgnoresDamagedFigures(t *testing.T) {
	tr := fig9()
	inf := 1 / func() float64 { return 0 }()
	tr.Samples[0].Cores[3].Busy = nan()
	tr.Samples[1].Cores[4].SoftIRQ = inf
	tr.Samples[2].Threads[0].Pct = nan()
	tr.Samples[3].DT = inf
	tr.Header.Host = "gw2"
	got, err := Detect("", tr, DefaultThresholds(), DetectOptions{Role: "gw2", Tunnels: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Core != 30 || got[0].Kind != KindBlackHole || got[0].Host != "gw2" {
		t.Fatalf("findings %+v, want the black hole on core 30 of gw2", got)
	}
	for _, v := range []float64{got[0].BusyMean, got[0].HostIdle, got[0].SoftirqShare, got[0].SaturatedShare} {
		if !finite(v) {
			t.Errorf("finding %+v has a non-finite figure", got[0])
		}
	}
	if !strings.Contains(got[0].Summary, "(8 tunnels)") {
		t.Errorf("summary %q does not give the tunnel count", got[0].Summary)
	}
}
