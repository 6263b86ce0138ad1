package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/internal/cpuset"
)

func newDatapathCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datapath",
		Short: "Run a WireGuard datapath on this host",
	}
	var (
		opts datapath.Options
		cpus string
	)
	up := &cobra.Command{
		Use:   "up",
		Short: "Bring interfaces up from wg-quick files and serve them until SIGINT/SIGTERM",
		Long: `up brings one interface per --config file up on the chosen engine, in the
current network namespace, the way wg-quick would (addresses, MTU, a route per
AllowedIPs prefix unless Table = off), prints "ready <devices>" and serves
until interrupted; then it undoes everything it did. The interface is named
after the file (wg0.conf → wg0). wg show and wgctrl can read it.

The kernel engine makes the interfaces in the kernel's WireGuard module and
takes tuning flags (--threaded-napi, --napi-cpus, …); before the ready line
it prints one line "tuning <JSON>": every setting it changed (knob, path,
before, after) and the optional knobs it skipped. It restores them all on
exit.

The plain engine carries no tunnel: it adds --route DST=VIA routes and serves
as the no-tunnel baseline.

The openvpn engine is a baseline tunnel, not WireGuard: each --config is a
tunnel file (JSON, written by the runner's plan) and it starts one openvpn
process per tunnel, its keys in a private folder beside the file, removed on
exit.`,
		Example: `  # one wireguard-go interface from a standard file
  sudo wgbench datapath up --engine wggo --config wg0.conf

  # several at once
  sudo wgbench datapath up --engine wggo --config wg0.conf --config wg1.conf

  # kernel WireGuard with threaded NAPI, the NAPI threads pinned to CPUs 0-3
  sudo wgbench datapath up --engine kernel --config wg0.conf --config wg1.conf \
    --threaded-napi --napi-cpus 0-3

  # the inline engine in hybrid mode on cores 0-3
  sudo wgbench datapath up --engine inline --config wg0.conf --cpus 0-3 --mode hybrid

  # the routed baseline, no tunnel
  sudo wgbench datapath up --engine plain --route 198.19.1.0/24=198.18.255.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Engine == "" {
				return usageError{errors.New("choose an engine with --engine (plain, wggo, kernel, inline, openvpn, ipsec)")}
			}
			if cpus != "" {
				list, err := cpuset.Parse(cpus)
				if err != nil {
					return usageError{fmt.Errorf("--cpus: %w", err)}
				}
				opts.CPUs = list
			}
			// Over SSH a broken session must not kill the datapath before
			// it undoes its changes: a write to it fails instead.
			signal.Ignore(syscall.SIGPIPE)
			raiseFileLimit()
			return datapath.Serve(cmd.Context(), opts, cmd.OutOrStdout(), slog.Default())
		},
	}
	up.Flags().StringVar(&opts.Engine, "engine", "wggo", "datapath engine: plain, wggo, kernel, inline, openvpn or ipsec")
	up.Flags().StringArrayVar(&opts.Configs, "config", nil, "wg-quick style file, or an openvpn/ipsec tunnel file (repeatable)")
	up.Flags().StringArrayVar(&opts.Routes, "route", nil, "plain engine: route DST=VIA (repeatable)")
	opts.Kernel.Register(up.Flags())
	up.Flags().StringVar(&opts.InlineMode, "mode", "", "inline engine: inline (the default) or hybrid, where a saturated tunnel borrows idle cores of --cpus")
	up.Flags().StringVar(&cpus, "cpus", "", "cores to use, e.g. 0-3,8: inline pins one tunnel per core round-robin, wggo pins the process")
	cmd.AddCommand(up)
	return cmd
}

// raiseFileLimit lifts the open-file limit: each wireguard-go device holds
// about fifteen descriptors, so a hundred tunnels outgrow the usual 1024.
// As root the hard limit may be raised too; otherwise the soft one goes up
// to the hard one.
func raiseFileLimit() {
	want := unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if unix.Setrlimit(unix.RLIMIT_NOFILE, &want) == nil {
		return
	}
	var cur unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &cur) == nil && cur.Cur < cur.Max {
		cur.Cur = cur.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &cur)
	}
}
