package runner

import (
	"testing"
	"time"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/inline"
	"github.com/wgbench/wgbench/testbed"
)

// TestCounterDeltasModes checks that a repetition records the hybrid
// tunnel's mode switches made between the two reads, and none for a
// tunnel without a mode.
func TestCounterDeltasModes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	read := func(changes uint64, log ...inline.ModeChange) *counters {
		c := &counters{bytes: map[string]map[string][2]uint64{}, modes: map[string]map[string]*datapath.TunnelStatus{}}
		for _, role := range []string{testbed.GW1, testbed.GW2} {
			c.bytes[role] = map[string][2]uint64{"wg0": {10 * changes, 20 * changes}, "wg1": {1, 1}}
			c.modes[role] = map[string]*datapath.TunnelStatus{"wg0": {Name: "wg0", Mode: &inline.ModeStatus{
				Mode: inline.ModeHybrid, Active: log[len(log)-1].To, Changes: changes, Log: log}}}
		}
		return c
	}
	up := inline.ModeChange{At: t0, To: inline.ModeHybrid, Cores: []int{1, 2, 3}}
	down := inline.ModeChange{At: t0.Add(time.Second), To: inline.ModeInline}
	up2 := inline.ModeChange{At: t0.Add(2 * time.Second), To: inline.ModeHybrid, Cores: []int{1}}
	got := counterDeltas([]string{"wg0", "wg1"}, read(1, up), read(3, up, down, up2))
	if len(got) != 2 {
		t.Fatalf("%d tunnels, want 2", len(got))
	}
	m := got[0].GW1Mode
	if m == nil || m.Mode != "hybrid" || m.Active != "hybrid" || m.Changes != 2 || len(m.Log) != 2 ||
		m.Log[0].To != "inline" || m.Log[1].To != "hybrid" || m.Log[1].Cores != "1" || !m.Log[0].At.Equal(down.At) {
		t.Errorf("gw1 mode %+v", m)
	}
	if got[0].GW1RxBytes != 20 || got[0].GW2TxBytes != 40 {
		t.Errorf("bytes %+v", got[0])
	}
	if got[1].GW1Mode != nil || got[1].GW2Mode != nil {
		t.Errorf("wg1 has no mode, got %+v %+v", got[1].GW1Mode, got[1].GW2Mode)
	}
}
