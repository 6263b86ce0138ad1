package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/probes/stage"
)

// newAgentCmd holds the on-host verbs: the controller runs them on each
// host of the testbed (inside its namespace locally, over SSH remotely)
// and reads their JSON.
func newAgentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "On-host verbs the controller runs on testbed hosts (JSON output)",
		Long: `agent groups the verbs wgbench runs on the hosts of a testbed. They print
JSON on standard output for the controller; they are safe to run by hand to
see what the controller sees.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "facts",
		Short:   "Print this host's facts: kernel, CPU, cores, NUMA nodes, tools",
		Example: "  wgbench agent facts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeJSON(cmd, facts.Collect(cmd.Context()))
		},
	})
	var engine string
	check := &cobra.Command{
		Use:     "check",
		Short:   "Say whether a datapath engine can run on this host",
		Example: "  sudo wgbench agent check --engine kernel",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeJSON(cmd, datapath.Check(engine))
		},
	}
	check.Flags().StringVar(&engine, "engine", "", "datapath engine: plain, wggo, kernel, inline, openvpn or ipsec")
	check.MarkFlagRequired("engine")
	cmd.AddCommand(check)
	var (
		devs        []string
		statsEngine string
	)
	stats := &cobra.Command{
		Use:   "wg-stats",
		Short: "Print the status and counters of WireGuard devices, or of another engine's tunnels (no keys but public ones)",
		Example: `  sudo wgbench agent wg-stats --dev wg0
  sudo ip netns exec wgb-1a2b-gw1 wgbench agent wg-stats --dev wg1a2b-0 --dev wg1a2b-1
  sudo ip netns exec wgb-1a2b-gw1 wgbench agent wg-stats --engine openvpn --dev wg1a2b-0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(devs) == 0 {
				return usageError{errors.New("name the devices with --dev")}
			}
			st, err := datapath.StatusOf(statsEngine, devs)
			if err != nil {
				return err
			}
			return writeJSON(cmd, st)
		},
	}
	stats.Flags().StringArrayVar(&devs, "dev", nil, "device to read (repeatable)")
	stats.Flags().StringVar(&statsEngine, "engine", "", "engine whose tunnels to read: openvpn or ipsec, or inline (WireGuard devices with their mode changes); default: WireGuard devices")
	cmd.AddCommand(stats)
	cmd.AddCommand(newSampleCmd())
	cmd.AddCommand(newNetSetupCmd())
	cmd.AddCommand(newUndoCmd())
	cmd.AddCommand(newExecCmd())
	cmd.AddCommand(newEchoCmd(), newProbeCmd())
	return cmd
}

func newSampleCmd() *cobra.Command {
	var (
		host     string
		interval time.Duration
		out      string
		shared   bool
		all      bool
		devs     []string
	)
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Sample per-core and per-thread CPU until SIGINT/SIGTERM (JSON lines)",
		Long: `sample writes one JSON line per interval: every core's user, system,
softirq, irq, iowait, steal and idle share, NET_RX/NET_TX softirqs, and the
CPU of each thread of this network namespace (plus the kernel's ksoftirqd,
napi and wg-crypt threads) with the core it ran on and its stage. wgbench
datapath processes here are attributed to their engine. A trace cut short
by a kill stays readable.`,
		Example: `  sudo wgbench agent sample --host gw1 --out /tmp/gw1.jsonl   # Ctrl-C to stop
  sudo wgbench analyze RUNDIR                                      # what the runner does with them`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			opts := probes.Options{Host: host, AllNamespaces: all, Devices: devs, SharedCores: shared}
			if !all {
				opts.Stages = datapathStages()
			}
			s, err := probes.NewSampler(opts)
			if err != nil {
				return err
			}
			return s.Run(cmd.Context(), interval, w)
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "host name recorded in the trace (gw1, gw2)")
	cmd.Flags().DurationVar(&interval, "interval", probes.DefaultInterval, "time between samples")
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write (default standard output)")
	cmd.Flags().BoolVar(&shared, "shared-cores", false, "record that this host shares the machine's cores with others")
	cmd.Flags().BoolVar(&all, "all", false, "sample every process, not only this network namespace's")
	cmd.Flags().StringArrayVar(&devs, "dev", nil, "keep only these devices' napi/wg-crypt kernel threads (repeatable)")
	return cmd
}

// datapathStages finds the wgbench datapath processes on this host and
// names their stage after their engine.
func datapathStages() map[int]stage.Stage {
	m := map[int]stage.Stage{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) < 3 || !slices.Contains(args, "datapath") || !slices.Contains(args, "up") {
			continue
		}
		engine := "wggo"
		if i := slices.Index(args, "--engine"); i >= 0 && i+1 < len(args) {
			engine = args[i+1]
		}
		switch engine {
		case "wggo":
			m[pid] = stage.WGGo
		case "inline":
			m[pid] = stage.Inline
		}
	}
	return m
}

func writeJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
