// Package scenarios holds the scenario schema of wgbench: what a benchmark
// run measures, on which testbed, with which datapaths and tuning knobs.
//
// A scenario is a YAML file. Load parses it strictly (unknown keys, wrong
// types and out-of-range values are errors with file:line:col, the key and
// what is allowed), applies defaults and --set overrides, and Expand turns it
// into the ordered list of points a run measures. Nothing in this package
// touches the machine.
package scenarios

import (
	"time"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// Datapath names a way of carrying the tunnels between the two gateways.
type Datapath string

// The datapaths wgbench knows.
const (
	// Plain routes traffic between the gateways with no tunnel at all: the
	// baseline that shows what the testbed itself can carry.
	Plain Datapath = "plain"
	// WireGuardGo runs one wireguard-go device per tunnel on each gateway.
	WireGuardGo Datapath = "wggo"
	// Kernel uses the Linux kernel's WireGuard module.
	Kernel Datapath = "kernel"
	// Inline runs wgbench's embedded run-to-completion engine.
	Inline Datapath = "inline"
	// OpenVPN runs one openvpn process per tunnel: a baseline WireGuard
	// is compared with, not a WireGuard datapath.
	OpenVPN Datapath = "openvpn"
	// IPsec carries each tunnel in kernel ESP tunnel mode (static SAs, no
	// IKE): a baseline WireGuard is compared with.
	IPsec Datapath = "ipsec"
)

// Datapaths lists every valid Datapath, in the order documentation shows them.
var Datapaths = []Datapath{Plain, WireGuardGo, Kernel, Inline, OpenVPN, IPsec}

// Baselines are the datapaths that are other tunnels, not WireGuard: the
// tuner gives their series no WireGuard advice.
var Baselines = []Datapath{OpenVPN, IPsec}

// Ciphers are the data ciphers of the baseline tunnels (tuning.cipher);
// IPsec maps them to rfc4106(gcm(aes)) and rfc7539esp(chacha20,poly1305).
var Ciphers = []string{"AES-256-GCM", "CHACHA20-POLY1305"}

// Protocol is the transport iperf3 drives.
type Protocol string

// The protocols iperf3 drives.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Scenario is one benchmark description, as read from a file and after
// defaults and overrides are applied.
type Scenario struct {
	// Name identifies the scenario in results and run folder names.
	Name string `yaml:"name" json:"name"`
	// Description says what the scenario reproduces or asks.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Testbed selects where the four hosts are.
	Testbed Testbed `yaml:"testbed" json:"testbed"`
	// Traffic describes the load iperf3 offers.
	Traffic Traffic `yaml:"traffic" json:"traffic"`
	// Sweep lists the values of tunnels and flows per tunnel to measure.
	Sweep Sweep `yaml:"sweep" json:"sweep"`
	// Repetitions is how many times each point is measured.
	Repetitions int `yaml:"repetitions" json:"repetitions"`
	// Series are the configurations compared in one run.
	Series []Series `yaml:"series" json:"series"`
	// Probes configures the per-core samplers and the black-hole detector.
	Probes Probes `yaml:"probes" json:"probes"`
	// Latency, when set, probes the round-trip time through the tunnels
	// idle before each repetition and during its measured window.
	Latency *Latency `yaml:"latency,omitempty" json:"latency,omitempty"`
}

// Testbed selects the testbed driver.
type Testbed struct {
	// Driver is "local" (network namespaces on this machine, the default) or
	// "ssh" (real machines listed in Inventory).
	Driver string `yaml:"driver" json:"driver"`
	// Inventory is the hosts file for the ssh driver, relative to the
	// scenario file.
	Inventory string `yaml:"inventory,omitempty" json:"inventory,omitempty"`
	// MTU of the testbed links (LAN and WAN), 0 for the default 1500.
	MTU int `yaml:"mtu,omitempty" json:"mtu,omitempty"`
	// WAN, local driver only, names two interfaces of this machine cabled
	// to each other that become gw1's and gw2's WAN ports for the run
	// instead of a veth pair; they are given back afterwards.
	WAN WANPorts `yaml:"wan,omitempty" json:"wan,omitzero"`
}

// WANPorts names the physical WAN ports of the local testbed's gateways.
type WANPorts struct {
	// GW1 and GW2 are interface names, such as the two ports of a NIC
	// looped back.
	GW1 string `yaml:"gw1,omitempty" json:"gw1,omitempty"`
	GW2 string `yaml:"gw2,omitempty" json:"gw2,omitempty"`
}

// Traffic describes the offered load.
type Traffic struct {
	// Tool is the traffic generator; only "iperf3" today.
	Tool string `yaml:"tool" json:"tool"`
	// Protocol is tcp or udp.
	Protocol Protocol `yaml:"protocol" json:"protocol"`
	// Duration is the measured time of each measurement (iperf3 -t),
	// after the warm-up: a measurement lasts Omit+Duration in all.
	Duration Duration `yaml:"duration" json:"duration"`
	// Omit is the warm-up before each measurement that iperf3 leaves out
	// of its results (iperf3 -O); shorter than Duration.
	Omit Duration `yaml:"omit" json:"omit"`
	// Bitrate is the target rate per flow in bits per second: UDP only, and
	// required there (iperf3's own UDP default is a mere 1 Mbit/s). Written
	// as "1G", "500M", "10000".
	Bitrate Bitrate `yaml:"bitrate,omitempty" json:"bitrate,omitempty"`
	// Length is the iperf3 buffer / datagram size in bytes (iperf3 -l),
	// 0 for iperf3's default.
	Length int `yaml:"length,omitempty" json:"length,omitempty"`
	// Rate is the offered rate: "search" (RFC 2544: the highest rate
	// whose loss stays within LossTolerance, found per point by a binary
	// search; udp only) or a fixed bitrate, the same as Bitrate.
	Rate Rate `yaml:"rate,omitempty" json:"rate,omitzero"`
	// LossTolerance is the loss in percent a searched rate may have;
	// default 0.1.
	LossTolerance *float64 `yaml:"loss_tolerance,omitempty" json:"loss_tolerance,omitempty"`
	// Search bounds the rate search.
	Search Search `yaml:"search,omitempty" json:"search,omitzero"`
}

// Sweep lists the points of a run. Every combination of Tunnels and Flows
// is one point.
type Sweep struct {
	// Tunnels is the list of tunnel counts.
	Tunnels []int `yaml:"tunnels" json:"tunnels"`
	// Flows is the list of flow counts per tunnel.
	Flows []int `yaml:"flows" json:"flows"`
	// PacketSize lists inner IP packet sizes in bytes (udp only): each
	// point sends datagrams of that size, iperf3 -l PacketSize-28.
	PacketSize []int `yaml:"packet_size,omitempty" json:"packet_size,omitempty"`
	// MTU lists link MTUs; each point sets the testbed links to it and
	// the tunnels to it minus TunnelOverhead.
	MTU []int `yaml:"mtu,omitempty" json:"mtu,omitempty"`
}

// Series is one configuration compared in a run.
type Series struct {
	// Name labels the series in results and plots; unique in a scenario.
	Name string `yaml:"name" json:"name"`
	// Datapath carries the tunnels.
	Datapath Datapath `yaml:"datapath" json:"datapath"`
	// Tuning holds the knobs applied for this series.
	Tuning Tuning `yaml:"tuning,omitempty" json:"tuning,omitempty"`
}

// Tuning holds the knobs a series may set. Each knob applies to some
// datapaths only; setting one on another datapath is a validation error.
type Tuning struct {
	// ThreadedNAPI switches the WireGuard devices to threaded NAPI
	// (kernel only).
	ThreadedNAPI bool `yaml:"threaded_napi,omitempty" json:"threaded_napi,omitempty"`
	// NAPICPUs pins the napi/<dev>-0 kthreads, one CPU per tunnel taken
	// round-robin from the list (kernel only, needs ThreadedNAPI).
	NAPICPUs CPUList `yaml:"napi_cpus,omitempty" json:"napi_cpus,omitempty"`
	// NUMANode places the work on the CPUs of this NUMA node, -1 for the
	// NIC's node (kernel and inline). On the kernel datapath: the WAN
	// NIC's receive IRQs, RPS and XPS, the NAPI threads when threaded and,
	// with the patched module, the crypto masks.
	NUMANode *int `yaml:"numa_node,omitempty" json:"numa_node,omitempty"`
	// Steering installs ntuple rules so each tunnel's UDP flow is received
	// on its own core (kernel only).
	Steering bool `yaml:"steering,omitempty" json:"steering,omitempty"`
	// IRQCPUs pins the interrupts of the WAN NIC's receive queues: queue
	// q to IRQCPUs[q mod n] (kernel only). With Steering, tunnel i is
	// received on queue i, so on IRQCPUs[i mod n].
	IRQCPUs CPUList `yaml:"irq_cpus,omitempty" json:"irq_cpus,omitempty"`
	// RPSCPUs sets the RPS mask of the receive queues (kernel only).
	RPSCPUs CPUList `yaml:"rps_cpus,omitempty" json:"rps_cpus,omitempty"`
	// XPSCPUs maps CPUs to the WAN NIC's transmit queues, the j-th CPU
	// to queue j mod n (kernel only).
	XPSCPUs CPUList `yaml:"xps_cpus,omitempty" json:"xps_cpus,omitempty"`
	// UDPGROForwarding turns on UDP GRO forwarding on the WAN NIC (kernel
	// only).
	UDPGROForwarding bool `yaml:"udp_gro_forwarding,omitempty" json:"udp_gro_forwarding,omitempty"`
	// EncryptCPUs and DecryptCPUs restrict the crypto workers (kernel with
	// the patched module only).
	EncryptCPUs CPUList `yaml:"encrypt_cpus,omitempty" json:"encrypt_cpus,omitempty"`
	DecryptCPUs CPUList `yaml:"decrypt_cpus,omitempty" json:"decrypt_cpus,omitempty"`
	// SerialCPUs sets the patched module's peer serial_work_cpu, tunnel i
	// on SerialCPUs[i mod n] (kernel with the patched module only).
	SerialCPUs CPUList `yaml:"serial_cpus,omitempty" json:"serial_cpus,omitempty"`
	// InlineKernel sets the patched module's inline_en (kernel only).
	InlineKernel bool `yaml:"inline_kernel,omitempty" json:"inline_kernel,omitempty"`
	// Placement names a kernel placement preset built from the knobs
	// above, tunnel i on core CPUs[i mod n]: PlacementEmulatedInline or
	// PlacementOverlapAvoidance (kernel only, needs CPUs).
	Placement string `yaml:"placement,omitempty" json:"placement,omitempty"`
	// CPUs are the cores the engine's tunnels are placed on, round-robin
	// (wggo: one pinned process per tunnel; inline: one pinned thread per
	// tunnel; kernel: the cores of Placement). Empty means all cores.
	CPUs CPUList `yaml:"cpus,omitempty" json:"cpus,omitempty"`
	// Pin pins each tunnel of an embedded engine to one core from CPUs
	// (wggo and inline).
	Pin bool `yaml:"pin,omitempty" json:"pin,omitempty"`
	// Mode is the inline engine's mode, one of knobs.Modes (inline
	// only); empty means inline.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Cipher is the data cipher of a baseline tunnel, one of Ciphers
	// (openvpn and ipsec); empty means the first.
	Cipher string `yaml:"cipher,omitempty" json:"cipher,omitempty"`
	// Optional lists knobs that may be skipped, with a note in the results,
	// when the host cannot apply them.
	Optional []string `yaml:"optional,omitempty" json:"optional,omitempty"`
	// GW1 and GW2 tune one gateway alone: each knob a block sets replaces
	// the shared one on that gateway (see Gateway). Only knobs the knobs
	// table marks per-gateway may be set in them, and blocks do not nest.
	GW1 *Tuning `yaml:"gw1,omitempty" json:"gw1,omitempty"`
	GW2 *Tuning `yaml:"gw2,omitempty" json:"gw2,omitempty"`
}

// Kernel placement presets (Tuning.Placement).
const (
	// PlacementEmulatedInline runs all of tunnel i's stages on core
	// CPUs[i]: its UDP flow steered there, the queue's IRQ and the NAPI
	// thread pinned there and, with the patched module, its crypto
	// confined there (HPSR 2025 "emulated inline").
	PlacementEmulatedInline = "emulated-inline"
	// PlacementOverlapAvoidance keeps the cores CPUs, which receive the
	// tunnels, free of the other stages: the NAPI threads and, with the
	// patched module, the crypto workers run on the other cores (HPSR
	// 2025 "preventing overlaps").
	PlacementOverlapAvoidance = "overlap-avoidance"

	// PlacementNUMAAlternate spreads the tunnels over the NUMA nodes,
	// tunnel i on node i mod (number of nodes), each with its receive
	// IRQ, NAPI threads (when threaded) and, with the patched module, its
	// crypto pool and transmission on that node (HPSR 2025 Fig. 8
	// "NUMA-aware"). Its cpus, when given, limit the nodes' cores; it
	// takes threaded_napi.
	PlacementNUMAAlternate = "numa-alternate"
)

// Placements lists the placement presets.
var Placements = []string{PlacementEmulatedInline, PlacementOverlapAvoidance, PlacementNUMAAlternate}

// Probes configures the samplers and the black-hole detector.
type Probes struct {
	// Interval between samples; default 250ms.
	Interval Duration `yaml:"interval" json:"interval"`
	// Saturation is the busy percentage from which a core counts as
	// saturated; default 90.
	Saturation float64 `yaml:"saturation" json:"saturation"`
	// Persistence is the share of the window (0..1) a core must be
	// saturated to be flagged; default 0.6.
	Persistence float64 `yaml:"persistence" json:"persistence"`
	// Headroom is the share of the gateway's total capacity (0..1) that must
	// be idle for a saturated core to be a black hole; default 0.25.
	Headroom float64 `yaml:"headroom" json:"headroom"`
}

// Duration is a time.Duration written in YAML as "5s", "250ms", "1m".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Bitrate is a rate in bits per second, written as "1G", "500M", "100k" or
// a plain integer.
type Bitrate uint64

// CPUList is a set of CPUs as a scenario writes it: a plain list (in
// YAML a sequence [0, 2, 3], a single number or a list string "0-3,8";
// order kept, each CPU once, in 0..cpuset.MaxCPU) or a symbolic
// expression such as "nic-node - rx-cores" that each gateway resolves
// from its own facts (see cpuset.Expr; only the kernel datapath resolves
// them). It holds the text: a plain list in list form ("0-3,8"), an
// expression as written. In JSON it is that string; an array of numbers
// is read too.
type CPUList string

// Set returns the plain list l holds, or nil when l is empty or
// symbolic (see Literal).
func (l CPUList) Set() cpuset.Set {
	s, _ := l.Literal()
	return s
}

// Literal returns the plain list l holds and true, or nil and false when
// l is a symbolic expression that only a host can resolve.
func (l CPUList) Literal() (cpuset.Set, bool) {
	s, err := cpuset.Parse(string(l))
	if err != nil {
		return nil, false
	}
	return s, true
}

// Symbolic reports whether l names sets a host resolves.
func (l CPUList) Symbolic() bool { return l != "" && cpuset.IsSymbolic(string(l)) }

// Resolve returns the CPUs of l, looking its names up with look (nil for
// a plain list).
func (l CPUList) Resolve(look cpuset.Lookup) (cpuset.Set, error) {
	if l == "" {
		return nil, nil
	}
	return cpuset.Expr(l).Resolve(look)
}

// CPUs returns l for a plain list, written in list form.
func CPUs(s cpuset.Set) CPUList { return CPUList(s.String()) }

// Point is one measured configuration of a series: a tunnel count and a
// number of flows per tunnel.
type Point struct {
	// Series is the index into Scenario.Series.
	Series int `json:"series"`
	// Tunnels is the number of tunnels.
	Tunnels int `json:"tunnels"`
	// FlowsPerTunnel is the number of iperf3 flows in each tunnel.
	FlowsPerTunnel int `json:"flows_per_tunnel"`
	// PacketSize is the inner IP packet size in bytes, 0 when not swept.
	PacketSize int `json:"packet_size,omitempty"`
	// MTU is the link MTU, 0 when not swept.
	MTU int `json:"mtu,omitempty"`
}

// Flows returns the total number of flows of p.
func (p Point) Flows() int { return p.Tunnels * p.FlowsPerTunnel }
