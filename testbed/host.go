// Package testbed is the four-host testbed of the papers (source → gw1 ⇄
// gw2 → drain): the Host abstraction every later stage acts through, and the
// addressing plan shared by every driver. Drivers live in sub-packages:
// local (network namespaces on this machine) and ssh (four real machines
// of an inventory file, reached over SSH; testbed/cloudlab writes that
// inventory for a CloudLab experiment, and testbed/netsetup addresses
// each machine).
//
// It knows nothing of datapaths or iperf3: it runs commands, starts
// processes and moves files on hosts.
package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wgbench/wgbench/testbed/internal/procset"
)

// The four roles of the testbed.
const (
	Source = "source"
	GW1    = "gw1"
	GW2    = "gw2"
	Drain  = "drain"
)

// Roles lists the roles in the order traffic crosses them.
var Roles = []string{Source, GW1, GW2, Drain}

// ErrHostLost marks a host that went away while the testbed was up: its
// machine, its sshd or the network to it. Drivers wrap it in errors that
// name the host; a run stopped by such an error (as the cause of its
// context's cancellation) failed, it was not interrupted.
var ErrHostLost = errors.New("host lost")

// LifelineEnv, set to 1 in a wgbench process's environment, tells it that
// its standard input is a lifeline: the driver holds it open for as long
// as the process should live, so when it closes (the controller's SSH
// session died) the process stops as on SIGTERM, undoing what it did.
const LifelineEnv = "WGBENCH_LIFELINE"

// CPUsEnv, set to a CPU list ("0-3,8") in a wgbench process's
// environment, confines it to those CPUs before it does anything else:
// the process and everything it starts run there (the SSH driver sets it
// from the inventory's per-host cores). wgbench does not pass the
// variable on; the affinity itself is inherited.
const CPUsEnv = "WGBENCH_CPUS"

// Self is the argv[0] that names the wgbench binary on the host a command
// runs on: a Host replaces it with the path of wgbench there.
const Self = "wgbench"

// Cmd is a command to run on a host.
type Cmd struct {
	// Argv is the program and its arguments; Argv[0] == Self runs wgbench.
	Argv []string
	// Stdin, Stdout and Stderr are connected when not nil.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Stage names the process for CPU attribution (wgbench processes pass
	// it on as the WGBENCH_STAGE environment variable).
	Stage string
}

// String renders the command line for messages.
func (c Cmd) String() string { return strings.Join(c.Argv, " ") }

// Process is a command started on a host.
type Process interface {
	// Pid is the process id on its host.
	Pid() int
	// Signal delivers sig to the process.
	Signal(sig os.Signal) error
	// Wait waits for the process to exit and releases its resources.
	Wait() error
}

// Host is one machine of the testbed: a network namespace locally, a real
// machine over SSH remotely. Its methods are safe for concurrent use.
type Host interface {
	// Role is source, gw1, gw2 or drain.
	Role() string
	// Name says where the host is (namespace name or SSH address), for
	// messages.
	Name() string
	// Start starts cmd on the host. The process is stopped when ctx ends.
	Start(ctx context.Context, cmd Cmd) (Process, error)
	// WriteFile writes a file on the host.
	WriteFile(path string, data []byte, perm os.FileMode) error
	// ReadFile reads a file on the host.
	ReadFile(path string) ([]byte, error)
	// TempDir is a private directory on the host for this run's files
	// (configs, logs); it is removed at teardown.
	TempDir() string
}

// Run runs argv on h to completion and returns its standard output. A
// failure names the host and the command and carries the standard error.
func Run(ctx context.Context, h Host, argv ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := Cmd{Argv: argv, Stdout: &stdout, Stderr: &stderr}
	p, err := h.Start(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s: %s: %w: %s", h.Role(), cmd, err, procset.LastLines(msg, 5))
		}
		return stdout.Bytes(), fmt.Errorf("%s: %s: %w", h.Role(), cmd, err)
	}
	return stdout.Bytes(), nil
}
