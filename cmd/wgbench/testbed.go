package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/testbed/local"
)

func newTestbedCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testbed",
		Short: "Manage testbeds",
	}
	var force, dryRun bool
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove what crashed runs left behind on the local testbed",
		Long: `clean removes the network namespaces (wgb-<tag>-<role>), the processes
inside them, stale WireGuard control sockets and state directories of local
runs whose wgbench process is gone. Physical WAN ports such a run took
(testbed.wan) are given back first, as the run journaled them. Runs still in progress are left alone
unless --force is given.`,
		Example: `  sudo wgbench testbed clean
  sudo wgbench testbed clean --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			left, err := local.Clean(force, dryRun)
			out := cmd.OutOrStdout()
			if len(left) == 0 && err == nil {
				fmt.Fprintln(out, "nothing to clean")
			}
			for _, lo := range left {
				switch {
				case lo.Live && !force:
					fmt.Fprintf(out, "run %s: in use by pid %d, left alone (use --force to remove)\n", lo.Tag, lo.Owner)
				case lo.Kept != "":
					fmt.Fprintf(out, "run %s: kept namespaces %v: its WAN ports could not be given back\n", lo.Tag, lo.Namespaces)
				case dryRun:
					fmt.Fprintf(out, "run %s: would remove namespaces %v\n", lo.Tag, lo.Namespaces)
				default:
					fmt.Fprintf(out, "run %s: removed namespaces %v, stopped %d processes\n", lo.Tag, lo.Namespaces, len(lo.Killed))
				}
				if len(lo.Ports) > 0 {
					fmt.Fprintf(out, "run %s: gave WAN ports %v back with their names, addresses, MTU and state\n", lo.Tag, lo.Ports)
				}
			}
			return err
		},
	}
	clean.Flags().BoolVar(&force, "force", false, "also remove runs whose wgbench process is still alive")
	clean.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be removed")
	cmd.AddCommand(clean)
	cmd.AddCommand(newTestbedCheckCmd(), newImportCloudLabCmd())
	return cmd
}
