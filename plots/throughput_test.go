package plots

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// pt builds a point of series at tunnels × flows from per-repetition
// Gbit/s values; NaN marks a failed repetition.
func pt(series string, tunnels, flows int, gbit ...float64) results.Point {
	p := results.Point{Series: series, Datapath: scenarios.Kernel, Tunnels: tunnels, FlowsPerTunnel: flows, Complete: true}
	for i, g := range gbit {
		r := results.Repetition{Index: i, Seconds: 5}
		if math.IsNaN(g) {
			r.Error = "iperf3 failed"
		} else {
			r.AggregateBps = g * 1e9
		}
		p.Repetitions = append(p.Repetitions, r)
	}
	p.Resummarize()
	return p
}

// mkRun builds a run of the given points; series are named from them,
// plus skipped ones as name → reason.
func mkRun(name string, skipped map[string]string, points ...results.Point) *results.Run {
	r := &results.Run{Schema: 1, Status: results.StatusComplete, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Scenario: scenarios.Scenario{Name: name, Traffic: scenarios.Traffic{Protocol: scenarios.TCP}}}
	seen := map[string]bool{}
	for _, p := range points {
		if !seen[p.Series] {
			seen[p.Series] = true
			r.Series = append(r.Series, results.SeriesStatus{Name: p.Series, Datapath: p.Datapath})
		}
	}
	for n, why := range skipped {
		r.Series = append(r.Series, results.SeriesStatus{Name: n, Datapath: scenarios.Inline, Skipped: why})
	}
	r.Points = points
	return r
}

func TestThroughputAxisAndLabels(t *testing.T) {
	tests := []struct {
		name  string
		runs  []*results.Run
		opts  Options
		wants []string
		bad   []string
	}{
		{
			name: "tunnels vary",
			runs: []*results.Run{mkRun("mt", nil,
				pt("kernel", 1, 1, 5, 5.2, 4.9), pt("kernel", 2, 1, 8, 8.3, 8.1), pt("kernel", 4, 1, 12, 13, 12.5))},
			wants: []string{"tunnels (1 TCP flow per tunnel)", "aggregate throughput (Gbit/s)", "kernel", "95 % CI of the mean", "mt: aggregate throughput"},
			bad:   []string{"not run"},
		},
		{
			name: "flows vary in one tunnel",
			runs: []*results.Run{mkRun("st", nil,
				pt("vanilla", 1, 1, 5, 5.1), pt("vanilla", 1, 4, 5.3, 5.2), pt("vanilla", 1, 16, 5.4, 5.6))},
			wants: []string{"TCP flows in the tunnel (1 tunnel)", "vanilla"},
		},
		{
			name: "both vary splits lines",
			runs: []*results.Run{mkRun("grid", nil,
				pt("kernel", 1, 1, 5, 5), pt("kernel", 2, 1, 8, 8), pt("kernel", 1, 2, 5.5, 5.5), pt("kernel", 2, 2, 9, 9))},
			wants: []string{"tunnels (one line per flows-per-tunnel count)", "kernel, 1 flow/tunnel", "kernel, 2 flows/tunnel"},
		},
		{
			name:  "total flows asked for",
			runs:  []*results.Run{mkRun("mt", nil, pt("kernel", 1, 1, 5, 5), pt("kernel", 4, 1, 12, 12))},
			opts:  Options{XAxis: XTotalFlows},
			wants: []string{"total TCP flows (tunnels × flows per tunnel)"},
		},
		{
			name:  "stddev error bars say so",
			runs:  []*results.Run{mkRun("mt", nil, pt("kernel", 1, 1, 5, 6), pt("kernel", 2, 1, 8, 9))},
			opts:  Options{ErrorBars: Stddev},
			wants: []string{"± 1 standard deviation"},
			bad:   []string{"95 % CI"},
		},
		{
			name:  "one repetition has no error bar and says so",
			runs:  []*results.Run{mkRun("mt", nil, pt("kernel", 1, 1, 5), pt("kernel", 2, 1, 8))},
			wants: []string{"no error bar: 1 successful rep."},
			bad:   []string{"95 % CI"},
		},
		{
			name: "skipped series listed, failed point marked",
			runs: []*results.Run{mkRun("mt", map[string]string{"inline": "not built"},
				pt("kernel", 1, 1, 5, 5), pt("kernel", 2, 1, math.NaN(), math.NaN()), pt("kernel", 4, 1, 12, 12))},
			wants: []string{"not run (see report):", "inline", "no successful rep."},
		},
		{
			name: "runs combined with clashing names",
			runs: []*results.Run{
				mkRun("before", nil, pt("kernel", 1, 1, 5, 5), pt("kernel", 2, 1, 8, 8)),
				mkRun("after", nil, pt("kernel", 1, 1, 6, 6), pt("kernel", 2, 1, 10, 10)),
			},
			wants: []string{"before/kernel", "after/kernel", "before + after: aggregate throughput"},
		},
		{
			name: "run labels given",
			runs: []*results.Run{
				mkRun("same", nil, pt("kernel", 1, 1, 5, 5), pt("kernel", 2, 1, 8, 8)),
				mkRun("same", nil, pt("kernel", 1, 1, 6, 6), pt("kernel", 2, 1, 10, 10)),
			},
			opts:  Options{RunLabels: []string{"vanilla", "tuned"}},
			wants: []string{"vanilla/kernel", "tuned/kernel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Throughput(tt.runs, tt.opts)
			if err != nil {
				t.Fatalf("Throughput: %v", err)
			}
			if p.Y.Min != 0 {
				t.Errorf("y axis starts at %g, want 0", p.Y.Min)
			}
			txt := svgOf(t, p)
			mustContain(t, "svg", txt, tt.wants...)
			mustNotContain(t, "svg", txt, tt.bad...)
		})
	}
}

func TestThroughputNoData(t *testing.T) {
	nanSummary := pt("kernel", 1, 1, 5, 6)
	nanSummary.Summary.MeanGbps = math.NaN()
	tests := []struct {
		name    string
		runs    []*results.Run
		wantErr string // "" when a plot is expected
	}{
		{"no run", nil, "no successful repetition"},
		{"nil run", []*results.Run{nil}, "no successful repetition"},
		{"no points", []*results.Run{mkRun("empty", nil)}, "no successful repetition"},
		{"all failed", []*results.Run{mkRun("bad", nil, pt("kernel", 1, 1, math.NaN(), math.NaN()), pt("kernel", 2, 1, math.NaN()))}, "no successful repetition"},
		{"only skipped", []*results.Run{mkRun("skip", map[string]string{"kernel": "no WireGuard module"})}, "no WireGuard module"},
		{"NaN summary is recomputed", []*results.Run{mkRun("nan", nil, nanSummary, pt("kernel", 2, 1, 8, 9))}, ""},
		{"single point", []*results.Run{mkRun("one", nil, pt("kernel", 1, 1, 5))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Throughput(tt.runs, Options{})
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNoData) {
					t.Fatalf("err = %v, want one wrapping ErrNoData", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %q, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Throughput: %v", err)
			}
			if w, h := pngSize(t, p); w != 945 || h != 591 {
				t.Errorf("png is %d×%d, want 945×591", w, h)
			}
			if math.IsNaN(p.Y.Max) || p.Y.Max <= 0 {
				t.Errorf("y max = %g", p.Y.Max)
			}
		})
	}
}

func TestPointStat(t *testing.T) {
	tests := []struct {
		name     string
		p        results.Point
		eb       ErrorBars
		wantN    int
		wantMean float64
		wantErr  bool
	}{
		{"three reps CI", pt("k", 1, 1, 4, 5, 6), CI95, 3, 5, true},
		{"three reps stddev", pt("k", 1, 1, 4, 5, 6), Stddev, 3, 5, true},
		{"no bars", pt("k", 1, 1, 4, 5, 6), NoErrorBars, 3, 5, false},
		{"one rep", pt("k", 1, 1, 4), CI95, 1, 4, false},
		{"one failed of three", pt("k", 1, 1, 4, math.NaN(), 6), CI95, 2, 5, true},
		{"all failed", pt("k", 1, 1, math.NaN(), math.NaN()), CI95, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pointStat(tt.p, tt.eb)
			if s.N != tt.wantN || math.Abs(s.Mean-tt.wantMean) > 1e-9 || s.HasErr != tt.wantErr {
				t.Errorf("got n=%d mean=%g err=%v(%g), want n=%d mean=%g err=%v", s.N, s.Mean, s.HasErr, s.Err, tt.wantN, tt.wantMean, tt.wantErr)
			}
			if s.Total != len(tt.p.Repetitions) {
				t.Errorf("total = %d, want %d", s.Total, len(tt.p.Repetitions))
			}
		})
	}
	// Stddev and CI differ: the t quantile for 2 degrees of freedom is 4.3.
	ci, sd := pointStat(pt("k", 1, 1, 4, 5, 6), CI95), pointStat(pt("k", 1, 1, 4, 5, 6), Stddev)
	if math.Abs(sd.Err-1) > 1e-9 || math.Abs(ci.Err-4.302652729911275/math.Sqrt(3)) > 1e-6 {
		t.Errorf("stddev bar %g (want 1), CI bar %g (want %g)", sd.Err, ci.Err, 4.302652729911275/math.Sqrt(3))
	}
}

func TestCompare(t *testing.T) {
	fix := loadRun(t, "fixture")
	p, err := Compare([]*results.Run{fix}, 8, 1, Options{})
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	txt := svgOf(t, p)
	mustContain(t, "compare svg", txt,
		"multi-tunnel: throughput at 8 tunnels × 1 flow", "aggregate throughput (Gbit/s)",
		"wggo", "kernel", "kernel-threaded", "2/3 ok", "95 % CI of the mean", "not run (see report):", "inline")

	t.Run("failed series shown as failed", func(t *testing.T) {
		r := mkRun("c", nil, pt("a", 4, 1, 5, 6), pt("b", 4, 1, math.NaN(), math.NaN()))
		p, err := Compare([]*results.Run{r}, 4, 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "svg", svgOf(t, p), "failed", "0/2 ok")
	})
	t.Run("series not at the point are listed", func(t *testing.T) {
		r := mkRun("c", nil, pt("a", 4, 1, 5, 6), pt("b", 2, 1, 3, 3))
		p, err := Compare([]*results.Run{r}, 4, 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "svg", svgOf(t, p), "not measured here:", "b")
	})
	for _, tc := range []struct {
		name string
		run  *results.Run
		want string
	}{
		{"point nobody measured", fix, "no series measured it"},
		{"everything failed", mkRun("c", nil, pt("a", 3, 1, math.NaN())), "every repetition"},
		{"no points", mkRun("c", nil), "no series measured it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compare([]*results.Run{tc.run}, 3, 1, Options{})
			if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrNoData saying %q", err, tc.want)
			}
		})
	}
}

func nan() float64 { return math.NaN() }
