package runner

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

func TestLoadedRunFinish(t *testing.T) {
	lr := &loadedRun{done: make(chan struct{}), stats: &results.LatencyStats{P50Ms: 3}, log: "raw/x/latency-loaded.json"}
	close(lr.done)
	l := &results.RepLatency{Probe: "udp", Idle: &results.LatencyStats{P50Ms: 1}}
	lr.finish(l, []results.Flow{
		{RTTMeanMs: 2, RTTMaxMs: 5},
		{RTTMeanMs: 4, RTTMaxMs: 9},
		{RTTMeanMs: 100, RTTMaxMs: 100, Error: "failed"}, // a failed flow's figures do not count
		{}, // UDP: no RTT
	})
	want := &results.RepLatency{Probe: "udp", Idle: &results.LatencyStats{P50Ms: 1}, Loaded: &results.LatencyStats{P50Ms: 3},
		LoadedLog: "raw/x/latency-loaded.json", TCPMeanRTTMs: 3, TCPMaxRTTMs: 9}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("finish (-want +got):\n%s", diff)
	}
	// Without a probe nothing happens.
	var none *loadedRun
	none.finish(l, nil)
	var p *prober
	if p.idle(context.Background(), nil, "") != nil || p.loaded(context.Background(), scenarios.Traffic{}, nil, "") != nil {
		t.Error("a nil prober probes")
	}
}

func TestNextRate(t *testing.T) {
	tests := []struct {
		name           string
		passed, failed float64
		last           results.Trial
		want           float64
		ok             bool
	}{
		{"maximum passes", 10e9, 0, results.Trial{OfferedBps: 10e9, Pass: true}, 0, false},
		{"first failure: what got through", 0, 10e9, results.Trial{OfferedBps: 10e9, Bps: 1e9}, 0.95e9, true},
		{"failure with nothing through: halve", 0, 10e9, results.Trial{OfferedBps: 10e9}, 5e9, true},
		{"far apart: by ratio", 1e6, 4e9, results.Trial{OfferedBps: 4e9, Bps: 1e8}, math.Sqrt(4e15), true},
		{"bisect", 1e9, 2e9, results.Trial{OfferedBps: 2e9, Bps: 1.9e9}, 1.5e9, true},
		{"converged", 1e9, 1.04e9, results.Trial{OfferedBps: 1.04e9}, 0, false},
	}
	for _, tt := range tests {
		got, ok := nextRate(tt.passed, tt.failed, tt.last)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("%s: nextRate = %g, %v; want %g, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFailBound(t *testing.T) {
	tests := []struct {
		failed float64
		trial  results.Trial
		want   float64
	}{
		{0, results.Trial{OfferedBps: 4e9, Bps: 4e6}, 6e6}, // overdriven: what got through bounds it
		{0, results.Trial{OfferedBps: 4e9}, 4e9},
		{0, results.Trial{OfferedBps: 5e6, Bps: 4.9e6}, 5e6},
		{3e6, results.Trial{OfferedBps: 5e6, Bps: 4.9e6}, 3e6}, // never above a lower failure
	}
	for _, tt := range tests {
		if got := failBound(tt.failed, tt.trial); got != tt.want {
			t.Errorf("failBound(%g, %+v) = %g, want %g", tt.failed, tt.trial, got, tt.want)
		}
	}
}

func TestLossOfAndSizes(t *testing.T) {
	fl := []results.Flow{{SentBytes: 100, LostPercent: 1}, {SentBytes: 300, LostPercent: 5}, {SentBytes: 1e6, LostPercent: 90, Error: "x"}}
	if got := lossOf(fl); got != 4 {
		t.Errorf("lossOf = %g, want 4 (weighted by bytes sent, failed flows left out)", got)
	}
	p := scenarios.Point{Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 64, MTU: 1500}
	if got := sizedRawDir("raw/a/t1-f1/rep0", p); got != "raw/a/t1-f1-s64-m1500/rep0" {
		t.Errorf("sizedRawDir = %s", got)
	}
	if got := pointTraffic(scenarios.Traffic{Length: 9}, p).Length; got != 36 {
		t.Errorf("a 64 B packet is sent as %d B datagrams, want 36", got)
	}
	if sizeKey(0, 0) != "" || sizeKey(64, 0) == sizeKey(512, 0) {
		t.Error("sizeKey does not tell the points apart")
	}
}
