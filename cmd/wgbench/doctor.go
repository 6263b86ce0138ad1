package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/kernel"
	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/testbed/local"
)

// check is one line of the doctor's report.
type check struct {
	ok     bool
	fact   string
	advice string
}

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Report what this host supports: testbed, datapaths, tools",
		Long: `doctor checks what wgbench needs on this host and prints one line per
check: "OK  <fact>" or "Warning: <fact> >>> <advice>". It changes nothing:
kernel features are probed inside a throw-away network namespace.`,
		Example: "  sudo wgbench doctor",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := doctorChecks(cmd.Context())
			warnings := printChecks(cmd.OutOrStdout(), checks)
			if warnings > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "\n%d warning(s); series whose datapath cannot run here are skipped by `wgbench run` with the reason.\n", warnings)
			}
			return nil
		},
	}
}

func printChecks(w io.Writer, checks []check) (warnings int) {
	for _, c := range checks {
		if c.ok {
			fmt.Fprintf(w, "OK       %s\n", c.fact)
			continue
		}
		warnings++
		fmt.Fprintf(w, "Warning: %s >>> %s\n", c.fact, c.advice)
	}
	return warnings
}

func doctorChecks(ctx context.Context) []check {
	var cs []check
	root := os.Geteuid() == 0
	if root {
		cs = append(cs, check{ok: true, fact: "running as root"})
	} else {
		cs = append(cs, check{fact: "not running as root", advice: "run wgbench with sudo: the local testbed creates network namespaces"})
	}
	f := facts.Collect(ctx)
	cs = append(cs, check{ok: true, fact: fmt.Sprintf("kernel %s, %d cores, %d NUMA node(s), %s", f.Kernel, f.Cores, f.NUMANodes, f.CPUModel)})
	if f.Cores < 4 {
		cs = append(cs, check{fact: fmt.Sprintf("only %d cores: the four local hosts share them", f.Cores),
			advice: "compare series measured in one run, not absolute numbers; use real machines (SSH testbed) for figures"})
	}
	if f.Iperf3 != "" {
		cs = append(cs, check{ok: true, fact: "iperf3 " + f.Iperf3})
	} else {
		cs = append(cs, check{fact: "iperf3 not found", advice: "apt-get install iperf3"})
	}
	if _, err := exec.LookPath("ping"); err != nil {
		cs = append(cs, check{fact: "ping not found (used by tests)", advice: "apt-get install iputils-ping"})
	}
	if !root {
		return cs
	}
	nsErr := local.InScratchNamespace(func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "wgbprobe0"
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "wgbprobe1"})
	})
	if nsErr == nil {
		cs = append(cs, check{ok: true, fact: "network namespaces and veth pairs work (local testbed)"})
	} else {
		cs = append(cs, check{fact: "cannot create namespaces with veth: " + nsErr.Error(), advice: "the local testbed needs CONFIG_NET_NS and CONFIG_VETH; use the SSH testbed"})
	}
	kernelOK := false
	for _, engine := range []string{"wggo", "kernel", "inline", "openvpn", "ipsec"} {
		var res datapath.CheckResult
		local.InScratchNamespace(func() error { res = datapath.Check(engine); return nil })
		if res.OK {
			cs = append(cs, check{ok: true, fact: "datapath " + engine + " can run"})
			kernelOK = kernelOK || engine == "kernel"
		} else {
			cs = append(cs, check{fact: "datapath " + engine + " cannot run: " + res.Reason, advice: "series using it are skipped"})
		}
	}
	cs = append(cs, kernelChecks(kernelOK)...)
	if left, err := local.Clean(false, true); err == nil {
		var dead []string
		for _, lo := range left {
			if !lo.Live {
				dead = append(dead, lo.Tag)
			}
		}
		if len(dead) > 0 {
			cs = append(cs, check{fact: "leftovers of crashed runs: " + strings.Join(dead, ", "), advice: "sudo wgbench testbed clean"})
		} else {
			cs = append(cs, check{ok: true, fact: "no leftovers of earlier runs"})
		}
	}
	return cs
}

// kernelChecks reports what the kernel datapath's knobs can use here
// (datapath/kernel.Doctor) and, when the kernel has WireGuard, whether
// its module is the patched "inline" one.
func kernelChecks(haveWireGuard bool) []check {
	var cs []check
	for _, f := range kernel.Doctor(kernel.LocalTree()) {
		cs = append(cs, check{ok: f.OK, fact: f.Fact, advice: f.Advice})
	}
	if !haveWireGuard {
		return cs
	}
	var attrs []string
	err := local.InScratchNamespace(func() error {
		var err error
		attrs, err = kernel.PatchedAttributes()
		return err
	})
	switch {
	case err != nil:
		cs = append(cs, check{fact: "cannot probe for the patched inline module: " + err.Error(), advice: "inline_kernel, encrypt_cpus and decrypt_cpus may fail"})
	case len(attrs) == 0:
		cs = append(cs, check{fact: "stock WireGuard module (no inline_en, encrypt_cpumask, decrypt_cpumask, peer_<N>/serial_work_cpu)",
			advice: "inline_kernel, encrypt_cpus and decrypt_cpus fail here; load the patched inline module (HPSR 2025) for them"})
	default:
		cs = append(cs, check{ok: true, fact: "patched inline WireGuard module: " + strings.Join(attrs, ", ")})
	}
	return cs
}
