package results

import (
	"fmt"
	"slices"

	"github.com/wgbench/wgbench/scenarios"
)

// The goals of the inline engine's hybrid mode on a testbed (issue 19):
// at 1 tunnel hybrid makes at least the Gbit/s of the faster of inline
// and wireguard-go; at more tunnels, where each tunnel may have a core of
// its own, it stays within 5 % of inline.
const (
	HybridAloneTarget = 1.00
	HybridManyTarget  = 0.95
)

// HybridGoal is one of those goals checked at one point of a run.
type HybridGoal struct {
	Tunnels int
	// Against names what hybrid is compared with: "max(inline, wggo)"
	// or "inline"; Hybrid and Base are the two mean Gbit/s.
	Against      string
	Hybrid, Base float64
	Ratio        float64
	Target       float64
	Met          bool
	// Noise says the 95 % CI of the difference includes zero, or that a
	// side has fewer than two repetitions: met or missed within noise.
	Noise bool
}

// String is the goal's line: "1 tunnel: hybrid 2.67 / max(inline, wggo)
// 2.53 Gbit/s = 1.05x ≥ 1.00x met (within the repetitions' noise)".
func (g HybridGoal) String() string {
	verdict := "missed"
	if g.Met {
		verdict = "met"
	}
	if g.Noise {
		verdict += " (within the repetitions' noise)"
	}
	tunnels := fmt.Sprintf("%d tunnels", g.Tunnels)
	if g.Tunnels == 1 {
		tunnels = "1 tunnel"
	}
	return fmt.Sprintf("%s: hybrid %.3f / %s %.3f Gbit/s = %.2fx ≥ %.2fx %s",
		tunnels, g.Hybrid, g.Against, g.Base, g.Ratio, g.Target, verdict)
}

// HybridGoals checks the hybrid goals at every tunnel count where run has
// a hybrid series (datapath inline, mode hybrid) and an inline one (mode
// inline) at the same flows, packet size and MTU; the wireguard-go series,
// when there is one, joins the 1-tunnel comparison. Nil when the run has
// no such pair.
func HybridGoals(run *Run) []HybridGoal {
	role := map[string]string{}
	for _, s := range run.Scenario.Series {
		switch {
		case s.Datapath == scenarios.Inline && s.Tuning.Mode == "hybrid":
			role[s.Name] = "hybrid"
		case s.Datapath == scenarios.Inline:
			role[s.Name] = "inline"
		case s.Datapath == scenarios.WireGuardGo:
			role[s.Name] = "wggo"
		}
	}
	type key struct{ tunnels, flows, size, mtu int }
	best := map[string]map[key]*Point{}
	var order []key
	for i := range run.Points {
		p := &run.Points[i]
		r := role[p.Series]
		if r == "" || p.Summary.N == 0 {
			continue
		}
		k := key{p.Tunnels, p.FlowsPerTunnel, p.PacketSize, p.MTU}
		if best[r] == nil {
			best[r] = map[key]*Point{}
		}
		// Of several series in one role, the fastest stands for it.
		if q := best[r][k]; q == nil || p.Summary.MeanGbps > q.Summary.MeanGbps {
			best[r][k] = p
		}
		if r == "hybrid" && !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var goals []HybridGoal
	for _, k := range order {
		h, in := best["hybrid"][k], best["inline"][k]
		if in == nil {
			continue
		}
		base, against, target := in, "inline", HybridManyTarget
		if k.tunnels == 1 {
			against, target = "max(inline, wggo)", HybridAloneTarget
			if w := best["wggo"][k]; w != nil && w.Summary.MeanGbps > base.Summary.MeanGbps {
				base = w
			}
		}
		g := HybridGoal{Tunnels: k.tunnels, Against: against, Hybrid: h.Summary.MeanGbps, Base: base.Summary.MeanGbps, Target: target}
		if g.Base > 0 {
			g.Ratio = g.Hybrid / g.Base
		}
		g.Met = g.Ratio >= target
		d := Welch(h.RepetitionGbps(), base.RepetitionGbps())
		g.Noise = h.Summary.N < 2 || base.Summary.N < 2 || !d.ExcludesZero()
		goals = append(goals, g)
	}
	return goals
}
