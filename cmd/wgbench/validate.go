package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/scenarios"
)

func newValidateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate SCENARIO...",
		Short: "Check scenario files without touching the machine",
		Long: `validate parses each scenario strictly — unknown keys, wrong types,
out-of-range values and knobs a datapath does not have are errors with
file:line:col — and prints what it would run.`,
		Example: `  wgbench validate scenarios/*.yaml
  wgbench validate scenarios/multi-tunnel.yaml --set 'sweep.tunnels=[1,2,4,8]'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("name at least one scenario file, e.g. wgbench validate scenarios/*.yaml")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				sc, err := scenarios.Load(path, sets)
				if err != nil {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok %s: %s\n", path, planLine(sc))
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d scenario files are invalid", bad, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a scenario value, e.g. --set traffic.duration=30s (repeatable)")
	return cmd
}
