package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/knobs"
	"github.com/wgbench/wgbench/internal/undo"
)

// Knob names: the yaml names of scenarios.Tuning, used in records, notes
// and Tuning.Optional.
const (
	KnobThreadedNAPI     = "threaded_napi"
	KnobNAPICPUs         = "napi_cpus"
	KnobNUMANode         = "numa_node"
	KnobRPSCPUs          = "rps_cpus"
	KnobXPSCPUs          = "xps_cpus"
	KnobIRQCPUs          = "irq_cpus"
	KnobUDPGROForwarding = "udp_gro_forwarding"
	KnobSteering         = "steering"
	KnobInlineKernel     = "inline_kernel"
	KnobEncryptCPUs      = "encrypt_cpus"
	KnobDecryptCPUs      = "decrypt_cpus"
	KnobSerialCPUs       = "serial_cpus"
	KnobPlacement        = "placement"
)

// Placement presets: the HPSR 2025 placements built from the knobs.
const (
	// PlacementEmulatedInline runs every stage of tunnel i on core
	// cpus[i mod n]: the tunnel's UDP flow steered to receive queue i,
	// that queue's IRQ and the tunnel's NAPI thread pinned to the core,
	// and, with the patched module, its crypto and serial work there.
	PlacementEmulatedInline = "emulated-inline"
	// PlacementOverlapAvoidance keeps the cores that receive the tunnels
	// (tunnel i steered to cpus[i mod n]) free of the other stages: the
	// NAPI threads and, with the patched module, the crypto workers run
	// on the other online cores.
	PlacementOverlapAvoidance = "overlap-avoidance"
	// PlacementNUMAAlternate spreads the tunnels over the NUMA nodes,
	// tunnel i on node i mod (number of nodes), each with full NUMA
	// affinity (HPSR 2025 Fig. 8 "NUMA-aware"; nodes counted from the WAN
	// NIC's): its UDP flow steered to
	// receive queue i, whose IRQ runs on a core of the node; its NAPI
	// threads, when threaded, on the node's cores; and, with the patched
	// module, its crypto pool on the node's cores and its transmission
	// (serial work) on another core of the node. Its cores, when given,
	// limit those of the nodes. It works with softirq and threaded NAPI.
	PlacementNUMAAlternate = "numa-alternate"
)

// Placements lists the placement presets.
var Placements = []string{PlacementEmulatedInline, PlacementOverlapAvoidance, PlacementNUMAAlternate}

// Knobs lists every knob name in the order Apply applies them.
var Knobs = []string{KnobPlacement, KnobThreadedNAPI, KnobNUMANode, KnobNAPICPUs, KnobRPSCPUs, KnobXPSCPUs, KnobUDPGROForwarding,
	KnobSteering, KnobIRQCPUs, KnobInlineKernel, KnobEncryptCPUs, KnobDecryptCPUs, KnobSerialCPUs}

// Tuning holds the kernel datapath's knobs. The zero value changes
// nothing: a knob left unset leaves the host as it is.
type Tuning struct {
	// ThreadedNAPI writes 1 to /sys/class/net/<dev>/threaded of every
	// tunnel, so that each peer's NAPI poll runs in its own kernel thread
	// "napi/<dev>-<id>" instead of in softirq context.
	ThreadedNAPI bool
	// NAPICPUs pins the NAPI threads of tunnel i to NAPICPUs[i mod n]
	// (needs ThreadedNAPI).
	NAPICPUs []int
	// NUMANode places the work of the tunnels on the CPUs of this NUMA
	// node, -1 for the WAN NIC's node: the WAN NIC's receive IRQs
	// (IRQCPUs), RPS and XPS, the NAPI threads when ThreadedNAPI (with
	// NAPICPUs, only those of its CPUs on the node) and, with the patched
	// module, the encrypt and decrypt masks; each part given explicitly
	// is left to its knob. It works with softirq NAPI. The parts that
	// need the patched module are skipped with the reason on a stock one.
	// Nil leaves placement alone.
	NUMANode *int
	// RPSCPUs sets the RPS mask of every receive queue of the WAN NIC.
	RPSCPUs []int
	// XPSCPUs maps the WAN NIC's transmit queues to CPUs: CPU
	// XPSCPUs[j] transmits on queue j mod (number of queues), so each
	// queue's XPS mask holds the CPUs mapped to it.
	XPSCPUs []int
	// UDPGROForwarding turns the WAN NIC's rx-udp-gro-forwarding feature
	// on, so that the tunnels' UDP packets are aggregated by GRO.
	UDPGROForwarding bool
	// Steering installs one ntuple rule per tunnel on the WAN NIC: UDP to
	// tunnel i's listen port goes to receive queue i mod (number of
	// queues). It needs ListenPorts.
	Steering bool
	// IRQCPUs pins the interrupt of the WAN NIC's receive queue q to
	// IRQCPUs[q mod n]; with Steering, tunnel i is received there.
	IRQCPUs []int
	// InlineKernel writes 1 to the patched module's inline_en.
	InlineKernel bool
	// EncryptCPUs and DecryptCPUs set the patched module's
	// encrypt_cpumask and decrypt_cpumask.
	EncryptCPUs []int
	DecryptCPUs []int
	// SerialCPUs sets the patched module's peer_<N>/serial_work_cpu of
	// tunnel i to SerialCPUs[i mod n].
	SerialCPUs []int
	// Placement names a preset (PlacementEmulatedInline or
	// PlacementOverlapAvoidance) that sets the knobs above from
	// PlacementCPUs, tunnel i on PlacementCPUs[i mod n]; it cannot be
	// combined with the knobs it sets. Its parts that need the patched
	// module are skipped with a note on a stock module.
	Placement     string
	PlacementCPUs []int
	// Sets holds symbolic CPU sets (cpuset.Expr, such as "nic-node -
	// rx-cores") by knob name, for the CPU-list knobs (napi_cpus,
	// rps_cpus, xps_cpus, irq_cpus, encrypt_cpus, decrypt_cpus,
	// serial_cpus, and placement for PlacementCPUs); Apply resolves them
	// on this host into the lists, which must be empty.
	Sets map[string]string
	// Optional lists knobs (by name, such as "numa_node") that are skipped
	// with a note when the host cannot apply them, instead of failing.
	// "placement" makes every part of the preset optional.
	Optional []string
	// ListenPorts are the tunnels' UDP listen ports, in the order of the
	// devices, for Steering; they are not a knob.
	ListenPorts []int
	// Journal is the path of the engine's Journal (see UpOn); empty
	// keeps none. It is not a knob.
	Journal string
	// perTunnelCrypto writes EncryptCPUs[i mod n] and DecryptCPUs[i mod
	// n] alone to tunnel i's masks (emulated inline), instead of the
	// whole lists to every tunnel.
	perTunnelCrypto bool
	// napiSets and cryptoSets, when set, give tunnel i's NAPI threads
	// and crypto masks the CPUs of set i mod n (numa-alternate).
	napiSets, cryptoSets [][]int
	// WANDevice names the WAN NIC of the WAN knobs (rps_cpus,
	// udp_gro_forwarding, steering, numa_node -1); it is not a knob.
	// Empty means the link that routes to the first peer endpoint.
	WANDevice string
}

// Set returns the names of the knobs set in t, in the order of Knobs.
func (t Tuning) Set() []string {
	set := map[string]bool{
		KnobThreadedNAPI: t.ThreadedNAPI, KnobNAPICPUs: len(t.NAPICPUs) > 0, KnobNUMANode: t.NUMANode != nil,
		KnobRPSCPUs: len(t.RPSCPUs) > 0, KnobXPSCPUs: len(t.XPSCPUs) > 0, KnobUDPGROForwarding: t.UDPGROForwarding, KnobSteering: t.Steering,
		KnobIRQCPUs: len(t.IRQCPUs) > 0, KnobPlacement: t.Placement != "",
		KnobInlineKernel: t.InlineKernel, KnobEncryptCPUs: len(t.EncryptCPUs) > 0,
		KnobDecryptCPUs: len(t.DecryptCPUs) > 0, KnobSerialCPUs: len(t.SerialCPUs) > 0,
	}
	for k, v := range t.Sets {
		if v != "" && k != KnobPlacement {
			set[k] = true
		}
	}
	var out []string
	for _, k := range Knobs {
		if set[k] {
			out = append(out, k)
		}
	}
	return out
}

// knobSet returns the names of the knobs set in t as the knobs table
// names them: Set, and cpus for PlacementCPUs.
func (t Tuning) knobSet() []string {
	set := t.Set()
	if len(t.PlacementCPUs) > 0 || t.Sets[KnobPlacement] != "" {
		set = append(set, "cpus")
	}
	return set
}

// value returns the value of the set knob name as a flag writes it, for
// messages.
func (t Tuning) value(name string) string {
	switch name {
	case KnobPlacement:
		return t.Placement
	case KnobNUMANode:
		if t.NUMANode != nil {
			return strconv.Itoa(*t.NUMANode)
		}
	}
	return ""
}

// Validate checks t on its own, without looking at the host: the values,
// then the requires and conflicts rules of the knobs table.
func (t Tuning) Validate() error {
	set := t.knobSet()
	var known []string
	for _, k := range knobs.On(knobs.Kernel) {
		known = append(known, k.Name)
	}
	for _, o := range t.Optional {
		switch {
		case !slices.Contains(known, o):
			return fmt.Errorf("optional knob %q is not a kernel datapath knob; known: %s", o, strings.Join(known, ", "))
		case !slices.Contains(set, o):
			return fmt.Errorf("optional knob %s is not set; optional lists knobs that are set", o)
		}
	}
	if k, _ := knobs.Lookup(KnobNUMANode); t.NUMANode != nil && !k.InRange(*t.NUMANode) {
		return fmt.Errorf("numa_node %d: want a node number (0..%d), or -1 for the WAN NIC's node", *t.NUMANode, k.Max)
	}
	if t.Placement != "" && !slices.Contains(Placements, t.Placement) {
		return fmt.Errorf("placement %q: want one of %s", t.Placement, strings.Join(Placements, ", "))
	}
	if err := t.checkSets(); err != nil {
		return err
	}
	if ps := knobs.Check(knobs.Kernel, set, t.value); len(ps) > 0 {
		return fmt.Errorf("%s: %s", ps[0].Knob, ps[0].Msg)
	}
	return nil
}

// placementParts are the knobs a placement preset sets.
var placementParts = []string{KnobThreadedNAPI, KnobNAPICPUs, KnobNUMANode, KnobSteering, KnobIRQCPUs,
	KnobEncryptCPUs, KnobDecryptCPUs, KnobSerialCPUs}

// PlacementReport is what a placement preset expanded to.
type PlacementReport struct {
	Name string `json:"name"`
	CPUs string `json:"cpus"`
	// Knobs are the knobs the preset set.
	Knobs []string `json:"knobs"`
	// Patched are the parts that need the patched module; on a stock
	// module they are skipped (see Report.Skipped).
	Patched []string `json:"patched,omitempty"`
}

// expandPlacement returns tu with its placement preset replaced by the
// knobs it stands for, and what it expanded to. online are the online
// CPUs (overlap avoidance uses the others); nodes are the CPUs of each
// NUMA node that has some (numa-alternate).
func expandPlacement(tu Tuning, online []int, nodes [][]int) (Tuning, PlacementReport, error) {
	cpus := tu.PlacementCPUs
	rep := PlacementReport{Name: tu.Placement, CPUs: cpuset.Set(cpus).Sorted().String()}
	out := tu
	out.Placement, out.PlacementCPUs = "", nil
	out.Steering, out.IRQCPUs, out.ThreadedNAPI = true, cpus, true
	switch tu.Placement {
	case PlacementEmulatedInline:
		out.NAPICPUs = cpus
		out.EncryptCPUs, out.DecryptCPUs, out.SerialCPUs = cpus, cpus, cpus
		out.perTunnelCrypto = true
		rep.Patched = []string{KnobEncryptCPUs, KnobDecryptCPUs, KnobSerialCPUs}
	case PlacementOverlapAvoidance:
		var others []int
		for _, c := range online {
			if !slices.Contains(cpus, c) {
				others = append(others, c)
			}
		}
		if len(others) == 0 {
			return Tuning{}, rep, unsupported("placement %s keeps CPUs %s for receiving, which leaves no other online CPU (online: %s) for the rest", tu.Placement, cpuset.Set(cpus).Sorted().String(), cpuset.Set(online).Sorted().String())
		}
		out.NAPICPUs = others
		out.EncryptCPUs, out.DecryptCPUs = others, others
		rep.Patched = []string{KnobEncryptCPUs, KnobDecryptCPUs}
	case PlacementNUMAAlternate:
		out.ThreadedNAPI = tu.ThreadedNAPI
		var sets [][]int
		for _, n := range nodes {
			if len(cpus) > 0 {
				n = cpuset.Set(n).Intersect(cpus)
			}
			if len(n) > 0 {
				sets = append(sets, n)
			}
		}
		if len(sets) < 2 {
			return Tuning{}, rep, unsupported("placement %s alternates the tunnels over NUMA nodes, and this host has %d node(s) with CPUs%s", tu.Placement, len(sets), onCPUs(cpus))
		}
		// Tunnel i is received on queue i, whose IRQ runs on the
		// (i / nodes)-th core of node i mod nodes; it transmits on the
		// next core of its node.
		per := len(sets[0])
		for _, n := range sets {
			per = min(per, len(n))
		}
		var rx, tx []int
		for j := range per {
			for _, n := range sets {
				rx = append(rx, n[j])
				tx = append(tx, n[(j+1)%len(n)])
			}
		}
		out.IRQCPUs, out.SerialCPUs = rx, tx
		out.napiSets, out.cryptoSets = sets, sets
		out.EncryptCPUs, out.DecryptCPUs = rx, rx // marks them set; cryptoSets gives the masks
		if out.ThreadedNAPI {
			out.NAPICPUs = rx // marks it set; napiSets gives the CPUs
		}
		var nodesDesc []string
		for i, n := range sets {
			nodesDesc = append(nodesDesc, fmt.Sprintf("tunnels %d mod %d on %s", i, len(sets), cpuset.Set(n).String()))
		}
		rep.CPUs = strings.Join(nodesDesc, "; ")
		rep.Patched = []string{KnobEncryptCPUs, KnobDecryptCPUs, KnobSerialCPUs}
	}
	rep.Knobs = slices.DeleteFunc(out.Set(), func(k string) bool { return !slices.Contains(placementParts, k) })
	optional := slices.DeleteFunc(slices.Clone(tu.Optional), func(k string) bool { return k == KnobPlacement })
	if slices.Contains(tu.Optional, KnobPlacement) {
		optional = append(optional, rep.Knobs...)
	} else {
		optional = append(optional, rep.Patched...)
	}
	slices.Sort(optional)
	out.Optional = slices.Compact(optional)
	return out, rep, nil
}

func onCPUs(cpus []int) string {
	if len(cpus) == 0 {
		return ""
	}
	return " among CPUs " + cpuset.Set(cpus).Sorted().String()
}

// numaParts are the knobs numa_node places on its node, in the order of
// Knobs; numaPatched those of them that need the patched module.
var (
	numaParts   = []string{KnobNAPICPUs, KnobRPSCPUs, KnobXPSCPUs, KnobIRQCPUs, KnobEncryptCPUs, KnobDecryptCPUs}
	numaPatched = []string{KnobEncryptCPUs, KnobDecryptCPUs}
)

// expandNUMA returns tu with every numa_node part not set explicitly set
// to cpus, the CPUs of node, and the parts it set. NAPI threads are
// placed only when threaded; napi_cpus, if given, is kept to its CPUs on
// the node.
func expandNUMA(tu Tuning, node int, cpus []int) (Tuning, PlacementReport, error) {
	out := tu
	rep := PlacementReport{Name: fmt.Sprintf("numa_node %d", node), CPUs: cpuset.Set(cpus).String()}
	for _, k := range numaParts {
		f := setField(&out, k)
		switch {
		case k == KnobNAPICPUs && !tu.ThreadedNAPI:
			continue
		case k == KnobNAPICPUs && len(*f) > 0:
			keep := cpuset.Set(*f).Intersect(cpus)
			if len(keep) == 0 {
				return Tuning{}, rep, unsupported("none of napi_cpus %s is on NUMA node %d (its CPUs: %s)", cpuset.Set(*f).Sorted().String(), node, cpuset.Set(cpus).Sorted().String())
			}
			*f = keep
		case len(*f) > 0:
			continue
		default:
			*f = slices.Clone(cpus)
		}
		rep.Knobs = append(rep.Knobs, k)
		if slices.Contains(numaPatched, k) {
			rep.Patched = append(rep.Patched, k)
		}
	}
	return out, rep, nil
}

// needsWAN reports whether t acts on the WAN NIC.
func (t Tuning) needsWAN() bool {
	return len(t.RPSCPUs) > 0 || len(t.XPSCPUs) > 0 || t.UDPGROForwarding || t.Steering || len(t.IRQCPUs) > 0 || t.Placement != "" ||
		(t.NUMANode != nil && *t.NUMANode == -1)
}

// Change is one host setting the tuner changed, with its value before and
// after, as read back from the host. Path names the setting: a sysfs file,
// a thread ("/proc/<pid> (napi/wg0-8193) affinity") or an ethtool feature
// ("ethtool -K eth1 rx-udp-gro-forwarding").
type Change struct {
	Knob   string `json:"knob"`
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Skip is an optional knob that was not applied, and why.
type Skip struct {
	Knob   string `json:"knob"`
	Reason string `json:"reason"`
}

// Report is what a Tuner did: the JSON of the "tuning" line that
// `wgbench datapath up --engine kernel` prints before its ready line.
type Report struct {
	// WANDevice is the NIC the WAN knobs acted on, if any did.
	WANDevice string `json:"wan_device,omitempty"`
	// NUMANode is the node numa_node resolved to, if it applied.
	NUMANode *int `json:"numa_node,omitempty"`
	// Placement is what a placement preset expanded to.
	Placement *PlacementReport `json:"placement,omitempty"`
	// NUMA is what numa_node placed on its node.
	NUMA *PlacementReport `json:"numa,omitempty"`
	// Sets are the symbolic CPU sets and what each resolved to here.
	Sets []ResolvedSet `json:"sets,omitempty"`
	// QueueIRQs are the WAN NIC's receive queue interrupts irq_cpus
	// acted on.
	QueueIRQs []QueueIRQ `json:"queue_irqs,omitempty"`
	// NAPIThreads are the NAPI threads found per tunnel device.
	NAPIThreads map[string][]NAPIThread `json:"napi_threads,omitempty"`
	// Changes are the settings changed, in order; Restore undoes them
	// newest first.
	Changes []Change `json:"changes"`
	// Skipped are the optional knobs the host could not apply.
	Skipped []Skip `json:"skipped,omitempty"`
}

// Tuner applies kernel knobs to a host and restores them. It is safe for
// use by one goroutine at a time, except Report, which may be called
// concurrently.
type Tuner struct {
	host    Host
	log     *slog.Logger
	eth     Ethtool
	ownEth  bool
	mu      sync.Mutex
	report  Report
	undo    undo.Stack // how to put back each of report.Changes
	threads map[string][]NAPIThread
	wanErr  error
	// ambiguous lists, per device, the threads that all match its name
	// when threaded NAPI was on already (so none appeared).
	ambiguous map[string]string
	// journal, if set, keeps every change on disk as it is made.
	journal *Journal
}

// SetJournal makes the tuner write every change to j as it makes it
// (see Journal). Call it before Apply.
func (t *Tuner) SetJournal(j *Journal) { t.journal = j }

// NewTuner returns a Tuner acting on host. A nil log discards.
func NewTuner(host Host, log *slog.Logger) *Tuner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tuner{host: host, log: log, eth: host.Ethtool}
}

// Report returns a copy of what the tuner did so far.
func (t *Tuner) Report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.report
	r.Changes = slices.Clone(r.Changes)
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	r.Skipped = slices.Clone(r.Skipped)
	r.Sets = slices.Clone(r.Sets)
	if len(t.threads) > 0 {
		r.NAPIThreads = map[string][]NAPIThread{}
		for d, ts := range t.threads {
			r.NAPIThreads[d] = slices.Clone(ts)
		}
	}
	return r
}

// record adds a change, how to revert it, and its journal entry (whose
// Knob it fills in). A journal that cannot be written fails: the change
// is recorded, so restoring after the failure undoes it.
func (t *Tuner) record(c Change, je journalEntry, revert func() error) error {
	t.mu.Lock()
	t.report.Changes = append(t.report.Changes, c)
	t.mu.Unlock()
	t.undo.Push(fmt.Sprintf("%s (%s) to %q", c.Knob, c.Path, c.Before), func() error {
		err := revert()
		if err == nil || undo.Gone(err) {
			t.log.Debug("kernel knob restored", "knob", c.Knob, "path", c.Path, "value", c.Before)
		}
		return err
	})
	t.log.Debug("kernel knob set", "knob", c.Knob, "path", c.Path, "before", c.Before, "after", c.After)
	je.Knob = c.Knob
	return t.journal.Add(je)
}

// Apply applies tu to the tunnel devices devs (in tunnel order; each
// must have its peers already: the kernel creates NAPI instances with
// peers) and to the WAN NIC wan, in the order of Knobs. The WAN knobs
// fail when wan is empty (see SetWANError). The calling thread must be in the devices' network
// namespace. A knob the host cannot apply fails Apply, unless it is
// listed in tu.Optional: then it is skipped and the reason kept in the
// report. On failure the changes already made are restored.
func (t *Tuner) Apply(devs []string, wan string, tu Tuning) (err error) {
	if err := tu.checkSets(); err != nil {
		return err
	}
	if tu, err = t.resolveSets(devs, wan, tu); err != nil {
		return err
	}
	if err := tu.Validate(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Restore())
		}
	}()
	if tu.needsWAN() && wan != "" {
		t.mu.Lock()
		t.report.WANDevice = wan
		t.mu.Unlock()
	}
	if tu.Placement != "" {
		if tu, err = t.applyPlacement(wan, tu); err != nil {
			return err
		}
	}
	r := &knobRun{t: t, devs: devs, wan: wan, tu: tu, label: map[string]string{}}
	return r.run()
}

// applyPlacement expands tu's placement preset over the online CPUs of
// each NUMA node, records it in the report and returns the expanded
// tuning.
func (t *Tuner) applyPlacement(wan string, tu Tuning) (Tuning, error) {
	online, err := t.onlineCPUs()
	if err != nil {
		return tu, err
	}
	if err := t.checkOnline(tu.PlacementCPUs); err != nil {
		return tu, fmt.Errorf("%s: %w", KnobPlacement, err)
	}
	// The nodes in order, starting with the WAN NIC's when it is
	// known: numa-alternate puts tunnel 0 on the NIC's node.
	var nodes [][]int
	ids := t.nodes()
	if nic, _, err := t.numaCPUs(-1, wan, nil); err == nil {
		if i := slices.Index(ids, nic); i > 0 {
			ids = append(ids[i:], ids[:i]...)
		}
	}
	for _, n := range ids {
		c, _ := t.nodeCPUs(n)
		nodes = append(nodes, cpuset.Set(c).Intersect(online))
	}
	exp, rep, err := expandPlacement(tu, online, nodes)
	if err != nil {
		return tu, fmt.Errorf("%s: %w", KnobPlacement, err)
	}
	t.mu.Lock()
	t.report.Placement = &rep
	t.mu.Unlock()
	t.log.Info("kernel placement preset", "placement", rep.Name, "cpus", rep.CPUs, "knobs", rep.Knobs, "optional", exp.Optional)
	return exp, nil
}

// knobRun applies the knobs of one Apply, in the order of Knobs.
type knobRun struct {
	t    *Tuner
	devs []string
	wan  string
	tu   Tuning
	// label maps a knob that numa_node set to numa_node, under which its
	// changes and skips are recorded. A part of numa_node that this host
	// or its module cannot do (a NIC with one transmit queue has no XPS,
	// a stock module no crypto masks) is skipped with the reason: the
	// rest still puts the tunnel's work on the node.
	label map[string]string
}

// run applies threaded NAPI, numa_node (which may rewrite the tuning),
// the NAPI pinning and then the remaining knobs.
func (r *knobRun) run() error {
	t, tu, devs := r.t, r.tu, r.devs
	threaded := false
	var err error
	if tu.ThreadedNAPI {
		if threaded, err = r.try(KnobThreadedNAPI, func(string) error { return t.threadedNAPI(devs) }); err != nil {
			return err
		}
	}
	if tu.NUMANode != nil {
		if err := r.numaNode(threaded); err != nil {
			return err
		}
		tu = r.tu
	}
	if len(tu.NAPICPUs) > 0 {
		if _, err := r.try(KnobNAPICPUs, func(rec string) error {
			if !threaded {
				return errors.New("threaded NAPI was skipped, so there are no NAPI threads to pin")
			}
			if len(tu.napiSets) > 0 {
				return t.pinNAPISets(rec, devs, tu.napiSets)
			}
			return t.pinNAPI(rec, devs, tu.NAPICPUs)
		}); err != nil {
			return err
		}
	}
	return r.rest()
}

// numaNode expands numa_node on its node and, when it applies, makes
// the expansion the run's tuning; the knobs it set are labelled with it.
func (r *knobRun) numaNode(threaded bool) error {
	t, tu := r.t, r.tu
	var exp Tuning
	ok, err := r.try(KnobNUMANode, func(string) error {
		node, cpus, err := t.numaCPUs(*tu.NUMANode, r.wan, nil)
		if err != nil {
			return err
		}
		in := tu
		in.ThreadedNAPI = threaded
		e, rep, err := expandNUMA(in, node, cpus)
		if err != nil {
			return err
		}
		exp = e
		t.mu.Lock()
		t.report.NUMANode = &node
		t.report.NUMA = &rep
		t.mu.Unlock()
		t.log.Info("kernel NUMA placement", "node", node, "cpus", rep.CPUs, "knobs", rep.Knobs)
		for _, k := range rep.Knobs {
			if k != KnobNAPICPUs || len(tu.NAPICPUs) == 0 {
				r.label[k] = KnobNUMANode
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ok {
		exp.ThreadedNAPI = tu.ThreadedNAPI
		r.tu = exp
	}
	return nil
}

// rest applies the knobs after the NAPI ones, in the order of Knobs.
func (r *knobRun) rest() error {
	t, tu, devs, wan := r.t, r.tu, r.devs, r.wan
	steps := []struct {
		knob string
		on   bool
		fn   func(rec string) error
	}{
		{KnobRPSCPUs, len(tu.RPSCPUs) > 0, func(rec string) error { return t.rps(rec, wan, tu.RPSCPUs) }},
		{KnobXPSCPUs, len(tu.XPSCPUs) > 0, func(rec string) error { return t.xps(rec, wan, tu.XPSCPUs) }},
		{KnobUDPGROForwarding, tu.UDPGROForwarding, func(string) error { return t.udpGROForwarding(wan) }},
		{KnobSteering, tu.Steering, func(string) error { return t.steering(wan, devs, tu.ListenPorts) }},
		{KnobIRQCPUs, len(tu.IRQCPUs) > 0, func(rec string) error { return t.irqAffinity(rec, wan, tu.IRQCPUs) }},
		{KnobInlineKernel, tu.InlineKernel, func(string) error { return t.patchedEach(KnobInlineKernel, devs, "inline_en", "1") }},
		{KnobEncryptCPUs, len(tu.EncryptCPUs) > 0, func(rec string) error {
			if len(tu.cryptoSets) > 0 {
				return t.patchedMaskSets(rec, devs, "encrypt_cpumask", tu.cryptoSets)
			}
			return t.patchedMask(rec, devs, "encrypt_cpumask", tu.EncryptCPUs, tu.perTunnelCrypto)
		}},
		{KnobDecryptCPUs, len(tu.DecryptCPUs) > 0, func(rec string) error {
			if len(tu.cryptoSets) > 0 {
				return t.patchedMaskSets(rec, devs, "decrypt_cpumask", tu.cryptoSets)
			}
			return t.patchedMask(rec, devs, "decrypt_cpumask", tu.DecryptCPUs, tu.perTunnelCrypto)
		}},
		{KnobSerialCPUs, len(tu.SerialCPUs) > 0, func(string) error { return t.serialWorkCPUs(devs, tu.SerialCPUs) }},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if _, err := r.try(s.knob, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// optional tells whether a failed knob is skipped rather than failing
// Apply: it is listed in Optional, or it is a part of numa_node that is
// optional or that this host or module cannot do.
func (r *knobRun) optional(knob string, err error) bool {
	if slices.Contains(r.tu.Optional, knob) {
		return true
	}
	if l := r.label[knob]; l != "" {
		return slices.Contains(r.tu.Optional, l) || errors.Is(err, ErrNeedsPatchedModule) || errors.Is(err, ErrUnsupported)
	}
	return false
}

// try applies one knob through fn, which gets the name to record it
// under. It tells whether the knob applied; an optional knob that fails
// is recorded as skipped and is no error.
func (r *knobRun) try(knob string, fn func(rec string) error) (bool, error) {
	t := r.t
	rec := knob
	if l := r.label[knob]; l != "" {
		rec = l
	}
	err := fn(rec)
	if err == nil {
		return true, nil
	}
	err = fmt.Errorf("%s: %w", knob, err)
	if rec != knob {
		err = fmt.Errorf("%s: %w", rec, err)
	}
	if r.optional(knob, err) {
		t.mu.Lock()
		t.report.Skipped = append(t.report.Skipped, Skip{Knob: rec, Reason: err.Error()})
		t.mu.Unlock()
		t.log.Info("optional kernel knob skipped", "knob", rec, "reason", err)
		return false, nil
	}
	return false, err
}

// Restore undoes every recorded change, newest first. It is best-effort:
// every change is tried, and settings whose object is gone (a thread or a
// device removed meanwhile; see undo.Gone) count as restored. Afterwards
// the tuner holds no changes and may be used again.
func (t *Tuner) Restore() error {
	t.mu.Lock()
	t.report.Changes = nil
	t.mu.Unlock()
	errs := []error{t.undo.Run()}
	if t.ownEth && t.eth != nil {
		if err := t.eth.Close(); err != nil {
			errs = append(errs, err)
		}
		t.eth, t.ownEth = nil, false
	}
	return errors.Join(errs...)
}

// SetWANError records why the WAN NIC is unknown; the WAN knobs of a
// later Apply with no WAN NIC fail with it.
func (t *Tuner) SetWANError(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wanErr = err
}

// needWAN fails unless wan names the WAN NIC.
func (t *Tuner) needWAN(wan string) error {
	if wan != "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wanErr != nil {
		return fmt.Errorf("no WAN NIC to act on: %w", t.wanErr)
	}
	return errors.New("no WAN NIC to act on: none was named")
}

// ethtool returns the tuner's Ethtool, opening the running kernel's in
// the calling thread's namespace on first use.
func (t *Tuner) ethtool() (Ethtool, error) {
	if t.eth == nil {
		e, err := OpenEthtool()
		if err != nil {
			return nil, err
		}
		t.eth, t.ownEth = e, true
	}
	return t.eth, nil
}

// setFile writes value to path and records the change under knob, with
// the value read back after writing.
func (t *Tuner) setFile(knob, path, value string) error {
	f := t.host.Files
	before, err := f.Read(path)
	if err != nil {
		return err
	}
	if err := f.Write(path, value); err != nil {
		return err
	}
	after, err := f.Read(path)
	if err != nil {
		after = value
	}
	return t.record(Change{Knob: knob, Path: path, Before: before, After: after},
		journalEntry{Kind: journalFile, Path: path, Before: before}, func() error { return f.Write(path, before) })
}

// onlineCPUs returns the CPUs the kernel has online.
func (t *Tuner) onlineCPUs() ([]int, error) {
	s, err := t.host.Files.Read("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	return cpuset.Parse(s)
}

// checkOnline fails unless every CPU of cpus is online.
func (t *Tuner) checkOnline(cpus []int) error {
	online, err := t.onlineCPUs()
	if err != nil {
		return err
	}
	for _, c := range cpus {
		if !slices.Contains(online, c) {
			return unsupported("CPU %d is not online here (online CPUs: %s)", c, cpuset.Set(online).Sorted().String())
		}
	}
	return nil
}

// threadedNAPI switches devs to threaded NAPI and records the NAPI
// threads the switch created.
func (t *Tuner) threadedNAPI(devs []string) error {
	t.mu.Lock()
	if t.threads == nil {
		t.threads, t.ambiguous = map[string][]NAPIThread{}, map[string]string{}
	}
	t.mu.Unlock()
	for _, dev := range devs {
		path := "/sys/class/net/" + dev + "/threaded"
		before, err := t.host.Files.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			if !exists(t.host.Files, "/sys/class/net/"+dev) {
				return fmt.Errorf("no device %s in /sys/class/net (is /sys mounted in this network namespace?)", dev)
			}
			return unsupported("the kernel has no threaded NAPI (%s is missing; it needs Linux 5.12 or later)", path)
		}
		if err != nil {
			return err
		}
		threads, err := t.enableThreaded(dev, path, before)
		if err != nil {
			return err
		}
		t.mu.Lock()
		t.threads[dev] = threads
		t.mu.Unlock()
	}
	return nil
}

// enableThreaded writes 1 to the threaded attribute of dev at path and
// returns dev's NAPI threads: those that appeared with the write, found
// under a machine-wide lock, or when the device was threaded already, the
// ones named after it.
func (t *Tuner) enableThreaded(dev, path, before string) ([]NAPIThread, error) {
	unlock, err := lockFile(t.host.NAPILock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	pre, err := NAPIThreads(t.host.Files, dev)
	if err != nil {
		return nil, err
	}
	if err := t.setFile(KnobThreadedNAPI, path, "1"); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil, unsupported("%s refused threaded NAPI (a device has NAPI instances only once it has a peer): %v", dev, err)
		}
		return nil, err
	}
	post, err := NAPIThreads(t.host.Files, dev)
	if err != nil {
		return nil, err
	}
	if before != "1" {
		return newThreads(pre, post), nil
	}
	if len(post) > 1 {
		var pids []string
		for _, th := range post {
			pids = append(pids, fmt.Sprintf("%d (%s)", th.PID, th.Comm))
		}
		t.mu.Lock()
		t.ambiguous[dev] = strings.Join(pids, ", ")
		t.mu.Unlock()
	}
	return post, nil
}

// numaCPUs resolves node (-1: the WAN NIC's) and returns it with the CPUs
// to place the NAPI threads on: the node's CPUs, or those of want on it.
func (t *Tuner) numaCPUs(node int, wan string, want []int) (int, []int, error) {
	f := t.host.Files
	if node == -1 {
		if err := t.needWAN(wan); err != nil {
			return 0, nil, err
		}
		p := "/sys/class/net/" + wan + "/device/numa_node"
		v, err := f.Read(p)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil, unsupported("the WAN NIC %s has no NUMA node (%s is missing: a virtual NIC such as veth has no device)", wan, p)
		}
		if err != nil {
			return 0, nil, err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %q is not a node number", p, v)
		}
		if n < 0 {
			return 0, nil, unsupported("the kernel reports no NUMA node for the WAN NIC %s (%s is %d: a single-node machine)", wan, p, n)
		}
		node = n
	}
	p := fmt.Sprintf("/sys/devices/system/node/node%d/cpulist", node)
	v, err := f.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		nodes, _ := f.List("/sys/devices/system/node")
		var have []string
		for _, n := range nodes {
			if strings.HasPrefix(n, "node") {
				have = append(have, strings.TrimPrefix(n, "node"))
			}
		}
		return 0, nil, unsupported("there is no NUMA node %d (nodes: %s)", node, strings.Join(have, ","))
	}
	if err != nil {
		return 0, nil, err
	}
	cpus, err := cpuset.Parse(v)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(cpus) == 0 {
		return 0, nil, unsupported("NUMA node %d has no CPUs", node)
	}
	if len(want) == 0 {
		return node, cpus, nil
	}
	var keep []int
	for _, c := range want {
		if slices.Contains(cpus, c) {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return 0, nil, unsupported("none of napi_cpus %s is on NUMA node %d (its CPUs: %s)", cpuset.Set(want).Sorted().String(), node, cpuset.Set(cpus).Sorted().String())
	}
	return node, keep, nil
}

// pinNAPI pins the NAPI threads of devs[i] to cpus[i mod len(cpus)].
func (t *Tuner) pinNAPI(knob string, devs []string, cpus []int) error {
	for i, dev := range devs {
		if err := t.pinNAPIDev(knob, dev, []int{cpus[i%len(cpus)]}); err != nil {
			return err
		}
	}
	return nil
}

// pinNAPIDev sets the affinity of dev's NAPI threads to cpus.
func (t *Tuner) pinNAPIDev(knob, dev string, cpus []int) error {
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	t.mu.Lock()
	threads, pids := t.threads[dev], t.ambiguous[dev]
	t.mu.Unlock()
	if pids != "" {
		return fmt.Errorf("cannot tell the NAPI threads of %s apart from those of same-named devices in other namespaces: threaded NAPI was on before wgbench enabled it, and threads %s all match its name; turn threaded NAPI off on %s first", dev, pids, dev)
	}
	if len(threads) == 0 {
		return fmt.Errorf("no NAPI thread of %s found (no /proc/*/comm napi/%s-* appeared when threaded NAPI was enabled; NAPI threads here: %s)",
			dev, dev, strings.Join(allNAPIComms(t.host.Files), ", "))
	}
	for _, th := range threads {
		before, err := t.host.Affinity.Get(th.PID)
		if err != nil {
			return err
		}
		if err := t.host.Affinity.Set(th.PID, cpus); err != nil {
			return err
		}
		after, err := t.host.Affinity.Get(th.PID)
		if err != nil {
			return err
		}
		aff, pid := t.host.Affinity, th.PID
		path := fmt.Sprintf("/proc/%d (%s) affinity", th.PID, th.Comm)
		if err := t.record(Change{Knob: knob, Path: path, Before: cpuset.Set(before).Sorted().String(), After: cpuset.Set(after).Sorted().String()},
			journalEntry{Kind: journalAffinity, Path: path, Before: cpuset.Set(before).Sorted().String()},
			func() error { return aff.Set(pid, before) }); err != nil {
			return err
		}
	}
	return nil
}

// rps sets the RPS mask of every receive queue of wan.
func (t *Tuner) rps(knob, wan string, cpus []int) error {
	if err := t.needWAN(wan); err != nil {
		return err
	}
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	dir := "/sys/class/net/" + wan + "/queues"
	rx, err := t.rxQueues(wan)
	if err != nil {
		return err
	}
	if len(rx) == 0 {
		return unsupported("the WAN NIC %s has no receive queues in %s", wan, dir)
	}
	mask := cpuset.Set(cpus).Mask()
	for _, q := range rx {
		p := dir + "/" + q + "/rps_cpus"
		if err := t.setFile(knob, p, mask); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return unsupported("the kernel has no RPS (%s is missing: built without CONFIG_RPS)", p)
			}
			return err
		}
	}
	return nil
}

// xps maps CPU cpus[j] to transmit queue j mod n of wan, n its number
// of transmit queues, and writes each queue's XPS mask.
func (t *Tuner) xps(knob, wan string, cpus []int) error {
	if err := t.needWAN(wan); err != nil {
		return err
	}
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	dir := "/sys/class/net/" + wan + "/queues"
	names, err := t.host.Files.List(dir)
	if err != nil {
		return fmt.Errorf("WAN NIC %s: %w", wan, err)
	}
	var tx []string
	for _, n := range names {
		if strings.HasPrefix(n, "tx-") {
			tx = append(tx, n)
		}
	}
	if len(tx) == 0 {
		return unsupported("the WAN NIC %s has no transmit queues in %s", wan, dir)
	}
	slices.SortFunc(tx, func(a, b string) int { return queueNumber(a) - queueNumber(b) })
	per := make([][]int, len(tx))
	for j, c := range cpus {
		per[j%len(tx)] = append(per[j%len(tx)], c)
	}
	for q, name := range tx {
		if len(per[q]) == 0 {
			continue
		}
		p := dir + "/" + name + "/xps_cpus"
		if err := t.setFile(knob, p, cpuset.Set(per[q]).Mask()); err != nil {
			if errors.Is(err, fs.ErrNotExist) && len(tx) == 1 {
				return unsupported("the WAN NIC %s has one transmit queue, which has no XPS map (%s is missing): every CPU transmits on it", wan, p)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return unsupported("the kernel has no XPS (%s is missing: built without CONFIG_XPS)", p)
			}
			return err
		}
	}
	return nil
}

// queueNumber returns the number of a queue directory ("tx-12" → 12).
func queueNumber(name string) int {
	_, n, _ := strings.Cut(name, "-")
	i, _ := strconv.Atoi(n)
	return i
}

const (
	featUDPGROForwarding = "rx-udp-gro-forwarding"
	featNtuple           = "rx-ntuple-filter"
)

// wanFeature returns the host's ethtool and the state of the offload
// feature feat of the WAN NIC wan. It fails as unsupported, saying
// noKernel when the kernel has no such feature and fixedOff when the NIC
// has it fixed off.
func (t *Tuner) wanFeature(wan, feat, noKernel, fixedOff string) (Ethtool, Feature, error) {
	if err := t.needWAN(wan); err != nil {
		return nil, Feature{}, err
	}
	eth, err := t.ethtool()
	if err != nil {
		return nil, Feature{}, err
	}
	f, err := eth.Feature(wan, feat)
	if errors.Is(err, ErrNoFeature) {
		return nil, Feature{}, unsupported("%s", noKernel)
	}
	if err != nil {
		return nil, Feature{}, err
	}
	if !f.Active && !f.Changeable {
		return nil, Feature{}, unsupported("%s", fixedOff)
	}
	return eth, f, nil
}

// udpGROForwarding turns rx-udp-gro-forwarding on for wan.
func (t *Tuner) udpGROForwarding(wan string) error {
	eth, f, err := t.wanFeature(wan, featUDPGROForwarding,
		fmt.Sprintf("the kernel has no %s feature (it needs Linux 5.12 or later)", featUDPGROForwarding),
		fmt.Sprintf("the WAN NIC %s cannot turn %s on (ethtool shows it fixed off)", wan, featUDPGROForwarding))
	if err != nil {
		return err
	}
	if err := eth.SetFeature(wan, featUDPGROForwarding, true); err != nil {
		return err
	}
	was := f.Active
	return t.record(Change{Knob: KnobUDPGROForwarding, Path: "ethtool -K " + wan + " " + featUDPGROForwarding,
		Before: onOff(was), After: "on"},
		journalEntry{Kind: journalFeature, Dev: wan, Path: featUDPGROForwarding, Before: onOff(was)},
		func() error { return eth.SetFeature(wan, featUDPGROForwarding, was) })
}

// steering installs one ntuple rule per tunnel on wan: UDP to ports[i]
// (the listen port of devs[i]) goes to receive queue i mod the number of
// queues. It turns the NIC's rx-ntuple-filter feature on if needed.
func (t *Tuner) steering(wan string, devs []string, ports []int) error {
	eth, f, err := t.wanFeature(wan, featNtuple,
		fmt.Sprintf("the kernel has no %s feature", featNtuple),
		fmt.Sprintf("the WAN NIC %s has no ntuple filters (ethtool shows %s fixed off; veth and most virtual NICs have none)", wan, featNtuple))
	if err != nil {
		return err
	}
	nt, ok := eth.(NtupleEthtool)
	if !ok {
		return unsupported("this host's ethtool interface cannot install ntuple rules")
	}
	queues, err := t.rxQueues(wan)
	if err != nil {
		return err
	}
	if len(queues) < 2 {
		return unsupported("the WAN NIC %s has %d receive queue; steering tunnels to cores needs several (ethtool -L %s combined N)", wan, len(queues), wan)
	}
	if len(ports) != len(devs) {
		return fmt.Errorf("the listen ports of the tunnels are unknown (%d ports for %d devices)", len(ports), len(devs))
	}
	if !f.Active {
		if err := eth.SetFeature(wan, featNtuple, true); err != nil {
			return err
		}
		if err := t.record(Change{Knob: KnobSteering, Path: "ethtool -K " + wan + " " + featNtuple, Before: "off", After: "on"},
			journalEntry{Kind: journalFeature, Dev: wan, Path: featNtuple, Before: "off"},
			func() error { return eth.SetFeature(wan, featNtuple, false) }); err != nil {
			return err
		}
	}
	for i, dev := range devs {
		if ports[i] <= 0 || ports[i] > 65535 {
			return fmt.Errorf("%s has no listen port to steer (%d)", dev, ports[i])
		}
		r := FlowRule{DstPort: uint16(ports[i]), Queue: uint32(i % len(queues))}
		loc, err := nt.InsertFlowRule(wan, r)
		if err != nil {
			return err
		}
		if err := t.record(Change{Knob: KnobSteering, Path: fmt.Sprintf("ethtool -N %s (%s)", wan, dev), Before: "no rule",
			After: fmt.Sprintf("%s loc %d", r, loc)},
			journalEntry{Kind: journalRule, Dev: wan, Loc: loc},
			func() error { return nt.DeleteFlowRule(wan, loc) }); err != nil {
			return err
		}
	}
	return nil
}

// rxQueues lists the receive queues of dev in sysfs (rx-0, rx-1, …).
func (t *Tuner) rxQueues(dev string) ([]string, error) {
	dir := "/sys/class/net/" + dev + "/queues"
	names, err := t.host.Files.List(dir)
	if err != nil {
		return nil, fmt.Errorf("NIC %s: %w", dev, err)
	}
	var rx []string
	for _, n := range names {
		if strings.HasPrefix(n, "rx-") {
			rx = append(rx, n)
		}
	}
	return rx, nil
}

// patchedDirs are the directories, relative to /sys/class/net/<dev>,
// where the patched inline module's attributes are looked for: the
// device's own directory, then a "wireguard" attribute group.
var patchedDirs = []string{"", "wireguard"}

// patchedPath returns the path of the patched module's attribute name of
// dev, or an ErrNeedsPatchedModule error.
func (t *Tuner) patchedPath(dev, name string) (string, error) {
	return findPatched(t.host.Files, dev, name)
}

func findPatched(f Files, dev, name string) (string, error) {
	base := "/sys/class/net/" + dev
	var looked []string
	for _, d := range patchedDirs {
		p := base + "/" + name
		if d != "" {
			p = base + "/" + d + "/" + name
		}
		if _, err := f.Read(p); err == nil {
			return p, nil
		}
		looked = append(looked, p)
	}
	return "", fmt.Errorf("%w: %s has no %s attribute (looked for %s): the loaded wireguard module is the stock one",
		ErrNeedsPatchedModule, dev, name, strings.Join(looked, ", "))
}

// patchedEach writes value to the patched attribute name of every device.
func (t *Tuner) patchedEach(knob string, devs []string, name, value string) error {
	for _, dev := range devs {
		p, err := t.patchedPath(dev, name)
		if err != nil {
			return err
		}
		if err := t.setFile(knob, p, value); err != nil {
			return err
		}
	}
	return nil
}

// patchedMask writes cpus as a CPU mask to the patched attribute name of
// every device or, perTunnel, cpus[i mod n] alone to that of devs[i].
func (t *Tuner) patchedMask(knob string, devs []string, name string, cpus []int, perTunnel bool) error {
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	if !perTunnel {
		return t.patchedEach(knob, devs, name, cpuset.Set(cpus).Mask())
	}
	for i, dev := range devs {
		if err := t.patchedEach(knob, []string{dev}, name, cpuset.Set([]int{cpus[i%len(cpus)]}).Mask()); err != nil {
			return err
		}
	}
	return nil
}

// serialWorkCPUs writes cpus[i mod n] to peer_<N>/serial_work_cpu of
// every peer of devs[i].
func (t *Tuner) serialWorkCPUs(devs []string, cpus []int) error {
	if err := t.checkOnline(cpus); err != nil {
		return err
	}
	for i, dev := range devs {
		var peers []string
		for _, d := range patchedDirs {
			dir := "/sys/class/net/" + dev
			if d != "" {
				dir += "/" + d
			}
			names, _ := t.host.Files.List(dir)
			for _, n := range names {
				p := dir + "/" + n + "/serial_work_cpu"
				if strings.HasPrefix(n, "peer_") {
					if _, err := t.host.Files.Read(p); err == nil {
						peers = append(peers, p)
					}
				}
			}
			if len(peers) > 0 {
				break
			}
		}
		if len(peers) == 0 {
			return fmt.Errorf("%w: %s has no peer_<N>/serial_work_cpu attribute: the loaded wireguard module is the stock one", ErrNeedsPatchedModule, dev)
		}
		for _, p := range peers {
			if err := t.setFile(KnobSerialCPUs, p, strconv.Itoa(cpus[i%len(cpus)])); err != nil {
				return err
			}
		}
	}
	return nil
}

// pinNAPISets pins the NAPI threads of devs[i] to the CPUs
// sets[i mod len(sets)].
func (t *Tuner) pinNAPISets(knob string, devs []string, sets [][]int) error {
	for i, dev := range devs {
		if err := t.pinNAPIDev(knob, dev, sets[i%len(sets)]); err != nil {
			return err
		}
	}
	return nil
}

// patchedMaskSets writes sets[i mod n] as a CPU mask to the patched
// attribute name of devs[i].
func (t *Tuner) patchedMaskSets(knob string, devs []string, name string, sets [][]int) error {
	for i, dev := range devs {
		cpus := sets[i%len(sets)]
		if err := t.checkOnline(cpus); err != nil {
			return err
		}
		if err := t.patchedEach(knob, []string{dev}, name, cpuset.Set(cpus).Mask()); err != nil {
			return err
		}
	}
	return nil
}
