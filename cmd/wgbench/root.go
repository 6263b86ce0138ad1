package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
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
	// First of all: a process the SSH driver confined to the inventory's
	// cores re-executes itself on them (it does not return then).
	if err := confineToCPUs(); err != nil {
		fmt.Fprintf(os.Stderr, "wgbench: %v\n", err)
		return exitError
	}
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
	var status exitStatus
	if errors.As(err, &status) {
		return int(status) // agent exec: the child's status, said by the child
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

// exitStatus is an error that only sets wgbench's exit status: nothing
// is printed (agent exec exits as its child did).
type exitStatus int

func (s exitStatus) Error() string { return "exit status " + strconv.Itoa(int(s)) }

// errLifeline is the cause of a context that lifeline ended.
var errLifeline = errors.New("standard input closed: the controller's session is gone")

// lifelineKey marks a context whose process has a lifeline.
type lifelineKey struct{}

// hasLifeline says whether ctx comes from a process whose standard input
// is its lifeline (so not input for a command it runs).
func hasLifeline(ctx context.Context) bool { return ctx.Value(lifelineKey{}) != nil }

// lifeline returns ctx, ended when standard input closes if the SSH
// testbed driver made stdin our lifeline (testbed.LifelineEnv): a process
// on a host whose controller session died then stops as on SIGTERM,
// undoing what it did, instead of running on unattended. The cause is
// errLifeline.
func lifeline(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if os.Getenv(testbed.LifelineEnv) == "" {
		return ctx, cancel
	}
	ctx = context.WithValue(ctx, lifelineKey{}, true)
	// Not for the processes we start: their stdin is not ours.
	os.Unsetenv(testbed.LifelineEnv)
	// With the session gone, stdout and stderr are broken pipes: writing a
	// line must fail, not kill us (Go's default on fd 1 and 2) before we
	// have cleaned up.
	signal.Ignore(syscall.SIGPIPE)
	in := os.Stdin
	go func() {
		io.Copy(io.Discard, in)
		cancel(errLifeline)
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
