package datapath

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/wgbench/wgbench/internal/knobs"
	"github.com/wgbench/wgbench/scenarios"
)

// sampleValue is a valid value of a knob of type t, as yaml writes it.
func sampleValue(t knobs.Type) string {
	switch t {
	case knobs.Bool:
		return "true"
	case knobs.CPUList:
		return `"0-1"`
	case knobs.Int:
		return "0"
	}
	return knobs.Placements[0]
}

// TestScenarioAndKernelAgree checks, for every combination of one, two
// or three of the kernel datapath's knobs (and with each set knob made
// optional), that scenario validation and the kernel datapath — its argv
// from KernelArgs, parsed by KernelFlags, then Tuning.Validate — either
// both accept it or both refuse it.
func TestScenarioAndKernelAgree(t *testing.T) {
	ks := knobs.On(knobs.Kernel)
	var combos [][]knobs.Knob
	for i := range ks {
		combos = append(combos, []knobs.Knob{ks[i]})
		for j := i + 1; j < len(ks); j++ {
			combos = append(combos, []knobs.Knob{ks[i], ks[j]})
			for k := j + 1; k < len(ks); k++ {
				combos = append(combos, []knobs.Knob{ks[i], ks[j], ks[k]})
			}
		}
	}
	accepted, refused := 0, 0
	for _, combo := range combos {
		for _, optional := range []bool{false, true} {
			var fields, names []string
			for _, k := range combo {
				fields = append(fields, k.Name+": "+sampleValue(k.Type))
				names = append(names, k.Name)
			}
			if optional {
				fields = append(fields, "optional: ["+strings.Join(names, ", ")+"]")
			}
			yaml := fmt.Sprintf("name: t\nseries:\n  - datapath: kernel\n    tuning: {%s}\n", strings.Join(fields, ", "))
			sc, scErr := scenarios.Parse("t.yaml", []byte(yaml), nil)

			// The kernel side sees the argv of the tuning as written,
			// whatever validation said of it.
			var tu scenarios.Tuning
			if scErr == nil {
				tu = sc.Series[0].Tuning
			} else {
				tu = rawTuning(t, combo, optional)
			}
			args := KernelArgs(tu)
			var kf KernelFlags
			fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
			kf.Register(fs)
			kErr := fs.Parse(args)
			if kErr == nil {
				_, kErr = kf.Tuning()
			}
			if (scErr == nil) != (kErr == nil) {
				t.Errorf("%s: scenario validation says %v, the kernel datapath (%q) says %v", strings.Join(fields, ", "), scErr, args, kErr)
			}
			if scErr == nil {
				accepted++
			} else {
				refused++
			}
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("%d combinations accepted, %d refused; want some of each", accepted, refused)
	}
	t.Logf("%d combinations: %d accepted, %d refused by both", accepted+refused, accepted, refused)
}

// rawTuning builds the Tuning of combo without validation, for the kernel
// side of a combination scenario validation refused.
func rawTuning(t *testing.T, combo []knobs.Knob, optional bool) scenarios.Tuning {
	t.Helper()
	node := 0
	var tu scenarios.Tuning
	for _, k := range combo {
		switch k.Name {
		case "threaded_napi":
			tu.ThreadedNAPI = true
		case "napi_cpus":
			tu.NAPICPUs = scenarios.CPUList("0-1")
		case "numa_node":
			tu.NUMANode = &node
		case "rps_cpus":
			tu.RPSCPUs = scenarios.CPUList("0-1")
		case "xps_cpus":
			tu.XPSCPUs = scenarios.CPUList("0-1")
		case "udp_gro_forwarding":
			tu.UDPGROForwarding = true
		case "steering":
			tu.Steering = true
		case "irq_cpus":
			tu.IRQCPUs = scenarios.CPUList("0-1")
		case "inline_kernel":
			tu.InlineKernel = true
		case "encrypt_cpus":
			tu.EncryptCPUs = scenarios.CPUList("0-1")
		case "decrypt_cpus":
			tu.DecryptCPUs = scenarios.CPUList("0-1")
		case "serial_cpus":
			tu.SerialCPUs = scenarios.CPUList("0-1")
		case "placement":
			tu.Placement = knobs.Placements[0]
		case "cpus":
			tu.CPUs = scenarios.CPUList("0-1")
		default:
			t.Fatalf("knob %s: add it to rawTuning", k.Name)
		}
		if optional {
			tu.Optional = append(tu.Optional, k.Name)
		}
	}
	return tu
}

// kernelAccepts reports the kernel datapath's verdict on the argv of t.
func kernelAccepts(t scenarios.Tuning) error {
	kf, err := ParseKernelFlags(KernelArgs(t))
	if err != nil {
		return err
	}
	_, err = kf.Tuning()
	return err
}

// TestScenarioAndKernelAgreePerGateway checks, for every ordered pair of
// kernel knobs with one shared and one in gw2's block, that scenario
// validation accepts the series exactly when the kernel datapath accepts
// what each gateway runs.
func TestScenarioAndKernelAgreePerGateway(t *testing.T) {
	ks := knobs.On(knobs.Kernel)
	for _, a := range ks {
		for _, b := range ks {
			if a.Name == b.Name || !b.PerGateway {
				continue
			}
			yaml := fmt.Sprintf("name: t\nseries:\n  - datapath: kernel\n    tuning: {%s: %s, gw2: {%s: %s}}\n",
				a.Name, sampleValue(a.Type), b.Name, sampleValue(b.Type))
			sc, scErr := scenarios.Parse("t.yaml", []byte(yaml), nil)
			var tu scenarios.Tuning
			if scErr == nil {
				tu = sc.Series[0].Tuning
			} else {
				tu = rawTuning(t, []knobs.Knob{a}, false)
				gw2 := rawTuning(t, []knobs.Knob{b}, false)
				tu.GW2 = &gw2
			}
			e1, e2 := kernelAccepts(tu.Gateway(1)), kernelAccepts(tu.Gateway(2))
			if (scErr == nil) != (e1 == nil && e2 == nil) {
				t.Errorf("%s shared, %s on gw2: scenario validation says %v, the kernel datapath says %v on gw1 and %v on gw2", a.Name, b.Name, scErr, e1, e2)
			}
		}
	}
}

// TestScenarioAndKernelAgreeOnRanges checks that both sides take the
// same values of the int knobs: each bound, and one past it.
func TestScenarioAndKernelAgreeOnRanges(t *testing.T) {
	for _, k := range knobs.On(knobs.Kernel) {
		if k.Type != knobs.Int {
			continue
		}
		for _, v := range []int{k.Min - 1, k.Min, k.Max, k.Max + 1} {
			yaml := fmt.Sprintf("name: t\nseries:\n  - datapath: kernel\n    tuning: {%s: %d}\n", k.Name, v)
			_, scErr := scenarios.Parse("t.yaml", []byte(yaml), nil)
			kErr := func() error {
				kf, err := ParseKernelFlags([]string{fmt.Sprintf("--%s=%d", k.Flag, v)})
				if err != nil {
					return err
				}
				_, err = kf.Tuning()
				return err
			}()
			if (scErr == nil) != (kErr == nil) || (scErr == nil) != k.InRange(v) {
				t.Errorf("%s: %d: scenario validation says %v, the kernel datapath says %v", k.Name, v, scErr, kErr)
			}
		}
	}
}
