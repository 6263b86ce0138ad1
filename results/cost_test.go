package results

import (
	"math"
	"testing"
)

func TestNewRepCost(t *testing.T) {
	clock := Clock{Hz: 2e9, Source: ClockNominal}
	// 1 s of softirq and 3 s of datapath over a 2 s window, 1e9 bytes.
	c := NewRepCost(ByThread, 2, []float64{1, 0, 0, 3, 0, 0}, 1e9, 1368, clock)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}
	near("CPUSeconds", c.CPUSeconds, 4)
	near("CyclesPerByte", c.CyclesPerByte, 8)          // 4 s × 2 GHz / 1e9 B
	near("CyclesPerPacket", c.CyclesPerPacket, 8*1368) // per byte × payload per packet
	near("GWCores", c.GWCores, 2)
	near("Packets", c.Packets, 1e9/1368)
	if len(c.Stages) != len(CostStages) {
		t.Fatalf("%d stages, want %d", len(c.Stages), len(CostStages))
	}
	near("softirq cycles/B", c.Stages[0].CyclesPerByte, 2)
	near("datapath cycles/B", c.Stages[3].CyclesPerByte, 6)

	if z := NewRepCost(ByThread, 2, []float64{1}, 0, 1368, clock); z.CyclesPerByte != 0 || math.IsInf(z.CyclesPerPacket, 0) {
		t.Errorf("no bytes: %+v, want zero costs", z)
	}
}

func TestResummarizeCost(t *testing.T) {
	clock := Clock{Hz: 1e9}
	rc := func(sec float64) *RepCost {
		c := NewRepCost(ByCore, 1, []float64{0, 0, sec}, 1e9, 1000, clock)
		return &c
	}
	p := Point{Repetitions: []Repetition{
		{AggregateBps: 1e9, Cost: rc(1)},               // 1 cycle/B
		{AggregateBps: 1e9, Cost: rc(3)},               // 3 cycles/B
		{AggregateBps: 1e9},                            // no samples: left out
		{AggregateBps: 1e9, Cost: rc(100), Error: "x"}, // failed: left out
	}}
	p.Resummarize()
	if p.Cost == nil {
		t.Fatal("no point cost")
	}
	if p.Cost.N != 2 || p.Cost.CyclesPerByte != 2 || p.Cost.GWCores != 2 || p.Cost.CyclesPerByteCI95 <= 0 {
		t.Errorf("point cost %+v, want n=2, 2 cycles/B, 2 cores, a CI", p.Cost)
	}
	if got := p.Cost.Stages[2]; got.Stage != CostCrypto || got.CyclesPerByte != 2 {
		t.Errorf("crypto stage %+v, want 2 cycles/B", got)
	}
	p.Repetitions = p.Repetitions[2:3]
	p.Resummarize()
	if p.Cost != nil {
		t.Errorf("point without samples has cost %+v", p.Cost)
	}
}
