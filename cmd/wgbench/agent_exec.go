package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// passedOn are the signals agent exec hands to its child.
var passedOn = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// newExecCmd is `wgbench agent exec`: the SSH testbed driver runs every
// command that is not wgbench itself (iperf3, sh, …) under it, so that
// such commands get wgbench's lifeline and CPU confinement too.
func newExecCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "exec [--grace DURATION] -- COMMAND [ARG]...",
		Short: "Run a command as wgbench's child: status, output and signals pass through",
		Long: `exec runs COMMAND as its child and exits as the child did: the same exit
status, or killed by the same signal (TERM, INT, HUP, KILL; other signals
as 128+n). Standard input, output and error are the child's own. The
signals TERM, INT, HUP, QUIT, USR1 and USR2 are passed on, and if exec is
killed the child is killed too. Unless standard input is a terminal, the
child leads a process group of its own, and what is left of the group when
the child ends is killed.

The SSH testbed driver starts every command that is not wgbench this way.
With WGBENCH_LIFELINE=1 standard input is exec's lifeline: when it closes
(the controller's session died) the child's process group gets SIGTERM, and
SIGKILL after --grace; the child's standard input is then /dev/null. With
WGBENCH_CPUS set, exec and the child run on those CPUs only.`,
		Example: `  WGBENCH_LIFELINE=1 WGBENCH_CPUS=0-3 wgbench agent exec -- iperf3 -s -p 5201`,
		Hidden:  true,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return supervise(cmd.Context(), args, grace)
		},
	}
	// Everything from COMMAND on is the command's.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().DurationVar(&grace, "grace", 5*time.Second, "after the lifeline ends, how long the child has between SIGTERM and SIGKILL")
	return cmd
}

// supervise runs argv as a child until it ends and returns its status as
// an exitStatus (or ends this process with the child's signal).
func supervise(ctx context.Context, argv []string, grace time.Duration) error {
	path, err := exec.LookPath(argv[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil
	}
	if err != nil {
		// As a shell says it: 127 for a missing command, 126 for one
		// that cannot run.
		fmt.Fprintf(os.Stderr, "wgbench agent exec: %s: %v\n", argv[0], unwrapLookPath(err))
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return exitStatus(127)
		}
		return exitStatus(126)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, passedOn...)
	defer signal.Stop(sigs)

	child := exec.Command(path, argv[1:]...)
	child.Args[0] = argv[0]
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	// Killed with us: the kernel sends SIGKILL when the thread that
	// started the child ends, so that thread is kept (locked to this
	// goroutine, which lives until the child has ended).
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	lifeline := hasLifeline(ctx)
	if !lifeline { // else standard input is ours; the child's is /dev/null
		child.Stdin = os.Stdin
	}
	// The child leads a process group of its own, so that what it started
	// (a shell's children, say) ends with it. Not on a terminal, where
	// the group would be in the background.
	group := !isTerminal(os.Stdin)
	child.SysProcAttr.Setpgid = group
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := child.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "wgbench agent exec: %s: %v\n", argv[0], err)
		return exitStatus(126)
	}
	waited := make(chan struct{})
	go func() {
		child.Wait()
		close(waited)
	}()
	stop := func(sig syscall.Signal) {
		if group {
			syscall.Kill(-child.Process.Pid, sig)
		} else {
			child.Process.Signal(sig)
		}
	}
	done := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case sig := <-sigs:
			child.Process.Signal(sig)
		case <-done:
			done = nil
			// A SIGTERM or SIGINT ends ctx too; those are passed on
			// above. Only the lifeline's end stops the child here.
			if lifeline && errors.Is(context.Cause(ctx), errLifeline) {
				stop(syscall.SIGTERM)
				kill = time.After(grace)
			}
		case <-kill:
			stop(syscall.SIGKILL)
		case <-waited:
			if group {
				stop(syscall.SIGKILL) // what the child left running
			}
			return exitAs(child.ProcessState)
		}
	}
}

// isTerminal says whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// unwrapLookPath drops exec.LookPath's repetition of the name.
func unwrapLookPath(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// exitAs ends this process as st says the child ended: killed by the
// same signal where the Go runtime lets a process die of it, else with
// the child's exit status (128+n after another signal).
func exitAs(st *os.ProcessState) error {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return exitStatus(st.ExitCode())
	}
	sig := ws.Signal()
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGKILL:
		// Without a handler, the runtime dies of these.
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
	}
	return exitStatus(128 + int(sig))
}
