package runner

import (
	"context"
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
