package plots

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/wgbench/wgbench/results"
)

func costRun(withCost bool) *results.Run {
	r := &results.Run{Clock: &results.Clock{Hz: 2.1e9, Source: results.ClockNominal}, Testbed: results.TestbedInfo{SharedCores: true}}
	for _, s := range []string{"wggo", "inline"} {
		for _, t := range []int{1, 2, 4} {
			p := results.Point{Series: s, Datapath: "wggo", Tunnels: t, FlowsPerTunnel: 1}
			if withCost {
				rc := results.NewRepCost(results.ByThread, 3, []float64{0.1, 0, 0, float64(t), 0, 0.05}, 1e9, 1368, *r.Clock)
				p.Repetitions = []results.Repetition{{AggregateBps: 1e9, Cost: &rc}, {AggregateBps: 1e9, Cost: &rc}}
			} else {
				p.Repetitions = []results.Repetition{{AggregateBps: 1e9}}
			}
			p.Resummarize()
			r.Points = append(r.Points, p)
		}
	}
	return r
}

func TestCostFigure(t *testing.T) {
	d, err := costDataOf([]*results.Run{costRun(true)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.title, "2.10 GHz nominal") || !strings.Contains(d.title, "by thread") {
		t.Errorf("title %q does not say the clock and the attribution", d.title)
	}
	if len(d.bars.bars) != 6 || strings.Join(d.names, " ") != "1 2 4" || d.xlabel != "tunnels" {
		t.Fatalf("%d bars over %v (%s), want 6 (2 series × tunnels 1 2 4)", len(d.bars.bars), d.names, d.xlabel)
	}
	// inline at 4 tunnels: 4 s of datapath × 2.1 GHz / 1e9 B over a window.
	if b := d.bars.bars[5]; b.label != "inline" || b.stages[3] < 8.39 || b.stages[3] > 8.41 {
		t.Errorf("last bar %+v, want inline with 8.4 datapath cycles/B", b)
	}
	p, err := Cost([]*results.Run{costRun(true)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var png bytes.Buffer
	if err := Render(&png, p, "png", 6*vg.Inch, 4*vg.Inch, 96); err != nil {
		t.Fatalf("render: %v", err)
	}
	if _, err := Cost([]*results.Run{costRun(false)}, Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("runs without cost: err %v, want ErrNoData", err)
	}
}
