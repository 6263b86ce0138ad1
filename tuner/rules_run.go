package tuner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// Finding kinds of the black-hole detector (probes/blackhole).
const (
	findBlackHole  = "black-hole"
	findSingleCore = "single-core-bottleneck"
	findHotCore    = "hot-core"
	findCPUBound   = "cpu-bound"
)

// ruleMultiTunnel: one tunnel's receive core on gw2 saturates while the
// host idles (HPSR 2025 Fig. 5): spread the flows over several tunnels.
func ruleMultiTunnel(in *input, r *report) {
	const id = "multi-tunnel"
	var hits []*findingGroup
	for _, g := range findingGroups(in.run) {
		if g.kind == findSingleCore && g.point.Tunnels == 1 {
			hits = append(hits, g)
		}
	}
	if len(hits) == 0 {
		if n := countPoints(in.run, func(p *results.Point) bool { return p.Tunnels == 1 && hasCPU(p) }); n > 0 {
			r.ok(id, "gw2", "no single-tunnel receive-core bottleneck in %d one-tunnel point(s) of the run", n)
		}
		return
	}
	// The worst case: most flows, then busiest.
	slices.SortStableFunc(hits, func(a, b *findingGroup) int {
		if a.point.FlowsPerTunnel != b.point.FlowsPerTunnel {
			return b.point.FlowsPerTunnel - a.point.FlowsPerTunnel
		}
		return int(b.busy - a.busy)
	})
	g := hits[0]
	k := g.point.FlowsPerTunnel
	if k < 2 {
		k = 4
		if f := in.hosts.For(g.host); f != nil && f.Cores >= 2 {
			k = min(4, max(2, f.Cores/2))
		}
	}
	s := &Suggestion{
		ID: id, Title: "Split the traffic over several tunnels", Severity: High, Host: g.host,
		Fact: fmt.Sprintf("one tunnel's receive core is the bottleneck (core %s %.0f %% busy, host %.0f %% idle, %s)",
			intList(g.cores), g.busy, 100*g.idle, throughput(g.point)),
		Advice: fmt.Sprintf("split the flows over several tunnels (about %d: one WireGuard interface, peer and UDP port each, each carrying a share of the prefixes); each tunnel gets its own receive core", k),
		Source: hpsr + " §III-B (Fig. 4, 5) and §IV-A (Fig. 8); " + netdev + " “Single tunnel evaluation”, “Scaling to Multiple Tunnels”",
		Effect: multiTunnelEffect(),
		Apply: []string{
			fmt.Sprintf("# On both gateways, add %s next to wg0, each with its own port and a share of the prefixes; for tunnel i:", tunnelRange(k)),
			"#   ip link add wg$i type wireguard",
			"#   wg set wg$i listen-port $((51820+i)) private-key /etc/wireguard/wg$i.key peer PEER_KEY_i endpoint PEER_ADDR:$((51820+i)) allowed-ips PREFIX_i",
			"#   ip link set wg$i up && ip route replace PREFIX_i dev wg$i",
		},
		Undo: []string{"#   ip link del wg$i   (each added tunnel), then route its prefixes over wg0 again"},
		Verify: &Verify{Tunnels: []int{1, k}, Flows: []int{1, k},
			Note: fmt.Sprintf("compares 1 tunnel × %d flows with %d tunnels × 1 flow in each baseline series", k, k)},
	}
	for _, h := range hits {
		s.Evidence = append(s.Evidence, measuredEv(h.host, h.where(), "%s", h.text()))
	}
	// The same series with more tunnels, if measured.
	for _, p := range in.run.Points {
		if p.Series == g.point.Series && p.Tunnels > 1 && p.Summary.N > 0 {
			s.Evidence = append(s.Evidence, measuredEv("", fmt.Sprintf("series %s, %s", p.Series, pointName(p.Tunnels, p.FlowsPerTunnel)),
				"the same series with %d tunnels: %s (one tunnel: %s)", p.Tunnels, throughput(&p), throughput(g.point)))
		}
	}
	r.warn(s)
}

// multiTunnelEffect is what the paper measured of more tunnels: from one
// tunnel to the plateau of softirq NAPI.
func multiTunnelEffect() Effect {
	at := claim("vanilla-plateau").Den.X
	one, plateau := value("fig8", "vanilla", 1), value("fig8", "vanilla", at)
	return Effect{
		Text: fmt.Sprintf("the per-tunnel stages (reception, forwarding) run on one core each, so throughput grows with tunnels: about linearly up to %d tunnels, then a ~%s plateau with softirq NAPI (vs %s for one tunnel), beyond it with threaded NAPI",
			at, gbit(plateau), gbit(one)),
		// One tunnel's value is a lower bound: the gain is at most this.
		Gain:   round2(plateau.Gbps/one.Gbps - 1),
		Source: hpsr + " §IV-A (Fig. 8: Vanilla ~13 Gbit/s from 4 tunnels), §IV-C (one tunnel: over 90/18 Gbit/s)",
	}
}

// ruleThreadedNAPI: the black hole of softirq NAPI (HPSR 2025 Fig. 9),
// measured, or several kernel tunnels still on softirq NAPI.
func ruleThreadedNAPI(in *input, r *report) {
	const id = "threaded-napi"
	groups, holes := blackHoles(in, r, id)
	measured := map[string]*Suggestion{}
	for _, role := range []string{"gw2", "gw1", AnyHost} {
		if gs := groups[role]; len(gs) > 0 {
			s := threadedFromRun(in, role, gs)
			measured[role] = s
			r.warn(s)
		}
	}
	for _, role := range in.hosts.roles() {
		h := in.hosts[role]
		devs := wgDevices(h)
		soft := softirqDevices(h)
		switch {
		case measured[role] != nil:
			if len(soft) > 0 {
				measured[role].Evidence = append(measured[role].Evidence, factEv(role, sysPath("sys/class/net/%s/threaded", soft[0]), "%s use softirq NAPI (threaded = 0)", strings.Join(soft, ", ")))
			}
		case len(soft) >= 2:
			r.warn(threadedFromFacts(role, h, soft))
		case len(devs) > 0 && len(soft) == 0:
			r.ok(id, role, "WireGuard devices %s use threaded NAPI (or have no threaded flag)", abbrev(names(devs), 4))
		}
	}
	if holes == 0 && in.run != nil {
		if n := countPoints(in.run, func(p *results.Point) bool { return p.Tunnels > 1 && p.Datapath == scenarios.Kernel && hasCPU(p) }); n > 0 {
			r.ok(id, "gw2", "no black hole in %d multi-tunnel point(s) of the kernel datapath", n)
		}
	}
}

// blackHoles returns the run's black-hole findings that threaded NAPI
// addresses (kernel datapath, softirq NAPI), by host, and how many there
// are; it notes the others.
func blackHoles(in *input, r *report, id string) (map[string][]*findingGroup, int) {
	groups := map[string][]*findingGroup{}
	n := 0
	for _, g := range findingGroups(in.run) {
		if g.kind != findBlackHole {
			continue
		}
		dp := g.point.Datapath
		if dp != scenarios.Kernel {
			r.info(id, g.host, "black hole in series %s (%s datapath) at %s: threaded NAPI is a knob of the kernel datapath; the softirq there is the links' own receive processing (%s)",
				g.point.Series, dp, pointName(g.point.Tunnels, g.point.FlowsPerTunnel), g.where())
			continue
		}
		if g.series.Tuning.ThreadedNAPI {
			r.info(id, g.host, "black hole in series %s at %s although it uses threaded NAPI: the host may be short of cores for its tunnels", g.point.Series, pointName(g.point.Tunnels, g.point.FlowsPerTunnel))
			continue
		}
		n++
		groups[g.host] = append(groups[g.host], g)
	}
	return groups, n
}

// softirqDevices names the host's WireGuard devices on softirq NAPI.
func softirqDevices(h *facts.Host) []string {
	var soft []string
	for _, d := range wgDevices(h) {
		if d.Threaded != nil && !*d.Threaded {
			soft = append(soft, d.Name)
		}
	}
	return soft
}

// threadedEffect is what the papers say threaded NAPI does: no gain at a
// given tunnel count, only that throughput scales past the plateau.
func threadedEffect() Effect {
	plateau := claim("vanilla-plateau")
	return Effect{
		Text: fmt.Sprintf("the NAPI polls move between cores instead of piling up on one: throughput scales with tunnels instead of plateauing near %s beyond %d tunnels, though far from linearly; the papers give no gain at a given tunnel count (at %d tunnels Inline's %s is %s Vanilla thr's best)",
			gbit(value("fig8", "vanilla", plateau.Den.X)), plateau.Den.X, claim("inline-vs-vanilla-thr").Num.X, gbit(value("fig8", "inline", 0)), claimTimes("inline-vs-vanilla-thr")),
		Source: hpsr + " §IV-B (Fig. 8 “Vanilla” vs “Vanilla thr”, Fig. 9), §IV-C (Inline 2× Vanilla thr)",
	}
}

const threadedSource = hpsr + " §IV-B; " + netdev + " “Scaling to Multiple Tunnels and the Problem of the NAPI”"

// threadedFromRun builds the suggestion for the black holes measured on
// one host, with the same points measured with threaded NAPI, if any.
func threadedFromRun(in *input, role string, gs []*findingGroup) *Suggestion {
	worst := gs[0]
	var tunnels []int
	for _, g := range gs {
		if g.point.Tunnels > worst.point.Tunnels {
			worst = g
		}
		if !slices.Contains(tunnels, g.point.Tunnels) {
			tunnels = append(tunnels, g.point.Tunnels)
		}
	}
	slices.Sort(tunnels)
	s := &Suggestion{
		ID: "threaded-napi", Title: "Switch the WireGuard devices to threaded NAPI", Severity: High, Host: role,
		Fact: fmt.Sprintf("black hole: with %s tunnels the NAPI polls pile up on core %s (%.0f %% busy, %.0f %% softirq) while the host is %.0f %% idle",
			intList(tunnels), intList(worst.cores), worst.busy, 100*worst.softirq, 100*worst.idle),
		Advice: "turn on threaded NAPI on every WireGuard device (after its peer exists), so the scheduler spreads the polls",
		Effect: threadedEffect(), Source: threadedSource,
		Verify: &Verify{Tuning: scenarios.Tuning{ThreadedNAPI: true}, On: []scenarios.Datapath{scenarios.Kernel}},
	}
	s.Apply, s.Undo = threadedCommands(in.hosts.For(role))
	for _, g := range gs {
		s.Evidence = append(s.Evidence, measuredEv(g.host, g.where(), "%s", g.text()))
	}
	for _, g := range gs {
		s.Evidence = append(s.Evidence, threadedComparisons(in.run, role, g)...)
	}
	return s
}

// threadedComparisons returns the points of the run measured like g's
// but with threaded NAPI, as evidence.
func threadedComparisons(run *results.Run, role string, g *findingGroup) []Evidence {
	var ev []Evidence
	for i := range run.Points {
		q := &run.Points[i]
		qs, _ := seriesOf(run, q.Series)
		if q.Datapath != scenarios.Kernel || !qs.Tuning.ThreadedNAPI || q.Tunnels != g.point.Tunnels || q.FlowsPerTunnel != g.point.FlowsPerTunnel || q.Summary.N == 0 {
			continue
		}
		d := compare(g.point.Summary, q.Summary)
		holes := 0
		for _, rep := range q.Repetitions {
			for _, f := range rep.Findings {
				if f.Host == role && f.Kind == findBlackHole {
					holes++
				}
			}
		}
		ev = append(ev, measuredEv(role, fmt.Sprintf("series %s vs %s, %s", g.point.Series, q.Series, pointName(q.Tunnels, q.FlowsPerTunnel)),
			"with threaded NAPI (series %s) at %d tunnels: %d black-hole finding(s), %s vs %s: %+.0f %% (%s)",
			q.Series, q.Tunnels, holes, throughput(q), throughput(g.point), d.DeltaPct, d.Verdict))
	}
	return ev
}

// threadedFromFacts builds the suggestion for a host whose WireGuard
// devices use softirq NAPI, without a measured black hole.
func threadedFromFacts(role string, h *facts.Host, soft []string) *Suggestion {
	s := &Suggestion{
		ID: "threaded-napi", Title: "Switch the WireGuard devices to threaded NAPI", Severity: Medium, Host: role,
		Fact:     fmt.Sprintf("%d WireGuard devices (%s) use softirq NAPI: with traffic on several tunnels their polls can pile up on one core (the black hole)", len(soft), abbrev(soft, 4)),
		Advice:   "turn on threaded NAPI on every WireGuard device",
		Evidence: []Evidence{factEv(role, sysPath("sys/class/net/%s/threaded", soft[0]), "threaded = 0 on %s", strings.Join(soft, ", "))},
		Effect:   threadedEffect(), Source: threadedSource,
		Verify: &Verify{Tuning: scenarios.Tuning{ThreadedNAPI: true}, On: []scenarios.Datapath{scenarios.Kernel}},
	}
	s.Apply, s.Undo = threadedCommands(h)
	return s
}

// threadedCommands returns the commands that turn threaded NAPI on for
// the host's WireGuard devices, or for every WireGuard device when the
// facts do not list them.
func threadedCommands(h *facts.Host) (apply, undo []string) {
	var devs []string
	if h != nil {
		devs = softirqDevices(h)
	}
	if len(devs) == 0 {
		loop := `for d in /sys/class/net/*; do if grep -qx DEVTYPE=wireguard "$d/uevent"; then echo %d > "$d/threaded"; fi; done`
		return []string{fmt.Sprintf(loop, 1)}, []string{fmt.Sprintf(loop, 0)}
	}
	for _, d := range devs {
		apply = append(apply, fmt.Sprintf("echo 1 > /sys/class/net/%s/threaded", d))
		undo = append(undo, fmt.Sprintf("echo 0 > /sys/class/net/%s/threaded", d))
	}
	return apply, undo
}

// ruleDecryptOffRxCore: decryption workers share the core that receives
// the tunnel (HPSR 2025 Fig. 6: +14 % when lifted off it).
func ruleDecryptOffRxCore(in *input, r *report) {
	const id = "decrypt-off-rx-core"
	effect := Effect{
		Text:   fmt.Sprintf("about %s on one tunnel when the core receiving the tunnel on gw2 does no decryption (%s together with NUMA affinity)", claimPct("overlap-rx-tun"), claimPct("improved")),
		Gain:   claimGain("overlap-rx-tun"),
		Source: hpsr + " §III-C1 (Fig. 6), §III-C2 (Fig. 7b)",
	}
	source := hpsr + " §III-C1 “Preventing overlaps”"
	done := map[string]bool{}
	for _, g := range findingGroups(in.run) {
		if g.host != "gw2" || (g.kind != findSingleCore && g.kind != findHotCore) || g.point.Datapath != scenarios.Kernel || done[g.host] {
			continue
		}
		crypt := g.stagePct("wg-crypt")
		if crypt < 5 || len(g.series.Tuning.DecryptCPUs) > 0 && !slices.ContainsFunc(g.cores, func(c int) bool { return slices.Contains(g.series.Tuning.DecryptCPUs.Set(), c) }) {
			continue
		}
		done[g.host] = true
		h := in.hosts.For(g.host)
		keep := decryptCPUs(h, in.run, g.host, g.cores)
		s := &Suggestion{
			ID: id, Title: "Keep the tunnel-receiving core free of decryption", Severity: Medium, Host: g.host,
			Fact: fmt.Sprintf("the core receiving the tunnel (core %s, %.0f %% busy) also runs decryption workers (wg-crypt %.0f %% of it)",
				intList(g.cores), g.busy, crypt),
			Advice:   fmt.Sprintf("restrict decryption to CPUs %s, leaving core %s to reception (patched module's decrypt_cpumask; the vanilla module decrypts on every CPU)", cpus(keep), intList(g.cores)),
			Evidence: []Evidence{measuredEv(g.host, g.where(), "%s", g.text())},
			Effect:   effect, Source: source,
			Verify: &Verify{Tuning: scenarios.Tuning{DecryptCPUs: scenarios.CPUs(keep)}, On: []scenarios.Datapath{scenarios.Kernel},
				Note: "needs the patched WireGuard module (decrypt_cpumask); skipped by the runner otherwise"},
		}
		if g.kind == findSingleCore {
			s.Severity = High
		}
		s.Apply, s.Undo = decryptCommands(h, keep)
		r.warn(s)
	}
	// Facts: the patched module decrypting on the NIC's receive cores.
	for _, role := range in.hosts.roles() {
		if done[role] {
			continue
		}
		h := in.hosts[role]
		nic, ok := underlay(h)
		if !ok || nic.Kind != facts.KindPhysical || !patched(h) {
			continue
		}
		var rx facts.CPUList
		for _, q := range nic.IRQs {
			rx = append(rx, q.Effective...)
		}
		slices.Sort(rx)
		rx = slices.Compact(rx)
		var bad []string
		for _, d := range wgDevices(h) {
			if d.WireGuard != nil && len(d.WireGuard.DecryptCPUs.Intersect(rx)) > 0 {
				bad = append(bad, d.Name)
			}
		}
		if len(bad) == 0 {
			r.ok(id, role, "decryption (decrypt_cpumask) stays off the receive cores %s of %s", cpus(rx), nic.Name)
			continue
		}
		keep := facts.CPUList(h.CPU.Online).Minus(rx)
		if n, ok := h.Node(nic.NUMANode); ok && len(n.CPUs.Minus(rx)) > 0 {
			keep = n.CPUs.Minus(rx)
		}
		d, _ := h.Link(bad[0])
		s := &Suggestion{
			ID: id, Title: "Keep the tunnel-receiving cores free of decryption", Severity: Medium, Host: role,
			Fact:     fmt.Sprintf("decrypt_cpumask of %s includes the cores %s that receive %s's queues", abbrev(bad, 3), cpus(d.WireGuard.DecryptCPUs.Intersect(rx)), nic.Name),
			Advice:   fmt.Sprintf("restrict decryption to CPUs %s", cpus(keep)),
			Evidence: []Evidence{factEv(role, sysPath("sys/class/net/%s/decrypt_cpumask", bad[0]), "decrypt_cpumask = %s (CPUs %s); %s IRQs run on CPUs %s", d.WireGuard.DecryptCPUs.Mask(), cpus(d.WireGuard.DecryptCPUs), nic.Name, cpus(rx))},
			Effect:   effect, Source: source,
			Verify: &Verify{Tuning: scenarios.Tuning{DecryptCPUs: scenarios.CPUs(keep)}, On: []scenarios.Datapath{scenarios.Kernel}},
		}
		s.Apply, s.Undo = decryptCommands(h, keep)
		r.warn(s)
	}
}

// decryptCPUs returns the CPUs decryption should use: those of the NIC's
// NUMA node (else all) but the receiving cores.
func decryptCPUs(h *facts.Host, run *results.Run, role string, rx []int) facts.CPUList {
	var all facts.CPUList
	if h != nil && len(h.CPU.Online) > 0 {
		all = h.CPU.Online
		if nic, ok := underlay(h); ok {
			if n, ok := h.Node(nic.NUMANode); ok {
				all = n.CPUs
			}
		}
	} else if run != nil {
		for _, p := range run.Points {
			for _, rep := range p.Repetitions {
				for _, c := range rep.CPU {
					if c.Host == role {
						for _, l := range c.Cores {
							all = append(all, l.Core)
						}
					}
				}
			}
			if len(all) > 0 {
				break
			}
		}
		slices.Sort(all)
		all = slices.Compact(all)
	}
	keep := all.Minus(rx)
	if len(keep) == 0 {
		return all
	}
	return keep
}

// decryptCommands writes decrypt_cpumask on the patched module's devices.
func decryptCommands(h *facts.Host, keep facts.CPUList) (apply, undo []string) {
	if h != nil && len(wgDevices(h)) > 0 && !patched(h) {
		return []string{"# the vanilla WireGuard module decrypts on every online CPU: load the patched module (HPSR 2025 ref. [7]) for decrypt_cpumask, or use the inline engine"}, nil
	}
	var devs []facts.Link
	if h != nil {
		for _, d := range wgDevices(h) {
			if d.WireGuard != nil && d.WireGuard.Patched {
				devs = append(devs, d)
			}
		}
	}
	if len(devs) == 0 {
		loop := `for d in /sys/class/net/*; do if [ -e "$d/decrypt_cpumask" ]; then echo %s > "$d/decrypt_cpumask"; fi; done`
		all := "ffffffff"
		if h != nil && len(h.CPU.Online) > 0 {
			all = facts.CPUList(h.CPU.Online).Mask()
		}
		return []string{"# needs the patched WireGuard module (decrypt_cpumask)", fmt.Sprintf(loop, keep.Mask())},
			[]string{fmt.Sprintf(loop, all)}
	}
	for _, d := range devs {
		apply = append(apply, fmt.Sprintf("echo %s > %s", keep.Mask(), d.WireGuard.AttrPath(d.Name, "decrypt_cpumask")))
		undo = append(undo, fmt.Sprintf("echo %s > %s", d.WireGuard.DecryptCPUs.Mask(), d.WireGuard.AttrPath(d.Name, "decrypt_cpumask")))
	}
	return apply, undo
}

// ruleInline: many tunnels and flows favour the inline architecture;
// few tunnels (elephant flows) favour vanilla with threaded NAPI.
func ruleInline(in *input, r *report) {
	if in.run != nil {
		// Many tunnels measured on a vanilla datapath, no inline series.
		if best := manyTunnelsOnVanilla(in.run); len(best) > 0 && !slices.ContainsFunc(in.run.Scenario.Series, isInline) {
			r.warn(inlineFromRun(in.run, best))
		}
		// Inline measured with few tunnels, slower than vanilla threaded.
		if p, q, d, ok := inlineSlowerThanThreaded(in.run); ok {
			r.warn(vanillaThreadedFromRun(p, q, d))
			return
		}
	}
	for _, role := range in.hosts.roles() {
		h := in.hosts[role]
		devs, on, off := inlineState(h)
		few := inlineTunnels()
		switch {
		case len(devs) == 0:
		case len(devs) >= few && len(on) < len(devs):
			r.warn(inlineFromFacts(role, h, devs, on, off))
		case len(devs) < few && len(on) > 0:
			r.warn(vanillaThreadedFromFacts(role, h, devs, on))
		case len(devs) >= few:
			r.ok("inline", role, "%d tunnels run inline", len(devs))
		default:
			r.ok("inline", role, "%d WireGuard tunnel(s): the vanilla architecture suits fewer than ~%d tunnels", len(devs), few)
		}
	}
}

// inlineTunnels is where the papers see Inline overtake vanilla with
// threaded NAPI: "up to 12 in our systems" (HPSR 2025 Sec. IV-C).
func inlineTunnels() int { return claim("inline-below-vanilla-thr").Num.X }

// inlineEffect is what the papers measured of inline with many tunnels.
func inlineEffect() Effect {
	at := claim("inline-vs-vanilla-thr")
	return Effect{
		Text: fmt.Sprintf("each tunnel handled start to finish on one core: throughput grows about linearly with tunnels, %s at %d tunnels with every core busy, %s the best of vanilla with threaded NAPI; where NUMA-aware vanilla saturates every core (~%s), inline still has CPUs to spare",
			gbit(value("fig8", "inline", at.Num.X)), at.Num.X, claimTimes(at.ID), gbit(value("fig8", "numa-aware-thr", 0))),
		Gain:   claimGain(at.ID),
		Source: hpsr + " §IV-C (Fig. 8 “Inline”), §IV-D (NUMA-aware saturates all cores at ~65 Gbit/s); " + netdev + " “Wireguard Inline”",
	}
}

// vanillaThreadedEffect is what the papers measured of inline with few
// tunnels.
func vanillaThreadedEffect() Effect {
	return Effect{
		Text:   fmt.Sprintf("up to about %d tunnels vanilla WireGuard with threaded NAPI is faster than inline, whose per-tunnel core cannot use parallel decryption (an elephant flow stays on one core), though at more than twice the CPU", inlineTunnels()),
		Source: hpsr + " §IV-C; " + netdev + " “Wireguard Inline” (fewer than 12 tunnels: more than 2× the CPU; elephant flows)",
	}
}

const inlineSource = hpsr + " §IV-C; " + netdev + " “Wireguard Inline”"

// manyTunnelsOnVanilla returns, per series of a vanilla (not inline, not
// plain) datapath, its point with the most tunnels, one flow each, when
// that is at least where inline pays off.
func manyTunnelsOnVanilla(run *results.Run) map[string]*results.Point {
	best := map[string]*results.Point{}
	for i := range run.Points {
		p := &run.Points[i]
		s, _ := seriesOf(run, p.Series)
		if isInline(s) || p.Datapath == scenarios.Plain || p.Summary.N == 0 {
			continue
		}
		if p.Tunnels >= inlineTunnels() && p.FlowsPerTunnel == 1 && (best[p.Series] == nil || p.Tunnels > best[p.Series].Tunnels) {
			best[p.Series] = p
		}
	}
	return best
}

// inlineFromRun builds the suggestion to try inline for the many-tunnel
// points of vanilla series.
func inlineFromRun(run *results.Run, best map[string]*results.Point) *Suggestion {
	names := slices.Sorted(maps.Keys(best))
	p := best[names[0]]
	s := &Suggestion{
		ID: "inline", Title: "Use the inline architecture for many tunnels", Severity: Medium, Host: "gw1,gw2",
		Fact:   fmt.Sprintf("%d tunnels with one flow each on %s reach %s", p.Tunnels, p.Datapath, throughput(p)),
		Advice: fmt.Sprintf("with ≥ %d tunnels and many flows, handle each tunnel inline on one core: the embedded engine (datapath: inline, pinned) or the patched kernel module (inline_en)", inlineTunnels()),
		Effect: inlineEffect(), Source: inlineSource,
		Apply: []string{"# embedded engine: wgbench datapath up --engine inline --config wgN.conf (one per tunnel, pinned)",
			"# patched kernel module: for d in /sys/class/net/wg*; do echo 1 > $d/inline_en; done"},
		Undo:   []string{"# back to the vanilla datapath; patched module: echo 0 > /sys/class/net/wgN/inline_en"},
		Verify: &Verify{Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Pin: true}, On: []scenarios.Datapath{scenarios.Kernel, scenarios.WireGuardGo}},
	}
	for _, n := range names {
		q := best[n]
		s.Evidence = append(s.Evidence, measuredEv("", fmt.Sprintf("series %s, %s", q.Series, pointName(q.Tunnels, 1)), "%s at %d tunnels: %s (%.2f Gbit/s per tunnel)%s",
			q.Series, q.Tunnels, throughput(q), q.Summary.MeanGbps/float64(q.Tunnels), scaling(run, q)))
	}
	return s
}

// inlineSlowerThanThreaded finds an inline point below the crossover
// that a kernel series with threaded NAPI measured faster at the same
// point.
func inlineSlowerThanThreaded(run *results.Run) (p, q *results.Point, d Delta, ok bool) {
	for i := range run.Points {
		p := &run.Points[i]
		s, _ := seriesOf(run, p.Series)
		if !isInline(s) || p.Tunnels >= inlineTunnels() || p.Summary.N == 0 {
			continue
		}
		for j := range run.Points {
			q := &run.Points[j]
			qs, _ := seriesOf(run, q.Series)
			if q.Datapath != scenarios.Kernel || !qs.Tuning.ThreadedNAPI || qs.Tuning.InlineKernel || q.Tunnels != p.Tunnels || q.FlowsPerTunnel != p.FlowsPerTunnel || q.Summary.N == 0 {
				continue
			}
			if d := compare(p.Summary, q.Summary); d.Verdict == VerdictBetter {
				return p, q, d, true
			}
		}
	}
	return nil, nil, Delta{}, false
}

// vanillaThreadedFromRun builds the suggestion to keep vanilla with
// threaded NAPI where it beat inline (point q against inline's p).
func vanillaThreadedFromRun(p, q *results.Point, d Delta) *Suggestion {
	return &Suggestion{
		ID: "vanilla-threaded", Title: "Use vanilla WireGuard with threaded NAPI for few tunnels", Severity: Medium, Host: "gw1,gw2",
		Fact:   fmt.Sprintf("at %s inline (%s) is slower than vanilla threaded (%s)", pointName(p.Tunnels, p.FlowsPerTunnel), throughput(p), throughput(q)),
		Advice: fmt.Sprintf("with few tunnels or elephant flows keep the vanilla architecture with threaded NAPI; switch to inline from about %d tunnels", inlineTunnels()),
		Evidence: []Evidence{measuredEv("", fmt.Sprintf("series %s vs %s, %s", p.Series, q.Series, pointName(p.Tunnels, p.FlowsPerTunnel)),
			"%s %.2f Gbit/s vs %s %.2f Gbit/s: %+.1f %% (difference ±%.2f at 95 %%)", p.Series, p.Summary.MeanGbps, q.Series, q.Summary.MeanGbps, d.DeltaPct, d.CI95Gbps)},
		Effect: vanillaThreadedEffect(), Source: inlineSource,
		Apply:  []string{"# patched module: echo 0 > /sys/class/net/wgN/inline_en; echo 1 > /sys/class/net/wgN/threaded"},
		Undo:   []string{"# patched module: echo 1 > /sys/class/net/wgN/inline_en"},
		Verify: &Verify{Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{ThreadedNAPI: true}, On: []scenarios.Datapath{scenarios.Inline}},
	}
}

// inlineState returns the host's WireGuard devices and the names of
// those with the patched module's inline_en on and off.
func inlineState(h *facts.Host) (devs []facts.Link, on, off []string) {
	devs = wgDevices(h)
	for _, d := range devs {
		if d.WireGuard != nil && d.WireGuard.InlineEnabled != nil {
			if *d.WireGuard.InlineEnabled {
				on = append(on, d.Name)
			} else {
				off = append(off, d.Name)
			}
		}
	}
	return devs, on, off
}

// inlineFromFacts builds the suggestion to run a host's many tunnels
// inline: inline_en where the patched module has it off, else how to get
// there.
func inlineFromFacts(role string, h *facts.Host, devs []facts.Link, on, off []string) *Suggestion {
	s := &Suggestion{
		ID: "inline", Title: "Use the inline architecture for many tunnels", Severity: Medium, Host: role,
		Fact:     fmt.Sprintf("%d WireGuard tunnels run the vanilla architecture", len(devs)),
		Advice:   fmt.Sprintf("with ≥ %d tunnels and many flows, run them inline (patched module's inline_en, or the embedded inline engine)", inlineTunnels()),
		Evidence: []Evidence{factEv(role, sysPath("sys/class/net/%s", devs[0].Name), "%d kernel WireGuard devices; inline_en on %d of them", len(devs), len(on))},
		Effect:   inlineEffect(), Source: inlineSource,
		Verify: &Verify{Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Pin: true}, On: []scenarios.Datapath{scenarios.Kernel, scenarios.WireGuardGo}},
	}
	if len(off) == 0 {
		s.Apply = []string{"# load the patched module (HPSR 2025 ref. [7]) and echo 1 > /sys/class/net/wgN/inline_en, or run the tunnels on the embedded engine: wgbench datapath up --engine inline"}
		return s
	}
	for _, d := range off {
		s.Apply = append(s.Apply, fmt.Sprintf("echo 1 > %s", wgAttr(h, d, "inline_en")))
		s.Undo = append(s.Undo, fmt.Sprintf("echo 0 > %s", wgAttr(h, d, "inline_en")))
	}
	s.Verify = &Verify{Tuning: scenarios.Tuning{InlineKernel: true}, On: []scenarios.Datapath{scenarios.Kernel}}
	return s
}

// vanillaThreadedFromFacts builds the suggestion to turn inline off on a
// host with few tunnels.
func vanillaThreadedFromFacts(role string, h *facts.Host, devs []facts.Link, on []string) *Suggestion {
	s := &Suggestion{
		ID: "vanilla-threaded", Title: "Use vanilla WireGuard with threaded NAPI for few tunnels", Severity: Low, Host: role,
		Fact:     fmt.Sprintf("inline_en is on for %s with only %d tunnels", abbrev(on, 3), len(devs)),
		Advice:   fmt.Sprintf("below about %d tunnels keep the vanilla architecture with threaded NAPI; inline pays off with many tunnels and flows", inlineTunnels()),
		Evidence: []Evidence{factEv(role, sysPath("sys/class/net/%s/inline_en", on[0]), "inline_en = 1 on %s; %d WireGuard devices", strings.Join(on, ", "), len(devs))},
		Effect:   vanillaThreadedEffect(), Source: inlineSource,
		Verify: &Verify{Tuning: scenarios.Tuning{ThreadedNAPI: true}, On: []scenarios.Datapath{scenarios.Kernel}},
	}
	for _, d := range on {
		s.Apply = append(s.Apply, fmt.Sprintf("echo 0 > %s", wgAttr(h, d, "inline_en")), fmt.Sprintf("echo 1 > /sys/class/net/%s/threaded", d))
		s.Undo = append(s.Undo, fmt.Sprintf("echo 1 > %s", wgAttr(h, d, "inline_en")))
	}
	return s
}

// isInline reports whether a series runs the inline architecture.
func isInline(s scenarios.Series) bool {
	return s.Datapath == scenarios.Inline || s.Tuning.InlineKernel
}

// scaling describes how a series' throughput per tunnel fell from its
// smallest tunnel count to point p.
func scaling(run *results.Run, p *results.Point) string {
	var first *results.Point
	for i := range run.Points {
		q := &run.Points[i]
		if q.Series == p.Series && q.FlowsPerTunnel == p.FlowsPerTunnel && q.Summary.N > 0 && (first == nil || q.Tunnels < first.Tunnels) {
			first = q
		}
	}
	if first == nil || first.Tunnels == p.Tunnels || first.Summary.MeanGbps == 0 {
		return ""
	}
	eff := (p.Summary.MeanGbps / float64(p.Tunnels)) / (first.Summary.MeanGbps / float64(first.Tunnels))
	return fmt.Sprintf("; %.0f %% of linear scaling from %d tunnel(s) (%.2f Gbit/s)", 100*eff, first.Tunnels, first.Summary.MeanGbps)
}

// ruleMeasuredInfo reports what a run measured that no tuning addresses,
// and what could not be checked without a run or CPU samples.
func ruleMeasuredInfo(in *input, r *report) {
	const id = "measured"
	if in.run == nil {
		r.info(id, AnyHost, "no run folder given: measured checks (receive-core bottleneck, black hole, inline vs vanilla) not made; pass a run folder")
		return
	}
	if n := countPoints(in.run, func(p *results.Point) bool { return p.OKRepetitions() > 0 && !hasCPU(p) }); n > 0 {
		r.info(id, "gw1,gw2", "%d point(s) of the run have no CPU samples: bottleneck and black-hole checks skipped there", n)
	}
	for _, g := range findingGroups(in.run) {
		switch g.kind {
		case findCPUBound:
			r.info(id, g.host, "short of CPU in series %s at %s (%.0f %% busy, %.0f %% idle): placement cannot fix that; fewer flows per core or more cores", g.point.Series, pointName(g.point.Tunnels, g.point.FlowsPerTunnel), g.busy, 100*g.idle)
		case findHotCore:
			r.info(id, g.host, "hot core %s in series %s at %s: %s", intList(g.cores), g.point.Series, pointName(g.point.Tunnels, g.point.FlowsPerTunnel), g.summary)
		}
	}
	for _, s := range in.run.Series {
		if s.Skipped != "" {
			r.info(id, AnyHost, "series %s was not measured: %s", s.Name, s.Skipped)
		}
	}
}

// countPoints counts the run's points that satisfy ok.
func countPoints(run *results.Run, ok func(*results.Point) bool) int {
	if run == nil {
		return 0
	}
	n := 0
	for i := range run.Points {
		if ok(&run.Points[i]) {
			n++
		}
	}
	return n
}

// hasCPU reports whether a point has CPU samples.
func hasCPU(p *results.Point) bool {
	for _, rep := range p.Repetitions {
		if len(rep.CPU) > 0 {
			return true
		}
	}
	return false
}

// abbrev lists up to n names, then how many more.
func abbrev(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func names(links []facts.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.Name
	}
	return out
}

// tunnelRange names the tunnels to add next to wg0 to have k.
func tunnelRange(k int) string {
	if k == 2 {
		return "tunnel wg1"
	}
	return fmt.Sprintf("tunnels wg1..wg%d", k-1)
}
