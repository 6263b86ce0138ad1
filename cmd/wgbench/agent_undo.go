package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/datapath/ipsec"
	"github.com/wgbench/wgbench/datapath/kernel"
)

// newUndoCmd is `wgbench agent undo`: it puts a host back from the
// journal of a kernel datapath that died without cleaning up.
func newUndoCmd() *cobra.Command {
	var (
		journal  string
		ifExists bool
	)
	cmd := &cobra.Command{
		Use:   "undo",
		Short: "Put the host back from a killed kernel or ipsec datapath's journal (links, knobs, ntuple rules, ESP SAs and policies)",
		Long: `undo reads the journal a kernel datapath keeps (wgbench datapath up --engine
kernel --journal PATH) and reverses what it records, newest first: knobs back
to their values before, ntuple rules deleted, the WireGuard links it made
deleted. A datapath stopped normally (SIGTERM, Ctrl-C) does this itself and
removes its journal; undo is for one that was killed (SIGKILL, the OOM
killer). It refuses while the datapath that wrote the journal still runs.
The ipsec datapath's journal (--engine ipsec --journal PATH) lists its ESP
SAs, policies and routes; undo deletes them.
It prints one line per action; the runner calls it after every kernel
datapath it stops.`,
		Example: `  sudo wgbench agent undo --journal /tmp/wgbench-gw1/datapath-kernel.journal
  sudo ip netns exec wgb-1a2b-gw2 wgbench agent undo --journal J --if-exists`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			undoJournal := func() ([]string, error) { return kernel.UndoJournal(journal, kernel.LocalHost()) }
			if ipsec.IsJournal(journal) {
				undoJournal = func() ([]string, error) { return ipsec.UndoJournal(journal) }
			}
			done, err := undoJournal()
			if errors.Is(err, fs.ErrNotExist) && len(done) == 0 && ifExists {
				return nil
			}
			for _, l := range done {
				fmt.Fprintln(cmd.OutOrStdout(), "undone:", l)
			}
			if errors.Is(err, fs.ErrNotExist) && len(done) == 0 {
				return fmt.Errorf("no journal at %s: nothing to undo (a datapath that stops normally removes its journal); check the path", journal)
			}
			if err != nil {
				return fmt.Errorf("undo %s: %w", journal, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&journal, "journal", "", "the journal file the kernel datapath kept")
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed quietly when there is no journal (the datapath cleaned up)")
	cmd.MarkFlagRequired("journal")
	return cmd
}
