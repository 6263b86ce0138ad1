package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/probes/latency"
)

// newEchoCmd is the drain's UDP echo for the latency probe.
func newEchoCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "echo",
		Short: "Echo UDP datagrams back to their sender until SIGINT/SIGTERM (the latency probe's far end)",
		Long: `echo listens on a UDP address and sends every datagram back to where it came
from, so "wgbench agent probe" on another host can time round trips through
the tunnels. It prints "echo listening on ADDR" once it listens.`,
		Example: "  sudo ip netns exec wgb-1a2b-drain wgbench agent echo --listen 198.19.1.1:5199",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ap, err := netip.ParseAddrPort(listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen %q: want ADDRESS:PORT, e.g. 198.19.1.1:5199", listen)}
			}
			conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
			if err != nil {
				return fmt.Errorf("echo: %w", err)
			}
			defer conn.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "echo listening on %s\n", conn.LocalAddr())
			return latency.Serve(cmd.Context(), conn)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "UDP address and port to echo on")
	cmd.MarkFlagRequired("listen")
	return cmd
}

// newProbeCmd is the source's latency probe.
func newProbeCmd() *cobra.Command {
	var (
		to, bind, kind string
		rate           float64
		duration       time.Duration
		timeout        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Time round trips to an echo (udp) or with ping (icmp) and print them as JSON",
		Long: `probe sends --rate probes per second for --duration and prints every answered
probe's round-trip time in milliseconds with the counts sent and received.
The udp probe times its own datagrams, echoed by "wgbench agent echo", on
the monotonic clock; the icmp probe runs ping.`,
		Example: "  sudo ip netns exec wgb-1a2b-source wgbench agent probe --to 198.19.1.1:5199 --bind 198.18.1.1 --rate 50 --duration 5s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ap, err := netip.ParseAddrPort(to)
			if err != nil {
				return usageError{fmt.Errorf("--to %q: want ADDRESS:PORT, e.g. 198.19.1.1:5199", to)}
			}
			o := latency.Options{Target: ap, Rate: rate, Duration: duration, Timeout: timeout}
			if bind != "" {
				if o.Bind, err = netip.ParseAddr(bind); err != nil {
					return usageError{fmt.Errorf("--bind %q: not an IP address", bind)}
				}
			}
			if !(rate > 0) || duration <= 0 {
				return usageError{errors.New("--rate and --duration must be above 0")}
			}
			var rep latency.Report
			switch kind {
			case "udp":
				rep, err = latency.Probe(cmd.Context(), o)
			case "icmp":
				rep, err = ping(cmd, o)
			default:
				return usageError{fmt.Errorf("--kind %q: want udp or icmp", kind)}
			}
			if err != nil {
				return err
			}
			return writeJSON(cmd, rep)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "echo address and port (icmp: only the address counts)")
	cmd.Flags().StringVar(&bind, "bind", "", "local address to send from")
	cmd.Flags().StringVar(&kind, "kind", "udp", "udp (wgbench's echo) or icmp (ping)")
	cmd.Flags().Float64Var(&rate, "rate", 50, "probes per second")
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Second, "how long to send probes")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Second, "how long an echo may take before its probe counts as lost")
	cmd.MarkFlagRequired("to")
	return cmd
}
