// Package knobs is the one table of a series' tuning knobs: for each, its
// yaml name, type, the datapaths that take it, what it requires and
// excludes, whether a gateway may set it alone, its flag of `wgbench
// datapath up --engine kernel` and its help. Scenario validation, the
// kernel datapath's flags, argv and checks, and the knob table of
// docs/scenarios.md are all read from it.
//
// It is a leaf: it imports nothing of wgbench, so both scenarios and the
// datapaths can use it. Datapaths are named by their scenario names
// ("kernel", "wggo", "inline").
package knobs

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Type is how a knob's value is written.
type Type int

// Knob types.
const (
	Bool    Type = iota // true or false; false is unset
	CPUList             // a CPU list such as 0-3,8
	Int                 // an integer; unset when absent
	Name                // one of a fixed set of names
)

// String names t as the docs write it.
func (t Type) String() string {
	switch t {
	case Bool:
		return "bool"
	case CPUList:
		return "CPU list"
	case Int:
		return "int"
	case Name:
		return "name"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Datapath names, as scenarios write them.
const (
	Kernel      = "kernel"
	WireGuardGo = "wggo"
	Inline      = "inline"
	OpenVPN     = "openvpn"
	IPsec       = "ipsec"
)

// Placements are the kernel placement presets, the values of placement.
var Placements = []string{"emulated-inline", "overlap-avoidance", "numa-alternate"}

// Modes are the inline engine's modes, the values of mode.
var Modes = []string{"inline", "hybrid"}

// Need is a knob another knob requires.
type Need struct {
	// Knob is the required knob's yaml name.
	Knob string
	// On lists the datapaths the requirement holds on; empty means every
	// datapath that takes the knob.
	On []string
	// Unless lists values of the requiring knob that need nothing (such
	// as placement numa-alternate, which finds its own cores).
	Unless []string
	// Msg says what is missing, written at the knob that requires it;
	// "{value}" stands for that knob's value.
	Msg string
}

// Knob is one row of the table.
type Knob struct {
	// Name is the yaml key in a series' tuning.
	Name string
	// Type is how its value is written.
	Type Type
	// Label names what it sets, as the subject of a sentence.
	Label string
	// Datapaths take it, in the order of the docs' columns.
	Datapaths []string
	// Lacks says why the other datapaths do not, after "the X datapath".
	Lacks string
	// Requires are the knobs it needs.
	Requires []Need
	// Conflicts are the knobs it cannot be combined with, reported at
	// those knobs with ConflictMsg ("{value}": this knob's value,
	// "{other}": the other knob's name).
	Conflicts   []string
	ConflictMsg string
	// Allows lists, per value of this knob, the Conflicts it may be
	// combined with after all (placement numa-alternate with
	// threaded_napi).
	Allows map[string][]string
	// PerGateway is true when a gw1 or gw2 block may set it for that
	// gateway alone.
	PerGateway bool
	// Min and Max bound the value of an Int knob.
	Min, Max int
	// Flag is its flag of `wgbench datapath up --engine kernel`, without
	// the dashes; empty when the kernel datapath does not take it.
	Flag string
	// Help says what it does.
	Help string
}

// placementSets are the knobs a placement preset sets itself.
var placementSets = []string{"threaded_napi", "napi_cpus", "numa_node", "steering", "irq_cpus", "encrypt_cpus", "decrypt_cpus", "serial_cpus"}

// All is the table, in the order of the kernel datapath's argv and of the
// docs.
var All = []Knob{
	{Name: "threaded_napi", Type: Bool, Label: "threaded NAPI", Datapaths: []string{Kernel}, Lacks: "has no NAPI",
		PerGateway: true, Flag: "threaded-napi",
		Help: "threaded NAPI on the WireGuard devices: each tunnel's receive poll in its own napi/DEV-ID kernel thread (the black-hole fix)"},
	{Name: "napi_cpus", Type: CPUList, Label: "pinning NAPI threads", Datapaths: []string{Kernel}, Lacks: "has no NAPI threads to pin",
		Requires:   []Need{{Knob: "threaded_napi", Msg: "pinning NAPI threads needs threaded_napi: true; softirq NAPI has no thread to pin"}},
		PerGateway: true, Flag: "napi-cpus",
		Help: "pins tunnel i's NAPI threads to the i-th CPU of the list, round-robin"},
	{Name: "numa_node", Type: Int, Label: "NUMA placement", Datapaths: []string{Kernel, Inline}, Lacks: "does not place its work by NUMA node",
		Min: -1, Max: 1023, PerGateway: true, Flag: "numa-node",
		Help: "places the tunnels' work on this NUMA node's CPUs, -1 for the WAN NIC's node (-1..1023); works with softirq NAPI"},
	{Name: "rps_cpus", Type: CPUList, Label: "the RPS mask", Datapaths: []string{Kernel}, Lacks: "does not set RPS masks",
		PerGateway: true, Flag: "rps-cpus",
		Help: "RPS mask of the WAN NIC's receive queues"},
	{Name: "xps_cpus", Type: CPUList, Label: "the XPS masks", Datapaths: []string{Kernel}, Lacks: "does not set XPS masks",
		PerGateway: true, Flag: "xps-cpus",
		Help: "XPS: the j-th CPU of the list transmits on the WAN NIC's transmit queue j mod n"},
	{Name: "udp_gro_forwarding", Type: Bool, Label: "UDP GRO forwarding", Datapaths: []string{Kernel}, Lacks: "does not turn it on",
		PerGateway: true, Flag: "udp-gro-forwarding",
		Help: "turns on rx-udp-gro-forwarding on the WAN NIC"},
	{Name: "steering", Type: Bool, Label: "ntuple flow steering", Datapaths: []string{Kernel}, Lacks: "does not install steering rules",
		PerGateway: true, Flag: "steering",
		Help: "one ntuple rule per tunnel on the WAN NIC: tunnel i's UDP port to receive queue i (NICs with ntuple filters and several queues)"},
	{Name: "irq_cpus", Type: CPUList, Label: "the receive queues' IRQ affinity", Datapaths: []string{Kernel}, Lacks: "does not place NIC interrupts",
		PerGateway: true, Flag: "irq-cpus",
		Help: "pins the WAN NIC's receive queue q interrupt to the q-th CPU of the list, round-robin; with steering, tunnel i is received there"},
	{Name: "inline_kernel", Type: Bool, Label: "the patched module's inline mode", Datapaths: []string{Kernel}, Lacks: "is not the kernel module",
		PerGateway: true, Flag: "inline-kernel",
		Help: "sets the patched module's inline_en"},
	{Name: "encrypt_cpus", Type: CPUList, Label: "the encryption CPU mask", Datapaths: []string{Kernel}, Lacks: "has no kernel crypto workers",
		PerGateway: true, Flag: "encrypt-cpus",
		Help: "the patched module's encrypt_cpumask"},
	{Name: "decrypt_cpus", Type: CPUList, Label: "the decryption CPU mask", Datapaths: []string{Kernel}, Lacks: "has no kernel crypto workers",
		PerGateway: true, Flag: "decrypt-cpus",
		Help: "the patched module's decrypt_cpumask"},
	{Name: "serial_cpus", Type: CPUList, Label: "the patched module's serial_work_cpu", Datapaths: []string{Kernel}, Lacks: "has no kernel serial workers",
		PerGateway: true, Flag: "serial-cpus",
		Help: "the patched module's peer serial_work_cpu, tunnel i on the i-th CPU of the list, round-robin"},
	{Name: "placement", Type: Name, Label: "a kernel placement preset", Datapaths: []string{Kernel}, Lacks: "has no kernel stages to place; use cpus and pin",
		Requires: []Need{{Knob: "cpus", Unless: []string{"numa-alternate"},
			Msg: "placement {value} needs the tunnels' cores: add cpus, e.g. cpus: 0-3 (tunnel i on the i-th)"}},
		Conflicts:   placementSets,
		Allows:      map[string][]string{"numa-alternate": {"threaded_napi"}},
		ConflictMsg: "placement {value} sets {other} itself from cpus; remove {other} or the placement",
		PerGateway:  true, Flag: "placement",
		Help: "a preset built from the knobs above: emulated-inline or overlap-avoidance (tunnel i on the i-th CPU of cpus), or numa-alternate (tunnels alternate over the NUMA nodes, each on its node's cores)"},
	{Name: "cpus", Type: CPUList, Label: "placing engine tunnels on cores", Datapaths: []string{WireGuardGo, Kernel, Inline, OpenVPN},
		Lacks: "has no engine threads to place; use napi_cpus, rps_cpus or encrypt_cpus/decrypt_cpus",
		Requires: []Need{{Knob: "placement", On: []string{Kernel},
			Msg: "on the kernel datapath cpus are the cores of a placement preset; add placement (emulated-inline, overlap-avoidance or numa-alternate), or use napi_cpus, irq_cpus or encrypt_cpus/decrypt_cpus"}},
		PerGateway: true, Flag: "placement-cpus",
		Help: "cores the engine's tunnels are placed on, round-robin; empty means all (kernel: the cores of placement, which it needs)"},
	{Name: "pin", Type: Bool, Label: "pinning engine tunnels to cores", Datapaths: []string{WireGuardGo, Inline, OpenVPN},
		Lacks: "has no engine threads to pin; use threaded_napi with napi_cpus",
		Help:  "pins each tunnel to one core of cpus (all cores when cpus is empty); the same on both gateways"},
	{Name: "mode", Type: Name, Label: "the inline engine's mode", Datapaths: []string{Inline},
		Lacks: "is not the inline engine, which alone switches between inline and hybrid",
		Help:  "inline (the default: each tunnel runs to completion on its core) or hybrid (a tunnel whose core saturates while other cores of cpus idle, by /proc/stat, spreads the crypto of whole batches to them, and gives them back when its load falls, other work needs them or borrowing did not raise its packet rate); the same on both gateways"},
	{Name: "cipher", Type: Name, Label: "the baseline tunnel's data cipher", Datapaths: []string{OpenVPN, IPsec},
		Lacks: "is WireGuard, whose cipher is fixed (ChaCha20-Poly1305)",
		Help:  "the data cipher of an OpenVPN or IPsec baseline: AES-256-GCM or CHACHA20-POLY1305; the same on both gateways"},
}

// InRange reports whether v is an allowed value of the Int knob k.
func (k Knob) InRange(v int) bool { return v >= k.Min && v <= k.Max }

// Lookup returns the knob named name.
func Lookup(name string) (Knob, bool) {
	i := slices.IndexFunc(All, func(k Knob) bool { return k.Name == name })
	if i < 0 {
		return Knob{}, false
	}
	return All[i], true
}

// Names lists the knobs' names in table order.
func Names() []string {
	out := make([]string, len(All))
	for i, k := range All {
		out[i] = k.Name
	}
	return out
}

// On lists the knobs datapath dp takes, in table order.
func On(dp string) []Knob {
	var out []Knob
	for _, k := range All {
		if k.Takes(dp) {
			out = append(out, k)
		}
	}
	return out
}

// Takes reports whether datapath dp takes k.
func (k Knob) Takes(dp string) bool { return slices.Contains(k.Datapaths, dp) }

// Problem is one rule of the table a set of knobs breaks.
type Problem struct {
	// Knob is the knob the problem is reported at.
	Knob string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Check returns the requires and conflicts rules that the knobs set on
// datapath dp break, in table order. value returns a set knob's value as
// written, for messages. Knobs dp does not take are not checked here.
func Check(dp string, set []string, value func(name string) string) []Problem {
	var out []Problem
	for _, k := range All {
		if !k.Takes(dp) || !slices.Contains(set, k.Name) {
			continue
		}
		for _, n := range k.Requires {
			if (len(n.On) == 0 || slices.Contains(n.On, dp)) && !slices.Contains(set, n.Knob) && !slices.Contains(n.Unless, value(k.Name)) {
				out = append(out, Problem{k.Name, strings.ReplaceAll(n.Msg, "{value}", value(k.Name))})
			}
		}
		for _, c := range k.Conflicts {
			if slices.Contains(set, c) && !slices.Contains(k.Allows[value(k.Name)], c) {
				msg := strings.NewReplacer("{value}", value(k.Name), "{other}", c).Replace(k.ConflictMsg)
				out = append(out, Problem{c, msg})
			}
		}
	}
	return out
}

// Markdown is the knob table of docs/scenarios.md.
func Markdown() string {
	cols := []string{WireGuardGo, Kernel, Inline, OpenVPN, IPsec}
	var b strings.Builder
	b.WriteString("| knob | type | " + strings.Join(cols, " | ") + " | per gateway | kernel flag | needs | excludes | what it does |\n")
	b.WriteString("|---|---|" + strings.Repeat("---|", len(cols)) + "---|---|---|---|---|\n")
	for _, k := range All {
		fmt.Fprintf(&b, "| `%s` | %s |", k.Name, k.Type)
		for _, c := range cols {
			if k.Takes(c) {
				b.WriteString(" ✓ |")
			} else {
				b.WriteString(" |")
			}
		}
		gw := ""
		if k.PerGateway {
			gw = "✓"
		}
		flag := ""
		if k.Flag != "" {
			flag = "`--" + k.Flag + "`"
		}
		var needs []string
		for _, n := range k.Requires {
			s := "`" + n.Knob + "`"
			if len(n.On) > 0 {
				s += " (" + strings.Join(n.On, ", ") + ")"
			}
			if len(n.Unless) > 0 {
				s += " (not with " + strings.Join(n.Unless, ", ") + ")"
			}
			needs = append(needs, s)
		}
		var excl []string
		for _, c := range k.Conflicts {
			e := "`" + c + "`"
			for _, v := range slices.Sorted(maps.Keys(k.Allows)) {
				if slices.Contains(k.Allows[v], c) {
					e += " (allowed with " + v + ")"
				}
			}
			excl = append(excl, e)
		}
		fmt.Fprintf(&b, " %s | %s | %s | %s | %s |\n", gw, flag, strings.Join(needs, ", "), strings.Join(excl, ", "), k.Help)
	}
	return b.String()
}
