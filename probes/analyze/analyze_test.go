package analyze

import (
	"math"
	"testing"
	"time"

	"github.com/wgbench/wgbench/probes"
)

// TestSummarize checks the per-core means, weighted by each sample's
// length, and that the summary keeps the trace's start (the origin a
// mode switch is placed against on the heatmap), also for a window.
func TestSummarize(t *testing.T) {
	start := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	tr := &probes.Trace{Header: probes.Header{Host: "gw1", Start: start}, Samples: []probes.Sample{
		{T: 1, DT: 1, Cores: []probes.CoreSample{{Core: 0, Busy: 10, User: 10}, {Core: 1, Busy: 100, SoftIRQ: 100}}},
		{T: 4, DT: 3, Cores: []probes.CoreSample{{Core: 0, Busy: 50, User: 50}, {Core: 1, Busy: 0}}},
	}}
	for _, tc := range []struct {
		name string
		tr   *probes.Trace
		busy []float64
	}{
		{"whole trace", tr, []float64{40, 25}},
		{"a window", tr.Window(1, 4), []float64{50, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := Summarize("gw1", tc.tr)
			if !hc.TraceStart.Equal(start) {
				t.Errorf("trace start %v, want %v", hc.TraceStart, start)
			}
			if len(hc.Cores) != len(tc.busy) {
				t.Fatalf("%d cores, want %d", len(hc.Cores), len(tc.busy))
			}
			mean := 0.0
			for i, c := range hc.Cores {
				if math.Abs(c.Busy-tc.busy[i]) > 1e-9 {
					t.Errorf("core %d busy %.2f, want %.2f", c.Core, c.Busy, tc.busy[i])
				}
				mean += tc.busy[i] / float64(len(tc.busy))
			}
			if math.Abs(hc.MeanBusy-mean) > 1e-9 || hc.Samples != len(tc.tr.Samples) {
				t.Errorf("mean %.2f over %d samples, want %.2f over %d", hc.MeanBusy, hc.Samples, mean, len(tc.tr.Samples))
			}
		})
	}
}
