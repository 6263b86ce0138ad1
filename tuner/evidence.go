package tuner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// The sources the rules cite, as file names in ../shared/papers.
const (
	hpsr   = "hpsr2025-revisiting-wireguard-line-rate.txt"
	netdev = "netdev0x18-linear-cpu-scaling-wireguard.txt"
	edge   = "wireguard-5g-iot-edge-tuning.txt"
)

// findingGroup is the findings of one kind on one host at one point of a
// run, over its repetitions.
type findingGroup struct {
	point  *results.Point
	series scenarios.Series
	host   string
	kind   string
	// cores are the distinct saturated cores, in order of appearance.
	cores []int
	// reps is how many repetitions had the finding, of okReps.
	reps, okReps int
	// means over the repetitions with the finding
	busy, softirq, idle float64
	shared              bool
	// stages are the first repetition's.
	stages  []results.StageShare
	summary string
}

// findingGroups gathers the run's findings by point, host and kind.
func findingGroups(run *results.Run) []*findingGroup {
	if run == nil {
		return nil
	}
	var out []*findingGroup
	for i := range run.Points {
		p := &run.Points[i]
		s, _ := seriesOf(run, p.Series)
		byKey := map[string]*findingGroup{}
		for _, rep := range p.Repetitions {
			if !rep.OK() {
				continue
			}
			for _, f := range rep.Findings {
				key := f.Host + "/" + f.Kind
				g := byKey[key]
				if g == nil {
					g = &findingGroup{point: p, series: s, host: f.Host, kind: f.Kind, okReps: p.OKRepetitions(),
						stages: f.Stages, summary: f.Summary, shared: f.Shared}
					byKey[key] = g
					out = append(out, g)
				}
				if !slices.Contains(g.cores, f.Core) {
					g.cores = append(g.cores, f.Core)
				}
				n := float64(g.reps)
				g.busy = (g.busy*n + f.BusyMean) / (n + 1)
				g.softirq = (g.softirq*n + f.SoftirqShare) / (n + 1)
				g.idle = (g.idle*n + f.HostIdle) / (n + 1)
				g.reps++
			}
		}
	}
	return out
}

// where locates the group in the run.
func (g *findingGroup) where() string {
	return fmt.Sprintf("series %s (%s), %s, repetitions with the finding: %d of %d",
		g.point.Series, g.point.Datapath, pointName(g.point.Tunnels, g.point.FlowsPerTunnel), g.reps, g.okReps)
}

// text states the group with its numbers.
func (g *findingGroup) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s on core %s, %.0f %% busy (%.0f %% of it softirq) while the host was %.0f %% idle",
		g.host, g.kind, intList(g.cores), g.busy, 100*g.softirq, 100*g.idle)
	if len(g.stages) > 0 {
		b.WriteString("; on it: ")
		for i, s := range g.stages[:min(3, len(g.stages))] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s.Stage)
			if s.Dev != "" {
				b.WriteString("(" + s.Dev + ")")
			}
			fmt.Fprintf(&b, " %.0f %%", s.Pct)
		}
	}
	fmt.Fprintf(&b, "; %s", throughput(g.point))
	if g.shared {
		b.WriteString(" (local testbed: cores shared by all hosts, figures machine-wide)")
	}
	return b.String()
}

// stagePct returns the share of a core a stage used in the group's
// first repetition.
func (g *findingGroup) stagePct(stage string) float64 {
	var pct float64
	for _, s := range g.stages {
		if s.Stage == stage {
			pct += s.Pct
		}
	}
	return pct
}

// throughput formats a point's summary.
func throughput(p *results.Point) string {
	s := p.Summary
	if s.N == 0 {
		return "no successful repetition"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.2f Gbit/s (one repetition, no spread)", s.MeanGbps)
	}
	return fmt.Sprintf("%.2f ± %.2f Gbit/s (mean ± 95 %% CI, n=%d)", s.MeanGbps, s.CI95Gbps, s.N)
}

func pointName(tunnels, flows int) string {
	return fmt.Sprintf("%d tunnel%s × %d flow%s", tunnels, plural(tunnels), flows, plural(flows))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// seriesOf returns the run's scenario series named name.
func seriesOf(run *results.Run, name string) (scenarios.Series, bool) {
	for _, s := range run.Scenario.Series {
		if s.Name == name {
			return s, true
		}
	}
	return scenarios.Series{}, false
}

// findPoint returns the run's point of a series at tunnels × flows.
func findPoint(run *results.Run, series string, tunnels, flows int) *results.Point {
	for i := range run.Points {
		p := &run.Points[i]
		if p.Series == series && p.Tunnels == tunnels && p.FlowsPerTunnel == flows {
			return p
		}
	}
	return nil
}

// runWhere names the run in evidence.
func runWhere(run *results.Run) string {
	if run.ScenarioFile != "" {
		return "run of " + run.ScenarioFile
	}
	return "run of scenario " + run.Scenario.Name
}

func intList(l []int) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

// cpus formats a CPU list kernel-style.
func cpus(l []int) string { return facts.CPUList(l).String() }

// factEv makes a fact evidence.
func factEv(host, where, format string, args ...any) Evidence {
	return Evidence{Kind: KindFact, Host: host, Text: fmt.Sprintf(format, args...), Where: where}
}

// measuredEv makes a measured evidence.
func measuredEv(host, where, format string, args ...any) Evidence {
	return Evidence{Kind: KindMeasured, Host: host, Text: fmt.Sprintf(format, args...), Where: where}
}

// underlay returns the link a host's tunnels are carried on: the one the
// facts chose (facts.ChooseUnderlay: the route to the WireGuard peers'
// endpoints, the testbed's WAN, else the fastest physical port that is
// up), chosen again for facts written before they recorded it. ok is
// false when the host has none.
func underlay(h *facts.Host) (facts.Link, bool) {
	u := underlayChoice(h)
	if u == nil {
		return facts.Link{}, false
	}
	return h.Link(u.Link)
}

// underlayChoice returns the facts' choice of underlay, or makes it.
func underlayChoice(h *facts.Host) *facts.Underlay {
	if h.Underlay != nil {
		if _, ok := h.Link(h.Underlay.Link); ok {
			return h.Underlay
		}
	}
	return facts.ChooseUnderlay(h, nil)
}

// physicalNICs returns the host's physical links, the underlay first.
func physicalNICs(h *facts.Host) []facts.Link {
	var out []facts.Link
	u, _ := underlay(h)
	for _, l := range h.Links {
		if l.Kind == facts.KindPhysical {
			if l.Name == u.Name {
				out = append([]facts.Link{l}, out...)
			} else {
				out = append(out, l)
			}
		}
	}
	return out
}

// wgDevices returns the host's kernel WireGuard devices.
func wgDevices(h *facts.Host) []facts.Link {
	var out []facts.Link
	for _, l := range h.Links {
		if l.Kind == facts.KindWireGuard {
			out = append(out, l)
		}
	}
	return out
}

// patched reports whether the host runs the patched WireGuard module.
func patched(h *facts.Host) bool {
	for _, l := range wgDevices(h) {
		if l.WireGuard != nil && l.WireGuard.Patched {
			return true
		}
	}
	return false
}

// forwards reports whether the host forwards packets (a gateway).
func forwards(role string, h *facts.Host) bool {
	return role == "gw1" || role == "gw2" || h.Sysctls["net.ipv4.ip_forward"] == "1" ||
		h.Sysctls["net.ipv6.conf.all.forwarding"] == "1" || len(h.Tunnels()) > 0
}

// maxTunnels returns the most tunnels of any point of the run, 0 without
// a run.
func maxTunnels(run *results.Run) int {
	if run == nil {
		return 0
	}
	n := 0
	for _, p := range run.Points {
		n = max(n, p.Tunnels)
	}
	for _, t := range run.Scenario.Sweep.Tunnels {
		n = max(n, t)
	}
	return n
}

// sysPath names a sysfs or procfs file in evidence.
func sysPath(format string, args ...any) string { return "/" + fmt.Sprintf(format, args...) }

// wgAttr returns the sysfs path of a patched attribute of device dev.
func wgAttr(h *facts.Host, dev, name string) string {
	l, _ := h.Link(dev)
	return l.WireGuard.AttrPath(dev, name)
}
