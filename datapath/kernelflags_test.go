package datapath

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/pflag"

	"github.com/wgbench/wgbench/datapath/kernel"
	"github.com/wgbench/wgbench/scenarios"
)

// TestKernelArgsRoundTrip checks that the argv the controller builds from
// a scenario's tuning parses back, on the gateway, into the same knobs.
func TestKernelArgsRoundTrip(t *testing.T) {
	node, local := 1, -1
	tests := []struct {
		name   string
		tuning scenarios.Tuning
		args   []string
		want   kernel.Tuning
	}{
		{"vanilla", scenarios.Tuning{}, nil, kernel.Tuning{}},
		{"threaded", scenarios.Tuning{ThreadedNAPI: true}, []string{"--threaded-napi"}, kernel.Tuning{ThreadedNAPI: true}},
		{
			name:   "numa-aware.yaml",
			tuning: scenarios.Tuning{NUMANode: &local, ThreadedNAPI: true, NAPICPUs: scenarios.CPUList("0-1"), Optional: []string{"numa_node"}},
			args:   []string{"--threaded-napi", "--napi-cpus=0-1", "--numa-node=-1", "--optional=numa_node"},
			want:   kernel.Tuning{ThreadedNAPI: true, NAPICPUs: []int{0, 1}, NUMANode: &local, Optional: []string{"numa_node"}},
		},
		{
			name: "every knob",
			tuning: scenarios.Tuning{ThreadedNAPI: true, NAPICPUs: scenarios.CPUList("3,1-2"), NUMANode: &node,
				Steering: true, RPSCPUs: scenarios.CPUList("0-3,8"), UDPGROForwarding: true,
				EncryptCPUs: scenarios.CPUList("0"), DecryptCPUs: scenarios.CPUList("1"), InlineKernel: true,
				Optional: []string{"steering", "inline_kernel"}},
			args: []string{"--threaded-napi", "--napi-cpus=3,1-2", "--numa-node=1", "--rps-cpus=0-3,8", "--udp-gro-forwarding",
				"--steering", "--inline-kernel", "--encrypt-cpus=0", "--decrypt-cpus=1", "--optional=steering", "--optional=inline_kernel"},
			want: kernel.Tuning{ThreadedNAPI: true, NAPICPUs: []int{3, 1, 2}, NUMANode: &node, Steering: true,
				RPSCPUs: []int{0, 1, 2, 3, 8}, UDPGROForwarding: true, EncryptCPUs: []int{0}, DecryptCPUs: []int{1},
				InlineKernel: true, Optional: []string{"steering", "inline_kernel"}},
		},
		{
			name:   "IRQs and serial work",
			tuning: scenarios.Tuning{IRQCPUs: scenarios.CPUList("2-3"), SerialCPUs: scenarios.CPUList("1")},
			args:   []string{"--irq-cpus=2-3", "--serial-cpus=1"},
			want:   kernel.Tuning{IRQCPUs: []int{2, 3}, SerialCPUs: []int{1}},
		},
		{
			name: "symbolic CPU sets",
			tuning: scenarios.Tuning{NUMANode: &local, DecryptCPUs: scenarios.CPUList("nic-node - rx-cores"),
				SerialCPUs: scenarios.CPUList("(nic-node - rx-cores)[0]"), EncryptCPUs: scenarios.CPUList("1")},
			args: []string{"--numa-node=-1", "--encrypt-cpus=1", "--decrypt-cpus=nic-node - rx-cores", "--serial-cpus=(nic-node - rx-cores)[0]"},
			want: kernel.Tuning{NUMANode: &local, EncryptCPUs: []int{1},
				Sets: map[string]string{"decrypt_cpus": "nic-node - rx-cores", "serial_cpus": "(nic-node - rx-cores)[0]"}},
		},
		{
			name:   "alternating NUMA placement on a node's cores",
			tuning: scenarios.Tuning{ThreadedNAPI: true, Placement: "numa-alternate", CPUs: scenarios.CPUList("all - 0")},
			args:   []string{"--threaded-napi", "--placement=numa-alternate", "--placement-cpus=all - 0"},
			want: kernel.Tuning{ThreadedNAPI: true, Placement: kernel.PlacementNUMAAlternate,
				Sets: map[string]string{"placement": "all - 0"}},
		},
		{
			name:   "a placement with UDP GRO",
			tuning: scenarios.Tuning{UDPGROForwarding: true, Placement: "overlap-avoidance", CPUs: scenarios.CPUList("0-1"), Optional: []string{"placement"}},
			args:   []string{"--udp-gro-forwarding", "--placement=overlap-avoidance", "--placement-cpus=0-1", "--optional=placement"},
			want: kernel.Tuning{UDPGROForwarding: true, Placement: kernel.PlacementOverlapAvoidance,
				PlacementCPUs: []int{0, 1}, Optional: []string{"placement"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := KernelArgs(tt.tuning)
			if diff := cmp.Diff(tt.args, args); diff != "" {
				t.Errorf("KernelArgs (-want +got):\n%s", diff)
			}
			var kf KernelFlags
			fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
			kf.Register(fs)
			if err := fs.Parse(args); err != nil {
				t.Fatalf("parse %q: %v", args, err)
			}
			got, err := kf.Tuning()
			if err != nil {
				t.Fatalf("Tuning: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(kernel.Tuning{})); diff != "" {
				t.Errorf("parsed tuning (-want +got):\n%s", diff)
			}
			if kf.IsZero() != (len(args) == 0) {
				t.Errorf("IsZero = %t with args %q", kf.IsZero(), args)
			}
		})
	}
}

func TestKernelFlagsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--threaded-napi", "--napi-cpus", "x"}, `--napi-cpus: "x" is not a CPU set: unknown set "x"`},
		{[]string{"--rps-cpus", "1,1"}, `--rps-cpus: "1,1" is not a CPU list: CPU 1 is listed twice`},
		{[]string{"--threaded-napi", "--numa-node", "-2"}, `--numa-node "-2"`},
		{[]string{"--threaded-napi", "--numa-node", "one"}, `--numa-node "one"`},
		{[]string{"--numa-node", "1024"}, `--numa-node "1024": want a NUMA node number (0..1023)`},
		{[]string{"--napi-cpus", "0"}, "napi_cpus: pinning NAPI threads needs threaded_napi: true"},
		{[]string{"--placement", "overlap-avoidance", "--placement-cpus", "0", "--steering"}, "placement overlap-avoidance sets steering itself"},
		{[]string{"--rps-cpus", "nic-node -rx-cores"}, `--rps-cpus: "nic-node -rx-cores" is not a CPU set: a difference "-" needs white space on both sides at column 10`},
		{[]string{"--napi-cpus", "all"}, "napi_cpus: pinning NAPI threads needs threaded_napi: true"},
		{[]string{"--threaded-napi", "--optional", "pin"}, `optional knob "pin"`},
		{[]string{"--irq-cpus", "a"}, `--irq-cpus: "a" is not a CPU set`},
		{[]string{"--placement", "inline"}, `placement "inline": want one of emulated-inline, overlap-avoidance, numa-alternate`},
		{[]string{"--placement", "emulated-inline"}, "needs the tunnels' cores"},
		{[]string{"--placement-cpus", "0"}, "cpus: on the kernel datapath cpus are the cores of a placement preset"},
	}
	for _, tt := range tests {
		var kf KernelFlags
		fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
		kf.Register(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("parse %q: %v", tt.args, err)
		}
		if _, err := kf.Tuning(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: Tuning error = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestCatalogueKernelSeriesParse checks that every kernel series of the
// scenario catalogue turns into flags the kernel engine accepts.
func TestCatalogueKernelSeriesParse(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	kernelSeries := 0
	for _, f := range files {
		sc, err := scenarios.Load(f, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range sc.Series {
			if s.Datapath != scenarios.Kernel {
				continue
			}
			kernelSeries++
			var kf KernelFlags
			fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
			kf.Register(fs)
			args := KernelArgs(s.Tuning)
			if err := fs.Parse(args); err != nil {
				t.Errorf("%s series %s: parse %q: %v", f, s.Name, args, err)
				continue
			}
			if _, err := kf.Tuning(); err != nil {
				t.Errorf("%s series %s: %q: %v", f, s.Name, args, err)
			}
		}
	}
	if kernelSeries == 0 {
		t.Error("no kernel series in the catalogue")
	}
}

// parseKernelFlags returns the kernel flags args set.
func parseKernelFlags(t *testing.T, args ...string) KernelFlags {
	t.Helper()
	kf, err := ParseKernelFlags(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return kf
}
