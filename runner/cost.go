package runner

import (
	"fmt"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/analyze"
	"github.com/wgbench/wgbench/probes/cost"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/testbed"
)

// accountCost sets rp.Cost from the gateways' traces stored in the
// repetition's raw folder: CPU per byte and per packet, by stage, with the
// run's clock (read from gw1 the first time). A repetition without traces
// or clock keeps no cost; it is not lost for it.
func (r *runState) accountCost(hosts map[string]testbed.Host, rawDir string, rp *results.Repetition) {
	if r.run.Clock == nil {
		c, err := cost.ReadClock(hosts[testbed.GW1].ReadFile)
		if err != nil {
			r.opts.Log.Warn("CPU clock", "err", err)
			return
		}
		r.run.Clock = &c
	}
	var traces []*probes.Trace
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		if tr, err := analyze.ReadTrace(r.folder.Path(rawDir, analyze.TraceFile(role))); err == nil {
			traces = append(traces, tr)
		}
	}
	if len(traces) == 0 {
		return
	}
	sc := r.opts.Scenario
	from := sc.Traffic.Omit.Std().Seconds()
	u := cost.Account(traces, from, from+sc.Traffic.Duration.Std().Seconds(), r.run.Testbed.SharedCores)
	var bytes uint64
	for _, f := range rp.Flows {
		if f.Error == "" {
			bytes += f.Bytes
		}
	}
	c := u.Rep(bytes, cost.PayloadPerPacket(string(sc.Traffic.Protocol), sc.Traffic.Length, sc.Testbed.MTU), *r.run.Clock)
	rp.Cost = &c
}

// costSummary renders a point's cost in a few words ("" without one).
func costSummary(c *results.PointCost) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf(", %.1f ± %.1f cycles/B, %.0f cycles/packet, %.2f gateway cores", c.CyclesPerByte, c.CyclesPerByteCI95, c.CyclesPerPacket, c.GWCores)
}
