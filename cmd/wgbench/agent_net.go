package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/testbed/netsetup"
)

// newNetSetupCmd is the on-host verb of the SSH testbed: it puts the
// testbed's addressing on a real host's data-plane interfaces and holds it
// until told to stop.
func newNetSetupCmd() *cobra.Command {
	var (
		c           netsetup.Config
		ignoreStdin bool
		runDir      string
	)
	cmd := &cobra.Command{
		Use:   "net-setup",
		Short: "Put the testbed's addresses and routes on this host until stopped",
		Long: `net-setup applies the testbed's addressing plan for one role to this host's
data-plane interfaces: the link addresses (198.18.0.0/15), the per-flow
addresses on source and drain, the routes between the sites and IPv4
forwarding on the gateways. It prints "ready <n> changes" and holds them
until SIGTERM, SIGINT or SIGHUP, or until its standard input closes (so a
lost SSH session cleans up), then undoes every change in reverse order
and removes the --run-dir directory. What was already in place is left
alone.

Interfaces are named by name, MAC address or an IPv4 address they hold.
The SSH testbed driver runs this on each host; run it by hand to try an
inventory's interfaces.`,
		Example: `  sudo wgbench agent net-setup --role gw1 --tunnels 32 --flows 1 --lan enp65s0f0np0 --wan enp65s0f1np1
  sudo wgbench agent net-setup --role source --tunnels 1 --flows 31 --lan 1c:34:da:5a:1b:20 < /dev/tty`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.Validate(); err != nil {
				return usageError{err}
			}
			if runDir != "" && (!filepath.IsAbs(runDir) || filepath.Clean(runDir) == "/") {
				return usageError{fmt.Errorf("--run-dir %q: give the run's own directory as an absolute path", runDir)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGHUP)
			defer stop()
			// When the controller's session dies, our stdout and stderr
			// are broken pipes: a log line must not kill us (Go's default
			// for SIGPIPE on fd 1 and 2) before the changes are undone.
			signal.Ignore(syscall.SIGPIPE)
			var watch io.Reader
			if !ignoreStdin {
				watch = cmd.InOrStdin()
			}
			err := netsetup.Serve(ctx, c, watch, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if runDir != "" {
				// Last of the run on this host: its directory goes too,
				// also when the controller is gone and cannot remove it.
				if rerr := os.RemoveAll(runDir); rerr != nil {
					err = errors.Join(err, fmt.Errorf("remove the run directory: %w", rerr))
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Role, "role", "", "this host's role: source, gw1, gw2 or drain")
	f.IntVar(&c.Tunnels, "tunnels", 1, "largest tunnel count of the run (sizes the flow addresses)")
	f.IntVar(&c.FlowsPerTunnel, "flows", 1, "largest flows-per-tunnel count of the run")
	f.StringVar(&c.LAN, "lan", "", "interface towards the host's site: name, MAC or IPv4 address")
	f.StringVar(&c.WAN, "wan", "", "gateways: interface towards the other gateway")
	f.IntVar(&c.MTU, "mtu", 0, "MTU of the data-plane interfaces (0 leaves it)")
	f.BoolVar(&ignoreStdin, "ignore-stdin", false, "do not stop when standard input closes")
	f.StringVar(&runDir, "run-dir", "", "the run's directory on this host, removed when stopping (absolute path)")
	return cmd
}
