package tuner

import (
	"slices"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// withoutBaselines returns run without the series of baseline tunnels
// (OpenVPN, IPsec; scenarios.Baselines): the rules advise on WireGuard,
// so a baseline's points, findings and series must not trigger advice
// (say, "pin the tunnels" or "try inline" for an OpenVPN series). The
// run itself is not changed; nil stays nil.
func withoutBaselines(run *results.Run) *results.Run {
	if run == nil {
		return nil
	}
	base := func(dp scenarios.Datapath) bool { return slices.Contains(scenarios.Baselines, dp) }
	has := slices.ContainsFunc(run.Series, func(s results.SeriesStatus) bool { return base(s.Datapath) }) ||
		slices.ContainsFunc(run.Points, func(p results.Point) bool { return base(p.Datapath) })
	if !has {
		return run
	}
	r := *run
	r.Series = slices.DeleteFunc(slices.Clone(run.Series), func(s results.SeriesStatus) bool { return base(s.Datapath) })
	r.Points = slices.DeleteFunc(slices.Clone(run.Points), func(p results.Point) bool { return base(p.Datapath) })
	r.Scenario.Series = slices.DeleteFunc(slices.Clone(run.Scenario.Series), func(s scenarios.Series) bool { return base(s.Datapath) })
	return &r
}
