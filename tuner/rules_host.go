package tuner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/scenarios"
)

// summaryOnly reports whether a host's facts are only the run.json
// summary (no links, governor, IRQs).
func summaryOnly(h *facts.Host) bool {
	return h.Source == "run.json summary"
}

// nicIrrelevant reports whether the host's own NICs do not carry the
// run's tunnels: this machine's facts next to a run on the local testbed,
// whose tunnels cross veth pairs between namespaces.
func (in *input) nicIrrelevant(role string) bool {
	return role == AnyHost && in.run != nil && in.run.Testbed.Driver == "local"
}

// hostRoles returns the roles with full facts.
func (in *input) hostRoles() []string {
	var out []string
	for _, role := range in.hosts.roles() {
		if !summaryOnly(in.hosts[role]) {
			out = append(out, role)
		}
	}
	return out
}

// ruleNUMALocal: the NIC sits on one NUMA node and the work that serves
// it (IRQs, RPS, NAPI threads, crypto) may run on others (HPSR 2025
// Sec. III-C2: +31 %).
func ruleNUMALocal(in *input, r *report) {
	const id = "numa-local"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		if len(h.Nodes) < 2 {
			r.ok(id, role, "one NUMA node: nothing to keep local")
			continue
		}
		if in.nicIrrelevant(role) {
			continue
		}
		nic, found := numaNIC(h)
		if !found {
			r.info(id, role, "%d NUMA nodes but no NIC reports its node (device/numa_node): NUMA placement not checked", len(h.Nodes))
			continue
		}
		f := checkNUMA(h, nic)
		if f.local() {
			r.ok(id, role, "%s is on NUMA node %d and its IRQs, RPS, NAPI threads and crypto stay on that node's CPUs (%s)", nic.Name, nic.NUMANode, f.cpus)
			continue
		}
		s := f.suggestion(role, h)
		if e, ok := offNodeLoad(in, role, h, f.cpus, nic.NUMANode); ok {
			s.Evidence = append(s.Evidence, e)
		}
		r.warn(s)
	}
}

// numaNIC returns the first physical NIC that reports its NUMA node.
func numaNIC(h *facts.Host) (facts.Link, bool) {
	for _, l := range physicalNICs(h) {
		if l.NUMANode >= 0 {
			return l, true
		}
	}
	return facts.Link{}, false
}

// numaFinding is what serves a NIC from off its NUMA node.
type numaFinding struct {
	nic  facts.Link
	cpus facts.CPUList // the NIC's node's CPUs
	irqs []facts.IRQ   // IRQs whose affinity reaches off the node
	rps  []rpsOff
	// threads are NAPI threads allowed off the node.
	threads []facts.Thread
	crypto  []cryptoOff
	// vanillaCrypto is true when the vanilla module runs the crypto
	// workers on every CPU of every node.
	vanillaCrypto bool
}

// rpsOff is a receive queue whose RPS mask reaches off the node.
type rpsOff struct {
	queue, path string
	mask        facts.CPUList
}

// cryptoOff is a patched module's crypto mask reaching off the node.
type cryptoOff struct {
	dev, file, path string
	cpus            facts.CPUList
}

// checkNUMA finds what serves nic from off its node.
func checkNUMA(h *facts.Host, nic facts.Link) numaFinding {
	node, _ := h.Node(nic.NUMANode)
	f := numaFinding{nic: nic, cpus: node.CPUs}
	for _, q := range nic.IRQs {
		if len(q.Affinity) > 0 && !q.Affinity.SubsetOf(f.cpus) {
			f.irqs = append(f.irqs, q)
		}
	}
	for _, q := range slices.Sorted(maps.Keys(nic.RPS)) {
		if m := nic.RPS[q]; !m.SubsetOf(f.cpus) {
			f.rps = append(f.rps, rpsOff{queue: q, path: fmt.Sprintf("/sys/class/net/%s/queues/%s/rps_cpus", nic.Name, q), mask: m})
		}
	}
	for _, t := range h.NAPIThreads {
		if len(t.CPUs) > 0 && !t.CPUs.SubsetOf(f.cpus) {
			f.threads = append(f.threads, t)
		}
	}
	devs := wgDevices(h)
	f.vanillaCrypto = len(devs) > 0 && !patched(h)
	if !patched(h) {
		return f
	}
	for _, d := range devs {
		if d.WireGuard == nil {
			continue
		}
		for _, m := range []struct {
			file string
			cpus facts.CPUList
		}{{"decrypt_cpumask", d.WireGuard.DecryptCPUs}, {"encrypt_cpumask", d.WireGuard.EncryptCPUs}} {
			if len(m.cpus) > 0 && !m.cpus.SubsetOf(f.cpus) {
				f.crypto = append(f.crypto, cryptoOff{dev: d.Name, file: m.file, path: d.WireGuard.AttrPath(d.Name, m.file), cpus: m.cpus})
			}
		}
	}
	return f
}

// local reports whether everything serving the NIC stays on its node.
func (f numaFinding) local() bool {
	return len(f.irqs) == 0 && len(f.rps) == 0 && len(f.threads) == 0 && len(f.crypto) == 0 && !f.vanillaCrypto
}

// parts names what runs off the node.
func (f numaFinding) parts() []string {
	var parts []string
	if len(f.irqs) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d IRQs", len(f.irqs), len(f.nic.IRQs)))
	}
	for _, q := range f.rps {
		parts = append(parts, "RPS "+q.queue)
	}
	if len(f.threads) > 0 {
		parts = append(parts, "NAPI threads")
	}
	for _, c := range f.crypto {
		parts = append(parts, "crypto of "+c.dev)
	}
	if f.vanillaCrypto {
		parts = append(parts, "crypto workers")
	}
	return dedupe(parts)
}

// evidence states the finding with the files it was read from.
func (f numaFinding) evidence(role string) []Evidence {
	var ev []Evidence
	nic, node := f.nic, f.nic.NUMANode
	if len(f.irqs) > 0 {
		q := f.irqs[0]
		ev = append(ev, factEv(role, sysPath("proc/irq/%d/smp_affinity_list", q.Number), "%d of %d IRQs of %s may run off node %d (IRQ %d → CPUs %s)",
			len(f.irqs), len(nic.IRQs), nic.Name, node, q.Number, q.Affinity))
	}
	for _, q := range f.rps {
		ev = append(ev, factEv(role, q.path, "RPS of %s %s steers to CPUs %s, off node %d", nic.Name, q.queue, q.mask, node))
	}
	if len(f.threads) > 0 {
		var comms []string
		for _, t := range f.threads {
			comms = append(comms, t.Comm)
		}
		ev = append(ev, factEv(role, "/proc/PID/status Cpus_allowed_list", "NAPI threads %s may run on CPUs off node %d", abbrev(comms, 3), node))
	}
	for _, c := range f.crypto {
		ev = append(ev, factEv(role, c.path, "%s of %s covers CPUs %s, off node %d", c.file, c.dev, c.cpus, node))
	}
	if f.vanillaCrypto {
		ev = append(ev, factEv(role, "/sys/module/wireguard", "the vanilla WireGuard module runs en/decryption workers on every CPU of both nodes"))
	}
	return ev
}

// commands returns the shell lines that move everything onto the node,
// and those that put it back.
func (f numaFinding) commands() (apply, undo []string) {
	local := f.cpus
	for _, q := range f.irqs {
		apply = append(apply, fmt.Sprintf("echo %s > /proc/irq/%d/smp_affinity_list", local, q.Number))
		undo = append(undo, fmt.Sprintf("echo %s > /proc/irq/%d/smp_affinity_list", q.Affinity, q.Number))
	}
	for _, q := range f.rps {
		apply = append(apply, fmt.Sprintf("echo %s > %s", local.Intersect(q.mask).Mask(), q.path))
		undo = append(undo, fmt.Sprintf("echo %s > %s", q.mask.Mask(), q.path))
	}
	for _, t := range f.threads {
		apply = append(apply, fmt.Sprintf("taskset -pc %s %d   # %s", local, t.PID, t.Comm))
		undo = append(undo, fmt.Sprintf("taskset -pc %s %d   # %s", t.CPUs, t.PID, t.Comm))
	}
	for _, c := range f.crypto {
		apply = append(apply, fmt.Sprintf("echo %s > %s", local.Mask(), c.path))
		undo = append(undo, fmt.Sprintf("echo %s > %s", c.cpus.Mask(), c.path))
	}
	if f.vanillaCrypto {
		apply = append(apply, "# crypto: the vanilla module spreads en/decryption over all CPUs; the patched module's encrypt_cpumask/decrypt_cpumask (or the inline engine pinned to node CPUs) keeps it local")
	}
	return apply, undo
}

// numaEffect is what the paper measured of NUMA locality.
func numaEffect() Effect {
	return Effect{
		Text: fmt.Sprintf("%s on one tunnel when gw2's reception, decryption and forwarding respect NUMA affinity (%s with the receive core free of decryption); with threaded NAPI the best multi-tunnel throughput up to ~%d tunnels",
			claimPct("numa-gw2"), claimPct("improved"), claim("numa-thr-best-to-20").Num.X),
		Gain:   claimGain("numa-gw2"),
		Source: hpsr + " §III-C2 (Fig. 7a, 7b), §IV-D (Fig. 8 “NUMA-aware thr”)",
	}
}

// suggestion builds the advice to keep the NIC's work on its node.
func (f numaFinding) suggestion(role string, h *facts.Host) *Suggestion {
	nic := f.nic
	s := &Suggestion{
		ID: "numa-local", Title: "Keep reception, NAPI and crypto on the NIC's NUMA node", Severity: Medium, Host: role,
		Fact:     fmt.Sprintf("%s sits on NUMA node %d (CPUs %s) but %s may run on node %s", nic.Name, nic.NUMANode, f.cpus, strings.Join(f.parts(), ", "), otherNodes(h, nic.NUMANode)),
		Advice:   fmt.Sprintf("pin %s's IRQs, RPS, the NAPI threads and the crypto workers to node %d's CPUs %s (scenario knob numa_node: -1)", nic.Name, nic.NUMANode, f.cpus),
		Evidence: f.evidence(role),
		Effect:   numaEffect(),
		Source:   hpsr + " §III-C2 “NUMA affinity”, §IV-D",
		Verify:   &Verify{Tuning: scenarios.Tuning{NUMANode: new(-1)}, On: []scenarios.Datapath{scenarios.Kernel, scenarios.Inline}},
	}
	s.Apply, s.Undo = f.commands()
	return s
}

// offNodeLoad measures, in the run, how busy the host's cores off the
// NIC's node were.
func offNodeLoad(in *input, role string, h *facts.Host, local facts.CPUList, node int) (Evidence, bool) {
	if in.run == nil || in.run.Testbed.SharedCores {
		return Evidence{}, false
	}
	var sum float64
	var n int
	var where string
	for _, p := range in.run.Points {
		for _, rep := range p.Repetitions {
			for _, c := range rep.CPU {
				if c.Host != role {
					continue
				}
				for _, l := range c.Cores {
					if !local.Contains(l.Core) {
						sum += l.Busy
						n++
						where = fmt.Sprintf("series %s, %s", p.Series, pointName(p.Tunnels, p.FlowsPerTunnel))
					}
				}
			}
		}
	}
	if n == 0 || sum/float64(n) < 10 {
		return Evidence{}, false
	}
	return measuredEv(role, "run.json cpu of "+role+" (last: "+where+")", "the cores off node %d averaged %.0f %% busy over the run", node, sum/float64(n)), true
}

func otherNodes(h *facts.Host, node int) string {
	var ids []string
	for _, n := range h.Nodes {
		if n.ID != node {
			ids = append(ids, fmt.Sprint(n.ID))
		}
	}
	return strings.Join(ids, ", ")
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// collisionProb is the chance that n tunnels hashed uniformly over q
// queues put two on one queue (the birthday problem).
func collisionProb(n, q int) float64 {
	if n > q {
		return 1
	}
	p := 1.0
	for i := 1; i < n; i++ {
		p *= 1 - float64(i)/float64(q)
	}
	return 1 - p
}

// ruleRSSCollisions: each tunnel is one UDP flow, received on the one
// queue (and core) its hash picks; two tunnels on one queue share a core
// (HPSR 2025 Sec. II-B; steering rules in Sec. IV-A).
func ruleRSSCollisions(in *input, r *report) {
	const id = "rss-collisions"
	source := hpsr + " §II-B “Reception” (1 core per tunnel), §IV-A (steering rules: each flow on its own core); " + netdev + " “Wireguard Inline” (RSS and flow steering)"
	effect := Effect{
		Text:   "each tunnel is received on its own queue and core, as in the papers' set-up; two tunnels on one queue share one receive core",
		Source: hpsr + " §IV-A",
	}
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		nics := physicalNICs(h)
		if len(nics) == 0 || in.nicIrrelevant(role) {
			continue
		}
		nic := nics[0]
		n, from := maxTunnels(in.run), "the run's sweep"
		if n == 0 {
			n, from = len(h.Tunnels()), "tunnel devices on the host"
		}
		if n < 2 {
			r.info(id, role, "fewer than two tunnels known (%s: %d): receive-queue collisions on %s not checked", from, n, nic.Name)
			continue
		}
		q := nic.RSS.Queues()
		if q == 0 {
			q = nic.RxQueues
		}
		rules := -1
		if nic.RSS != nil {
			rules = nic.RSS.NTupleRules
		}
		where := sysPath("sys/class/net/%s/queues", nic.Name)
		ev := []Evidence{factEv(role, where, "%s has %d receive queue(s) in use by RSS; %d tunnels (%s)", nic.Name, q, n, from)}
		if hashed, known := nic.RSS.PortsHashed(); known && !hashed {
			r.warn(&Suggestion{
				ID: id, Title: "Hash UDP on ports so tunnels spread over receive queues", Severity: High, Host: role,
				Fact:     fmt.Sprintf("%s hashes UDP/IPv4 on %q only (no ports): all %d tunnels between the same two gateways land on one receive queue and core", nic.Name, nic.RSS.UDP4Hash, n),
				Advice:   fmt.Sprintf("hash UDP/IPv4 on addresses and ports (sdfn), or steer each tunnel's port to its own queue"),
				Evidence: append(ev, factEv(role, "ethtool -n "+nic.Name+" rx-flow-hash udp4", "UDP over IPv4 hash fields: %s", nic.RSS.UDP4Hash)),
				Apply:    []string{fmt.Sprintf("ethtool -N %s rx-flow-hash udp4 sdfn", nic.Name)},
				Undo:     []string{fmt.Sprintf("ethtool -N %s rx-flow-hash udp4 %s", nic.Name, nic.RSS.UDP4Hash)},
				Effect:   effect, Source: source,
				Verify: &Verify{Tuning: scenarios.Tuning{Steering: true}, On: []scenarios.Datapath{scenarios.Kernel}},
			})
			continue
		}
		if rules >= n {
			r.ok(id, role, "%d ntuple rules on %s for %d tunnels: tunnels can be steered to their own queues", rules, nic.Name, n)
			continue
		}
		p := collisionProb(n, max(q, 1))
		if p < 0.2 {
			r.ok(id, role, "%d tunnels over %d receive queues of %s: %.0f %% chance two share a queue", n, q, nic.Name, 100*p)
			continue
		}
		s := &Suggestion{
			ID: id, Title: "Steer each tunnel to its own receive queue", Severity: Medium, Host: role,
			Evidence: ev, Effect: effect, Source: source,
			Verify: &Verify{Tuning: scenarios.Tuning{Steering: true}, On: []scenarios.Datapath{scenarios.Kernel}},
		}
		if q < n {
			s.Fact = fmt.Sprintf("%d tunnels over %d receive queue(s) of %s: at least %d tunnels share a queue and its core", n, q, nic.Name, n-q)
		} else {
			s.Fact = fmt.Sprintf("%d tunnels over %d receive queues of %s: %.0f %% chance that two tunnels hash to one queue and share its core", n, q, nic.Name, 100*p)
			s.Evidence = append(s.Evidence, factEv(role, "", "birthday bound for %d flows hashed over %d queues: P(collision) = 1 − ∏(1 − i/%d) = %.2f", n, q, q, p))
		}
		if rules >= 0 {
			s.Evidence = append(s.Evidence, factEv(role, "ethtool -n "+nic.Name, "%d ntuple rule(s) installed", rules))
		}
		ntOn, ntFixed, ntKnown := nic.Offloads.Feature(facts.FeatureNTuple)
		switch {
		case ntKnown && !ntOn && ntFixed:
			s.Advice = fmt.Sprintf("%s cannot filter by port (ntuple fixed off): give it at least %d queues (ethtool -L %s combined %d) or use fewer tunnels per NIC", nic.Name, n, nic.Name, n)
			s.Apply = []string{fmt.Sprintf("ethtool -L %s combined %d", nic.Name, n)}
			s.Undo = []string{fmt.Sprintf("ethtool -L %s combined %d", nic.Name, q)}
			s.Verify = nil
		default:
			s.Advice = fmt.Sprintf("install one ntuple rule per tunnel UDP port on %s so each tunnel is received on its own queue (and pin those queues' IRQs to distinct cores)", nic.Name)
			if q < n {
				s.Advice += fmt.Sprintf("; with %d tunnels add queues first (ethtool -L %s combined %d)", n, nic.Name, n)
			}
			if ntKnown && !ntOn {
				s.Apply = append(s.Apply, fmt.Sprintf("ethtool -K %s ntuple on", nic.Name))
			}
			s.Apply = append(s.Apply,
				"# the tunnels' UDP listen ports: 51820+t on wgbench testbeds; put yours",
				fmt.Sprintf("for t in $(seq 0 %d); do ethtool -N %s flow-type udp4 dst-port $((51820 + t)) action $((t %% %d)) loc $((t + 1000)); done", n-1, nic.Name, max(q, 1)))
			s.Undo = append(s.Undo, fmt.Sprintf("for t in $(seq 0 %d); do ethtool -N %s delete $((t + 1000)); done", n-1, nic.Name))
			if ntKnown && !ntOn {
				s.Undo = append(s.Undo, fmt.Sprintf("ethtool -K %s ntuple off", nic.Name))
			}
		}
		r.warn(s)
	}
}

// ruleMTU: the tunnel MTU must leave room for the encapsulation: at least
// 60 bytes under the link MTU for an IPv4 underlay, 80 for IPv6, and not
// below 1280 when the tunnel carries IPv6 (edge-tuning article).
func ruleMTU(in *input, r *report) {
	const id = "mtu"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		tunnels := h.Tunnels()
		if len(tunnels) == 0 {
			r.info(id, role, "no tunnel devices up when the facts were read: tunnel MTU not checked")
			continue
		}
		u, ok := underlay(h)
		if !ok {
			r.info(id, role, "no link under the tunnels found (no peer route, physical port, default route or veth link): tunnel MTU not checked")
			continue
		}
		overhead, fam := 60, "IPv4"
		if u.IPv6 {
			overhead, fam = 80, "IPv6"
		}
		target := u.MTU - 80
		okByMTU := map[int][]string{}
		var facts, advice, apply, undo []string
		var ev []Evidence
		for _, t := range tunnels {
			where := sysPath("sys/class/net/%s/mtu", t.Name)
			switch {
			case t.MTU > u.MTU-overhead:
				facts = append(facts, fmt.Sprintf("%s MTU %d on %s MTU %d leaves %d bytes for %d of %s/UDP/WireGuard headers", t.Name, t.MTU, u.Name, u.MTU, u.MTU-t.MTU, overhead, fam))
				ev = append(ev, factEv(role, where, "%s mtu = %d; %s mtu = %d (%s underlay: %d bytes of encapsulation)", t.Name, t.MTU, u.Name, u.MTU, fam, overhead))
			case t.IPv6 && t.MTU < 1280:
				facts = append(facts, fmt.Sprintf("%s carries IPv6 with MTU %d < 1280", t.Name, t.MTU))
				ev = append(ev, factEv(role, where, "%s mtu = %d with a global IPv6 address", t.Name, t.MTU))
			default:
				okByMTU[t.MTU] = append(okByMTU[t.MTU], t.Name)
				continue
			}
			if t.IPv6 && target < 1280 {
				advice = append(advice, fmt.Sprintf("raise %s's MTU to at least 1360 and set %s to 1280", u.Name, t.Name))
				apply = append(apply, fmt.Sprintf("# raise %s's MTU to ≥ 1360 along the whole path first", u.Name), fmt.Sprintf("ip link set dev %s mtu 1280", t.Name))
			} else {
				advice = append(advice, fmt.Sprintf("set %s's MTU to %d (link − 80, right for IPv4 and IPv6)", t.Name, target))
				apply = append(apply, fmt.Sprintf("ip link set dev %s mtu %d", t.Name, target))
			}
			undo = append(undo, fmt.Sprintf("ip link set dev %s mtu %d", t.Name, t.MTU))
		}
		for _, mtu := range slices.Sorted(maps.Keys(okByMTU)) {
			r.ok(id, role, "%s: MTU %d leaves %d bytes under %s MTU %d (≥ %d for %s)", abbrev(okByMTU[mtu], 4), mtu, u.MTU-mtu, u.Name, u.MTU, overhead, fam)
		}
		if len(facts) == 0 {
			continue
		}
		r.warn(&Suggestion{
			ID: id, Title: "Leave room for the encapsulation in the tunnel MTU", Severity: Medium, Host: role,
			Fact: strings.Join(facts, "; "), Advice: strings.Join(advice, "; "),
			Evidence: ev, Apply: apply, Undo: undo,
			Effect: Effect{Text: "tunnel packets fit the link without fragmentation, which “severely impacts latency and throughput”", Source: edge + " “MTU and fragmentation”"},
			Source: edge + " “Performance Tuning …: MTU and fragmentation”",
		})
	}
}

// offloadNames maps kernel feature names to `ethtool -K` arguments.
var offloadNames = map[string]string{facts.FeatureGRO: "gro", facts.FeatureGSO: "gso", facts.FeatureUDPGROFwd: "rx-udp-gro-forwarding"}

// ruleOffloads: GRO and GSO on the NICs and tunnels, UDP GRO forwarding
// on a gateway's NICs (edge-tuning article; HPSR 2025 Sec. V).
func ruleOffloads(in *input, r *report) {
	const id = "offloads"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		if in.nicIrrelevant(role) {
			continue
		}
		links := append(physicalNICs(h), h.Tunnels()...)
		if len(links) == 0 {
			continue
		}
		fwd := forwards(role, h)
		var off, okLinks, unknown []string
		var unknownErr string
		var ev []Evidence
		var apply, undo []string
		udpFwd, groGSO := false, false
		for _, l := range links {
			if l.Offloads.Error != "" {
				if unknownErr == "" {
					unknownErr = l.Offloads.Error
				}
				unknown = append(unknown, l.Name)
				continue
			}
			want := []string{facts.FeatureGRO, facts.FeatureGSO}
			if l.Kind == facts.KindPhysical && fwd {
				want = append(want, facts.FeatureUDPGROFwd)
			}
			var on, offArgs, offNames []string
			for _, f := range want {
				isOn, fixed, known := l.Offloads.Feature(f)
				switch {
				case !known:
					r.info(id, role, "%s: %s not reported by the driver", l.Name, f)
				case isOn:
				case fixed:
					r.info(id, role, "%s: %s is off and fixed by the driver", l.Name, f)
				default:
					on = append(on, offloadNames[f]+" on")
					offArgs = append(offArgs, offloadNames[f]+" off")
					offNames = append(offNames, f)
					if f == facts.FeatureUDPGROFwd {
						udpFwd = true
					} else {
						groGSO = true
					}
				}
			}
			if len(on) == 0 {
				okLinks = append(okLinks, l.Name)
				continue
			}
			off = append(off, fmt.Sprintf("%s has %s off", l.Name, strings.Join(offNames, ", ")))
			ev = append(ev, factEv(role, "ethtool -k "+l.Name+" ("+l.Offloads.Source+")", "%s: %s", l.Name, featureStates(l, want)))
			apply = append(apply, fmt.Sprintf("ethtool -K %s %s", l.Name, strings.Join(on, " ")))
			undo = append(undo, fmt.Sprintf("ethtool -K %s %s", l.Name, strings.Join(offArgs, " ")))
		}
		if len(unknown) > 0 {
			r.info(id, role, "offloads of %s unknown: %s", abbrev(unknown, 4), unknownErr)
		}
		if len(okLinks) > 0 {
			what := "GRO and GSO"
			if fwd {
				what = "GRO, GSO (and UDP GRO forwarding on NICs)"
			}
			r.ok(id, role, "%s on for %s", what, strings.Join(okLinks, ", "))
		}
		if len(off) == 0 {
			continue
		}
		s := &Suggestion{
			ID: id, Title: "Turn on GRO, GSO and UDP GRO forwarding", Severity: Low, Host: role,
			Fact:     strings.Join(off, "; "),
			Advice:   "turn them on: batching cuts the per-packet CPU cost of the gateway",
			Evidence: ev, Apply: apply, Undo: undo,
			Effect: Effect{Text: "fewer, larger packets through the stack: less CPU per byte and more throughput (UDP GRO/GSO is orthogonal to the papers' tunings and adds to them)",
				Source: edge + " “Batching and offloads”; " + hpsr + " §V"},
			Source: edge + " “Batching and offloads”, “Operational Checklist”; " + hpsr + " §V",
		}
		if groGSO {
			s.Severity = Medium
		}
		if udpFwd {
			s.Verify = &Verify{Tuning: scenarios.Tuning{UDPGROForwarding: true}, On: []scenarios.Datapath{scenarios.Kernel}}
		}
		r.warn(s)
	}
}

func featureStates(l facts.Link, names []string) string {
	var parts []string
	for _, n := range names {
		if v, ok := l.Offloads.Features[n]; ok {
			parts = append(parts, n+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

// benchSource is where the papers say how they prepared their machines:
// both disable hyper-threading and idle states.
const benchSource = hpsr + " §III-A “Testbed” (hyper-threading, frequency scaling and idle states disabled); " + netdev + " “Testbed” (hyper-threading and idle states disabled)"

// governorSource: only the HPSR paper disables frequency scaling; the
// performance governor is the nearest setting sysfs offers.
const governorSource = hpsr + " §III-A “Testbed” (“we also disable dynamic frequency scaling and idle states on the CPU cores of all nodes”)"

// benchEffect is what benchmark hygiene buys.
var benchEffect = Effect{
	Text:   "steadier, comparable measurements (smaller spread between repetitions), as in the papers' set-up; the papers give no throughput figure for it",
	Source: hpsr + " §III-A",
}

// ruleGovernor: the papers disable frequency scaling for benchmarking.
func ruleGovernor(in *input, r *report) {
	const id = "governor"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		g := h.CPU.Governors
		if len(g) == 0 {
			r.ok(id, role, "no CPU frequency scaling exposed (no cpufreq): the frequency is the platform's")
			continue
		}
		var bad []string
		var apply, undo []string
		for _, name := range sortedKeys(g) {
			if name == "performance" {
				continue
			}
			bad = append(bad, fmt.Sprintf("CPUs %s use the %s governor", g[name], name))
			undo = append(undo, fmt.Sprintf("for c in %s; do echo %s > /sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor; done", spaced(g[name]), name))
		}
		if len(bad) == 0 {
			r.ok(id, role, "all CPUs use the performance governor (%s)", h.CPU.FreqDriver)
			continue
		}
		apply = append(apply, "for g in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo performance > \"$g\"; done")
		r.warn(&Suggestion{
			ID: id, Title: "Use the performance governor while benchmarking", Severity: Low, Host: role,
			Fact:     strings.Join(bad, "; ") + " (" + h.CPU.FreqDriver + ")",
			Advice:   "set the performance governor on every CPU while measuring",
			Evidence: []Evidence{factEv(role, "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor", "%s", strings.Join(bad, "; "))},
			Apply:    apply, Undo: undo, Effect: benchEffect, Source: governorSource,
		})
	}
}

// deepIdleUS is the exit latency from which an idle state counts as deep.
const deepIdleUS = 10

// ruleIdleStates: the papers disable idle states for benchmarking.
func ruleIdleStates(in *input, r *report) {
	const id = "idle-states"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		if len(h.CPU.IdleStates) == 0 {
			r.ok(id, role, "no cpuidle states exposed")
			continue
		}
		var bad []string
		var apply, undo []string
		var ev []Evidence
		deepest := ""
		for _, st := range h.CPU.IdleStates {
			if len(st.Enabled) == 0 {
				continue
			}
			if st.LatencyUS <= deepIdleUS {
				deepest = fmt.Sprintf("%s, %d µs", st.Name, st.LatencyUS)
				continue
			}
			bad = append(bad, fmt.Sprintf("%s (%d µs exit latency) on CPUs %s", st.Name, st.LatencyUS, st.Enabled))
			ev = append(ev, factEv(role, fmt.Sprintf("/sys/devices/system/cpu/cpu*/cpuidle/state%d/disable", st.Index), "state%d %s latency %d µs enabled on CPUs %s", st.Index, st.Name, st.LatencyUS, st.Enabled))
			apply = append(apply, fmt.Sprintf("for s in /sys/devices/system/cpu/cpu*/cpuidle/state%d/disable; do echo 1 > \"$s\"; done   # %s", st.Index, st.Name))
			undo = append(undo, fmt.Sprintf("for c in %s; do echo 0 > /sys/devices/system/cpu/cpu$c/cpuidle/state%d/disable; done", spaced(st.Enabled), st.Index))
		}
		if len(bad) == 0 {
			if deepest == "" {
				deepest = "none"
			}
			r.ok(id, role, "no deep idle state enabled (deepest enabled: %s; driver %s)", deepest, h.CPU.IdleDriver)
			continue
		}
		r.warn(&Suggestion{
			ID: id, Title: "Disable deep idle states while benchmarking", Severity: Low, Host: role,
			Fact:     "deep idle states enabled: " + strings.Join(bad, "; "),
			Advice:   fmt.Sprintf("disable idle states deeper than %d µs while measuring (or boot with intel_idle.max_cstate=1)", deepIdleUS),
			Evidence: ev, Apply: apply, Undo: undo, Effect: benchEffect, Source: benchSource,
		})
	}
}

// ruleSMT: the papers disable hyper-threading so no two pipeline stages
// share one core's hardware threads.
func ruleSMT(in *input, r *report) {
	const id = "smt"
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		if h.CPU.ThreadsPerCore <= 1 {
			if h.CPU.Sockets > 0 {
				r.ok(id, role, "one hardware thread per core (%d cores, %d socket(s))", h.CPU.PhysicalCores, h.CPU.Sockets)
			}
			continue
		}
		ex := ""
		if len(h.CPU.Siblings) > 0 {
			ex = fmt.Sprintf(", e.g. CPUs %s share a core", h.CPU.Siblings[0])
		}
		s := &Suggestion{
			ID: id, Title: "Turn hyper-threading off while benchmarking", Severity: Low, Host: role,
			Fact:     fmt.Sprintf("hyper-threading is on: %d threads per core%s", h.CPU.ThreadsPerCore, ex),
			Advice:   "turn SMT off, or at least keep the pipeline stages (reception, crypto, forwarding) on distinct physical cores",
			Evidence: []Evidence{factEv(role, "/sys/devices/system/cpu/cpu*/topology/thread_siblings_list", "%d logical CPUs on %d cores; smt/control = %q", h.Cores, h.CPU.PhysicalCores, h.CPU.SMT)},
			Effect:   benchEffect, Source: hpsr + " §III-A (“we disable hyperthreading to avoid sharing sibling hardware threads between critical components of the pipeline”)",
		}
		if h.CPU.SMT == "on" {
			s.Apply = []string{"echo off > /sys/devices/system/cpu/smt/control"}
			s.Undo = []string{"echo on > /sys/devices/system/cpu/smt/control"}
		} else {
			s.Apply = []string{"# boot with nosmt, or disable SMT in the firmware (smt/control = " + h.CPU.SMT + ")"}
		}
		r.warn(s)
	}
}

// ruleIrqbalance: irqbalance moves IRQs that were pinned by hand, by a
// suggestion or by the run's knobs.
func ruleIrqbalance(in *input, r *report) {
	const id = "irqbalance"
	pinningRules := []string{"numa-local", "rss-collisions", "decrypt-off-rx-core"}
	for _, role := range in.hostRoles() {
		h := in.hosts[role]
		if !h.Irqbalance.Running {
			r.ok(id, role, "irqbalance is not running: IRQ affinity stays where it is set")
			continue
		}
		var reasons []string
		var ev []Evidence
		for _, s := range r.sugg {
			if slices.Contains(pinningRules, s.ID) && slices.Contains(strings.Split(s.Host, ","), role) {
				reasons = append(reasons, "the "+s.ID+" suggestion pins IRQs, queues or workers")
			}
		}
		if in.run != nil {
			for _, s := range in.run.Scenario.Series {
				t := s.Tuning
				if len(t.NAPICPUs) > 0 || t.Steering || len(t.RPSCPUs) > 0 || t.NUMANode != nil {
					reasons = append(reasons, "series "+s.Name+" pins NAPI threads, steering or NUMA placement")
				}
			}
		}
		if len(reasons) == 0 {
			r.info(id, role, "irqbalance is running: it moves IRQs, so stop it before pinning any")
			continue
		}
		for _, l := range physicalNICs(h) {
			var narrowed []string
			for _, q := range l.IRQs {
				if len(q.Affinity) > 0 && len(q.Affinity) < len(h.CPU.Online) {
					narrowed = append(narrowed, fmt.Sprint(q.Number))
				}
			}
			if len(narrowed) > 0 {
				ev = append(ev, factEv(role, "/proc/irq/N/smp_affinity_list", "IRQs %s of %s have an affinity narrower than all CPUs (set by hand or by irqbalance)", abbrev(narrowed, 6), l.Name))
			}
		}
		if len(h.Irqbalance.PIDs) > 0 {
			ev = append(ev, factEv(role, fmt.Sprintf("/proc/%d/comm", h.Irqbalance.PIDs[0]), "irqbalance runs as PID %s", intList(h.Irqbalance.PIDs)))
		} else {
			ev = append(ev, factEv(role, "/proc/*/comm", "irqbalance is running"))
		}
		r.warn(&Suggestion{
			ID: id, Title: "Stop irqbalance while IRQs are pinned", Severity: Medium, Host: role,
			Fact:     "irqbalance is running and rewrites IRQ affinity: " + strings.Join(dedupe(reasons), "; "),
			Advice:   "stop irqbalance while pinning and measuring (or list the pinned CPUs in IRQBALANCE_BANNED_CPULIST)",
			Evidence: ev,
			Apply:    []string{"systemctl stop irqbalance"},
			Undo:     []string{"systemctl start irqbalance"},
			Effect:   Effect{Text: "IRQs, RPS and steering stay where the other suggestions put them, so their effect holds and can be measured", Source: hpsr + " §III-B, §IV-A (flow steering onto chosen cores)"},
			Source:   edge + " “CPU and crypto considerations” (CPU pinning, isolcpus, IRQ balancing); " + hpsr + " §III-B, §IV-A",
		})
	}
}

// ruleFactsCoverage says which hosts have no (full) facts.
func ruleFactsCoverage(in *input, r *report) {
	const id = "facts"
	if len(in.hosts) == 0 {
		r.info(id, AnyHost, "no host facts: host checks (NUMA, NIC, MTU, offloads, governor, idle states, irqbalance) not made")
		return
	}
	for _, role := range in.hosts.roles() {
		h := in.hosts[role]
		if summaryOnly(h) {
			r.info(id, role, "only the run.json summary of %s's facts (no %s in the run folder): host checks not made for it", role, facts.RunFile(role))
			continue
		}
		if in.nicIrrelevant(role) {
			continue
		}
		u := underlayChoice(h)
		if u == nil {
			r.info("underlay", role, "no link but tunnels: the tunnels' NIC is unknown, NIC checks not made")
			continue
		}
		l, _ := h.Link(u.Link)
		node := ""
		if l.NUMANode >= 0 && len(h.Nodes) > 1 {
			node = fmt.Sprintf(", NUMA node %d", l.NUMANode)
		}
		r.info("underlay", role, "the tunnels' NIC is %s (%s%s), chosen by %s", l.Name, l.Kind, node, u.Reason)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// spaced lists CPUs separated by spaces, for shell loops.
func spaced(l facts.CPUList) string {
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = fmt.Sprint(c)
	}
	return strings.Join(parts, " ")
}
