package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/testbed"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// errInterrupted marks a command stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// usageError marks bad command-line input.
type usageError struct{ error }

func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := lifeline(ctx)
	defer cancel(nil)
	root := newRoot(os.Stdout, os.Stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "wgbench: %v\n", err)
	var ue usageError
	switch {
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitError
}

// lifeline returns ctx, ended when standard input closes if the SSH
// testbed driver made stdin our lifeline (testbed.LifelineEnv): a process
// on a host whose controller session died then stops as on SIGTERM,
// undoing what it did, instead of running on unattended.
func lifeline(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if os.Getenv(testbed.LifelineEnv) == "" {
		return ctx, cancel
	}
	// Not for the processes we start: their stdin is not ours.
	os.Unsetenv(testbed.LifelineEnv)
	// With the session gone, stdout and stderr are broken pipes: writing a
	// line must fail, not kill us (Go's default on fd 1 and 2) before we
	// have cleaned up.
	signal.Ignore(syscall.SIGPIPE)
	in := os.Stdin
	go func() {
		io.Copy(io.Discard, in)
		cancel(errors.New("standard input closed: the controller's session is gone"))
	}()
	return ctx, cancel
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "wgbench",
		Short: "Benchmark and tune WireGuard site-to-site gateways",
		Long: `wgbench measures how fast a WireGuard gateway pair goes, finds the core
that limits it, and says what to change.

It reads a scenario (YAML), provisions the four-host testbed of the papers
(source → gw1 ⇄ gw2 → drain) as network namespaces on this machine or on
real hosts over SSH, brings the tunnels up on the datapath each series
names, drives iperf3 across them and writes a results folder.`,
		Example: `  # the main job on this machine (needs root)
  sudo wgbench run scenarios/multi-tunnel.yaml

  # check scenarios without touching the machine
  wgbench validate scenarios/*.yaml

  # what this host can run
  sudo wgbench doctor`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log debug details to stderr")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(),
		newValidateCmd(),
		newDoctorCmd(),
		newPlotCmd(),
		newReportCmd(),
		newAnalyzeCmd(),
		newVersionCmd(),
		newTestbedCmd(),
		newDatapathCmd(),
		newAgentCmd(),
		newCompareCmd(),
		newTuneCmd(), newFactsCmd(),
		newBenchCmd(),
	)
	return root
}
