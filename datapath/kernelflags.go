package datapath

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wgbench/wgbench/datapath/kernel"
	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/knobs"
	"github.com/wgbench/wgbench/scenarios"
)

// KernelFlags are the tuning flags of `wgbench datapath up --engine
// kernel`, as typed on the command line. The knob flags are those of the
// knobs table's kernel rows (knobs.Knob.Flag); KernelArgs writes them
// from a scenario's tuning. An unset flag leaves its setting alone.
type KernelFlags struct {
	bools     map[string]*bool   // by knob name
	values    map[string]*string // by knob name
	WANDevice string             // --wan-dev NAME (not a knob)
	Journal   string             // --journal PATH (not a knob)
	Optional  []string           // --optional KNOB, repeatable (optional)
}

// kernelKnobs are the knobs table's rows with a kernel flag.
func kernelKnobs() []knobs.Knob {
	return slices.DeleteFunc(knobs.On(knobs.Kernel), func(k knobs.Knob) bool { return k.Flag == "" })
}

// Register adds the flags to fs.
func (k *KernelFlags) Register(fs *pflag.FlagSet) {
	k.bools, k.values = map[string]*bool{}, map[string]*string{}
	for _, kn := range kernelKnobs() {
		help := "kernel engine: " + kn.Help + " (" + kn.Name + ")"
		if kn.Type == knobs.CPUList {
			help += "; a CPU list, or a set this host resolves such as 'nic-node - rx-cores' (docs/scenarios.md)"
		}
		if kn.Type == knobs.Bool {
			k.bools[kn.Name] = fs.Bool(kn.Flag, false, help)
		} else {
			k.values[kn.Name] = fs.String(kn.Flag, "", help)
		}
	}
	fs.StringVar(&k.WANDevice, "wan-dev", "", "kernel engine: the WAN NIC of the WAN knobs (--rps-cpus, --steering, --numa-node -1, ...) (default: the link routing to the first peer endpoint)")
	fs.StringVar(&k.Journal, "journal", "", "kernel engine: keep a journal of every change in `PATH`, for wgbench agent undo should the engine be killed")
	fs.StringArrayVar(&k.Optional, "optional", nil, "kernel engine: a knob (yaml name, e.g. numa_node) to skip with a note when this host cannot apply it (repeatable)")
}

// ParseKernelFlags returns the kernel flags that args (such as
// KernelArgs's) set.
func ParseKernelFlags(args []string) (KernelFlags, error) {
	var k KernelFlags
	fs := pflag.NewFlagSet("datapath up --engine kernel", pflag.ContinueOnError)
	k.Register(fs)
	if err := fs.Parse(args); err != nil {
		return KernelFlags{}, err
	}
	return k, nil
}

// IsZero reports whether no flag is set.
func (k KernelFlags) IsZero() bool {
	for _, b := range k.bools {
		if *b {
			return false
		}
	}
	for _, v := range k.values {
		if *v != "" {
			return false
		}
	}
	return k.WANDevice == "" && k.Journal == "" && len(k.Optional) == 0
}

// Tuning parses the flags into the kernel engine's tuning and validates it.
func (k KernelFlags) Tuning() (kernel.Tuning, error) {
	t := kernel.Tuning{WANDevice: k.WANDevice, Optional: k.Optional, Journal: k.Journal}
	for _, kn := range kernelKnobs() {
		var err error
		switch kn.Type {
		case knobs.Bool:
			if b := k.bools[kn.Name]; b != nil && *b {
				err = setKernelKnob(&t, kn.Name, true)
			}
		case knobs.CPUList:
			if s := k.value(kn.Name); s != "" {
				v, perr := scenarios.ParseCPUList(s)
				if perr != nil {
					return kernel.Tuning{}, fmt.Errorf("--%s: %w", kn.Flag, perr)
				}
				if v.Symbolic() {
					// A CPU set ("nic-node - rx-cores") is resolved on this
					// host when the tuning is applied.
					if t.Sets == nil {
						t.Sets = map[string]string{}
					}
					t.Sets[kernelSetKey(kn.Name)] = string(v)
					continue
				}
				cpus, perr := cpuset.Parse(s)
				if perr != nil {
					return kernel.Tuning{}, fmt.Errorf("--%s: %w", kn.Flag, perr)
				}
				err = setKernelKnob(&t, kn.Name, []int(cpus))
			}
		case knobs.Int:
			if s := k.value(kn.Name); s != "" {
				n, perr := strconv.Atoi(strings.TrimSpace(s))
				if perr != nil || !kn.InRange(n) {
					return kernel.Tuning{}, fmt.Errorf("--%s %q: want a NUMA node number (0..%d), or -1 for the WAN NIC's node", kn.Flag, s, kn.Max)
				}
				err = setKernelKnob(&t, kn.Name, &n)
			}
		case knobs.Name:
			if s := k.value(kn.Name); s != "" {
				err = setKernelKnob(&t, kn.Name, s)
			}
		}
		if err != nil {
			return kernel.Tuning{}, err
		}
	}
	if err := t.Validate(); err != nil {
		return kernel.Tuning{}, err
	}
	return t, nil
}

// kernelSetKey is the key of knob name's CPU set in kernel.Tuning.Sets:
// the placement's cores are kept under placement.
func kernelSetKey(name string) string {
	if name == "cpus" {
		return kernel.KnobPlacement
	}
	return name
}

// value is the string flag of knob name, "" when unset.
func (k KernelFlags) value(name string) string {
	if v := k.values[name]; v != nil {
		return *v
	}
	return ""
}

// setKernelKnob stores the value of the knob name in t.
func setKernelKnob(t *kernel.Tuning, name string, v any) error {
	ok := true
	switch name {
	case kernel.KnobThreadedNAPI:
		t.ThreadedNAPI, ok = v.(bool)
	case kernel.KnobNAPICPUs:
		t.NAPICPUs, ok = v.([]int)
	case kernel.KnobNUMANode:
		t.NUMANode, ok = v.(*int)
	case kernel.KnobRPSCPUs:
		t.RPSCPUs, ok = v.([]int)
	case kernel.KnobXPSCPUs:
		t.XPSCPUs, ok = v.([]int)
	case kernel.KnobUDPGROForwarding:
		t.UDPGROForwarding, ok = v.(bool)
	case kernel.KnobSteering:
		t.Steering, ok = v.(bool)
	case kernel.KnobIRQCPUs:
		t.IRQCPUs, ok = v.([]int)
	case kernel.KnobInlineKernel:
		t.InlineKernel, ok = v.(bool)
	case kernel.KnobEncryptCPUs:
		t.EncryptCPUs, ok = v.([]int)
	case kernel.KnobDecryptCPUs:
		t.DecryptCPUs, ok = v.([]int)
	case kernel.KnobSerialCPUs:
		t.SerialCPUs, ok = v.([]int)
	case kernel.KnobPlacement:
		t.Placement, ok = v.(string)
	case "cpus":
		t.PlacementCPUs, ok = v.([]int)
	default:
		return fmt.Errorf("knob %s has a kernel flag but no kernel setting", name)
	}
	if !ok {
		return fmt.Errorf("knob %s: %T is not its type", name, v)
	}
	return nil
}

// KernelArgs returns the flags of `wgbench datapath up --engine kernel`
// that apply t's kernel knobs, in the order of the knobs table. Knobs the
// kernel datapath does not take (pin) have no flag and are left out;
// scenario validation rejects them on kernel series. A kernel series'
// cpus are the cores of its placement (--placement-cpus).
func KernelArgs(t scenarios.Tuning) []string {
	var args []string
	for _, kn := range kernelKnobs() {
		v, ok := t.Value(kn.Name)
		switch {
		case !ok:
		case kn.Type == knobs.Bool:
			args = append(args, "--"+kn.Flag)
		default:
			args = append(args, "--"+kn.Flag+"="+v)
		}
	}
	for _, o := range t.Optional {
		args = append(args, "--optional="+o)
	}
	return args
}
