package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/internal/procset"
)

// RunEnv is the environment variable holding the run's tag in every
// process the local testbed starts.
const RunEnv = "WGBENCH_RUN"

// host is one namespace of the local testbed.
type host struct {
	tb   *Testbed
	role string
	ns   string
	tmp  string
}

func (h *host) Role() string    { return h.role }
func (h *host) Name() string    { return h.ns }
func (h *host) TempDir() string { return h.tmp }

func (h *host) WriteFile(path string, data []byte, perm os.FileMode) error {
	return os.WriteFile(path, data, perm)
}

func (h *host) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Start runs cmd in the host's namespace through the __nsexec trampoline.
// The process gets its own process group (a terminal's Ctrl-C reaches only
// the controller, which then stops everything in order) and SIGTERM if the
// controller dies.
func (h *host) Start(ctx context.Context, cmd testbed.Cmd) (testbed.Process, error) {
	if len(cmd.Argv) == 0 {
		return nil, fmt.Errorf("%s: empty command", h.role)
	}
	argv := append([]string{}, cmd.Argv...)
	if argv[0] == testbed.Self {
		argv[0] = h.tb.binary
	}
	c := exec.Command(h.tb.binary, append([]string{NSExecArg, filepath.Join(NetnsDir, h.ns), h.tmp}, argv...)...)
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	// Every process of the run carries its tag, so what a crash left
	// behind can be found by it.
	c.Env = append(os.Environ(), RunEnv+"="+h.tb.tag)
	if cmd.Stage != "" {
		c.Env = append(c.Env, "WGBENCH_STAGE="+cmd.Stage)
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p, err := h.tb.procs.Start(func() (*proc, error) {
		if err := spawn(c); err != nil {
			return nil, err
		}
		return &proc{cmd: c, done: make(chan struct{})}, nil
	})
	if errors.Is(err, procset.ErrClosed) {
		return nil, fmt.Errorf("%s: testbed is torn down", h.role)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", h.role, cmd, err)
	}
	go func() {
		p.err = c.Wait()
		h.tb.procs.Remove(p)
		close(p.done)
	}()
	procset.Watch(ctx, p, 5*time.Second, nil)
	return p, nil
}

// proc is a process started by a local host.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has ended.
func (p *proc) Done() <-chan struct{} { return p.done }

func (p *proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

func (p *proc) Wait() error {
	<-p.done
	return p.err
}

// Pdeathsig fires when the thread that forked the child exits, not the
// process: Go discards threads that a goroutine left locked (as namespace
// work does), which would kill children forked from them at random. All
// children are therefore forked from one thread that lives as long as the
// process.
var (
	spawnOnce sync.Once
	spawnReq  chan spawnJob
)

type spawnJob struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(c *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan spawnJob)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread is the parent of every child
			for j := range spawnReq {
				j.done <- j.cmd.Start()
			}
		}()
	})
	j := spawnJob{cmd: c, done: make(chan error, 1)}
	spawnReq <- j
	return <-j.done
}
