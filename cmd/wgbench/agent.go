package main

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/probes/facts"
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
	check.Flags().StringVar(&engine, "engine", "", "datapath engine: plain, wggo, kernel or inline")
	check.MarkFlagRequired("engine")
	cmd.AddCommand(check)
	var devs []string
	stats := &cobra.Command{
		Use:   "wg-stats",
		Short: "Print the status and counters of WireGuard devices (no keys but public ones)",
		Example: `  sudo wgbench agent wg-stats --dev wg0
  sudo ip netns exec wgb-1a2b-gw1 wgbench agent wg-stats --dev wg1a2b-0 --dev wg1a2b-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(devs) == 0 {
				return usageError{errors.New("name the devices with --dev")}
			}
			st, err := datapath.Status(devs)
			if err != nil {
				return err
			}
			return writeJSON(cmd, st)
		},
	}
	stats.Flags().StringArrayVar(&devs, "dev", nil, "device to read (repeatable)")
	cmd.AddCommand(stats)
	return cmd
}

func writeJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
