package datapath

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wgbench/wgbench/datapath/kernel"
	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/scenarios"
)

// KernelFlags are the tuning flags of `wgbench datapath up --engine
// kernel`, as typed on the command line. Each maps to one knob of
// scenarios.Tuning (yaml name in brackets); KernelArgs writes them from a
// scenario's tuning. An unset flag leaves its setting alone.
type KernelFlags struct {
	ThreadedNAPI     bool     // --threaded-napi (threaded_napi)
	NAPICPUs         string   // --napi-cpus LIST (napi_cpus)
	NUMANode         string   // --numa-node N, -1 for the WAN NIC's node (numa_node)
	RPSCPUs          string   // --rps-cpus LIST (rps_cpus)
	XPSCPUs          string   // --xps-cpus LIST (xps_cpus)
	UDPGROForwarding bool     // --udp-gro-forwarding (udp_gro_forwarding)
	Steering         bool     // --steering (steering)
	IRQCPUs          string   // --irq-cpus LIST (irq_cpus)
	InlineKernel     bool     // --inline-kernel (inline_kernel)
	EncryptCPUs      string   // --encrypt-cpus LIST (encrypt_cpus)
	DecryptCPUs      string   // --decrypt-cpus LIST (decrypt_cpus)
	SerialCPUs       string   // --serial-cpus LIST (serial_cpus)
	Placement        string   // --placement NAME (placement)
	PlacementCPUs    string   // --placement-cpus LIST (cpus of a kernel series)
	WANDevice        string   // --wan-dev NAME (not a knob)
	Journal          string   // --journal PATH (not a knob)
	Optional         []string // --optional KNOB, repeatable (optional)
}

// Register adds the flags to fs.
func (k *KernelFlags) Register(fs *pflag.FlagSet) {
	fs.BoolVar(&k.ThreadedNAPI, "threaded-napi", false, "kernel engine: switch the tunnels to threaded NAPI")
	fs.StringVar(&k.NAPICPUs, "napi-cpus", "", "kernel engine: pin tunnel i's NAPI threads to CPU i mod n of this list, e.g. 0-3 (needs --threaded-napi); every CPU-list flag also takes a set this host resolves, e.g. 'nic-node - rx-cores' (see docs/scenarios.md)")
	fs.StringVar(&k.NUMANode, "numa-node", "", "kernel engine: place the WAN NIC's IRQs, RPS, XPS, the NAPI threads (when threaded) and the patched module's crypto masks on this NUMA node's CPUs; -1 for the WAN NIC's node")
	fs.StringVar(&k.RPSCPUs, "rps-cpus", "", "kernel engine: RPS mask of the WAN NIC's receive queues, as a CPU list")
	fs.StringVar(&k.XPSCPUs, "xps-cpus", "", "kernel engine: XPS of the WAN NIC, CPU j of this list on transmit queue j mod n")
	fs.BoolVar(&k.UDPGROForwarding, "udp-gro-forwarding", false, "kernel engine: turn on rx-udp-gro-forwarding on the WAN NIC")
	fs.BoolVar(&k.Steering, "steering", false, "kernel engine: ntuple rule per tunnel on the WAN NIC, tunnel i's UDP port to receive queue i")
	fs.StringVar(&k.IRQCPUs, "irq-cpus", "", "kernel engine: pin the WAN NIC's receive queue q interrupt to CPU q mod n of this list")
	fs.BoolVar(&k.InlineKernel, "inline-kernel", false, "kernel engine: set the patched module's inline_en")
	fs.StringVar(&k.EncryptCPUs, "encrypt-cpus", "", "kernel engine: the patched module's encrypt_cpumask, as a CPU list")
	fs.StringVar(&k.DecryptCPUs, "decrypt-cpus", "", "kernel engine: the patched module's decrypt_cpumask, as a CPU list")
	fs.StringVar(&k.SerialCPUs, "serial-cpus", "", "kernel engine: the patched module's peer serial_work_cpu, tunnel i on CPU i mod n of this list")
	fs.StringVar(&k.Placement, "placement", "", "kernel engine: placement preset, "+strings.Join(kernel.Placements, " or ")+", tunnel i on CPU i mod n of --placement-cpus")
	fs.StringVar(&k.PlacementCPUs, "placement-cpus", "", "kernel engine: the tunnels' cores of --placement, e.g. 0-3")
	fs.StringVar(&k.WANDevice, "wan-dev", "", "kernel engine: the WAN NIC of --rps-cpus, --udp-gro-forwarding, --steering and --numa-node -1 (default: the link routing to the first peer endpoint)")
	fs.StringVar(&k.Journal, "journal", "", "kernel engine: keep a journal of every change in `PATH`, for wgbench agent undo should the engine be killed")
	fs.StringArrayVar(&k.Optional, "optional", nil, "kernel engine: a knob (yaml name, e.g. numa_node) to skip with a note when this host cannot apply it (repeatable)")
}

// IsZero reports whether no flag is set.
func (k KernelFlags) IsZero() bool {
	return !k.ThreadedNAPI && k.NAPICPUs == "" && k.NUMANode == "" && k.RPSCPUs == "" && k.XPSCPUs == "" && !k.UDPGROForwarding &&
		!k.Steering && k.IRQCPUs == "" && !k.InlineKernel && k.EncryptCPUs == "" && k.DecryptCPUs == "" && k.SerialCPUs == "" &&
		k.Placement == "" && k.PlacementCPUs == "" &&
		k.WANDevice == "" && k.Journal == "" && len(k.Optional) == 0
}

// Tuning parses the flags into the kernel engine's tuning.
func (k KernelFlags) Tuning() (kernel.Tuning, error) {
	t := kernel.Tuning{
		ThreadedNAPI: k.ThreadedNAPI, UDPGROForwarding: k.UDPGROForwarding, Steering: k.Steering,
		InlineKernel: k.InlineKernel, WANDevice: k.WANDevice, Optional: k.Optional, Placement: k.Placement,
		Journal: k.Journal,
	}
	for _, l := range []struct {
		flag string
		knob string
		s    string
		dst  *[]int
	}{
		{"--napi-cpus", kernel.KnobNAPICPUs, k.NAPICPUs, &t.NAPICPUs}, {"--rps-cpus", kernel.KnobRPSCPUs, k.RPSCPUs, &t.RPSCPUs},
		{"--xps-cpus", kernel.KnobXPSCPUs, k.XPSCPUs, &t.XPSCPUs},
		{"--encrypt-cpus", kernel.KnobEncryptCPUs, k.EncryptCPUs, &t.EncryptCPUs}, {"--decrypt-cpus", kernel.KnobDecryptCPUs, k.DecryptCPUs, &t.DecryptCPUs},
		{"--serial-cpus", kernel.KnobSerialCPUs, k.SerialCPUs, &t.SerialCPUs}, {"--irq-cpus", kernel.KnobIRQCPUs, k.IRQCPUs, &t.IRQCPUs},
		{"--placement-cpus", kernel.KnobPlacement, k.PlacementCPUs, &t.PlacementCPUs},
	} {
		// A symbolic set ("nic-node - rx-cores") is resolved on this
		// host when the tuning is applied.
		v, err := scenarios.ParseCPUList(l.s)
		if err != nil {
			return kernel.Tuning{}, fmt.Errorf("%s: %w", l.flag, err)
		}
		if v.Symbolic() {
			if t.Sets == nil {
				t.Sets = map[string]string{}
			}
			t.Sets[l.knob] = string(v)
			continue
		}
		cpus, err := cpuset.Parse(l.s)
		if err != nil {
			return kernel.Tuning{}, fmt.Errorf("%s: %w", l.flag, err)
		}
		*l.dst = cpus
	}
	if k.NUMANode != "" {
		n, err := strconv.Atoi(strings.TrimSpace(k.NUMANode))
		if err != nil || n < -1 {
			return kernel.Tuning{}, fmt.Errorf("--numa-node %q: want a NUMA node number, or -1 for the WAN NIC's node", k.NUMANode)
		}
		t.NUMANode = &n
	}
	if err := t.Validate(); err != nil {
		return kernel.Tuning{}, err
	}
	return t, nil
}

// KernelArgs returns the flags of `wgbench datapath up --engine kernel`
// that apply t's kernel knobs, in a fixed order. Knobs of other
// datapaths (pin) are not kernel flags and are left out; scenario
// validation rejects them on kernel series. A kernel series' cpus are the
// cores of its placement.
func KernelArgs(t scenarios.Tuning) []string {
	var args []string
	flag := func(on bool, name string) {
		if on {
			args = append(args, name)
		}
	}
	list := func(l scenarios.CPUList, name string) {
		if len(l) > 0 {
			args = append(args, name+"="+l.String())
		}
	}
	flag(t.ThreadedNAPI, "--threaded-napi")
	list(t.NAPICPUs, "--napi-cpus")
	if t.NUMANode != nil {
		args = append(args, "--numa-node="+strconv.Itoa(*t.NUMANode))
	}
	list(t.RPSCPUs, "--rps-cpus")
	list(t.XPSCPUs, "--xps-cpus")
	flag(t.UDPGROForwarding, "--udp-gro-forwarding")
	flag(t.Steering, "--steering")
	list(t.IRQCPUs, "--irq-cpus")
	flag(t.InlineKernel, "--inline-kernel")
	list(t.EncryptCPUs, "--encrypt-cpus")
	list(t.DecryptCPUs, "--decrypt-cpus")
	list(t.SerialCPUs, "--serial-cpus")
	if t.Placement != "" {
		args = append(args, "--placement="+t.Placement)
		list(t.CPUs, "--placement-cpus")
	}
	for _, o := range t.Optional {
		args = append(args, "--optional="+o)
	}
	return args
}
