package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cryptossh "golang.org/x/crypto/ssh"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/internal/procset"
)

// startTimeout bounds how long a remote command may take to report its
// pid.
const startTimeout = 30 * time.Second

// wrapper runs a command on the host so that it first prints its pid on
// a line of its own and then becomes the command: `sh -c 'echo $$; exec
// "$@"' wgbench-cmd ARGV...`. The pid is what Signal falls back to when
// the server ignores SSH signal requests.
const wrapper = `echo $$; exec "$@"`

// host is one machine of an SSH testbed.
type host struct {
	tb   *Testbed
	spec *HostSpec
	cl   *client
	bin  string // path of wgbench on the host
	tmp  string // this run's directory on the host

	mu      sync.Mutex
	signals int // 0 unknown, 1 the server delivers SSH signals, -1 it does not
}

func (h *host) Role() string    { return h.spec.Role }
func (h *host) Name() string    { return h.spec.Addr }
func (h *host) TempDir() string { return h.tmp }

// Cores are the cores the inventory gives the host; empty means all.
func (h *host) Cores() []int { return append([]int(nil), h.spec.Cores...) }

// commandLine renders argv as the remote shell command, through the pid
// wrapper and, for sudo hosts, `sudo -n`, with env (NAME=value) set.
func (h *host) commandLine(argv, env []string, sudo bool) string {
	var b strings.Builder
	if sudo {
		b.WriteString("sudo -n ")
	}
	b.WriteString("sh -c ")
	b.WriteString(shellQuote(wrapper))
	b.WriteString(" wgbench-cmd")
	if len(env) > 0 {
		b.WriteString(" env")
		for _, e := range env {
			b.WriteByte(' ')
			b.WriteString(shellQuote(e))
		}
	}
	for _, a := range argv {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

// Start runs cmd on the host in a new SSH session. The process is stopped
// (SIGTERM, then SIGKILL after 5 s) when ctx ends.
func (h *host) Start(ctx context.Context, cmd testbed.Cmd) (testbed.Process, error) {
	if h.tb != nil && h.tb.procs.Closed() {
		return nil, fmt.Errorf("%s: testbed is torn down", h.spec.Name())
	}
	return h.start(ctx, cmd, h.spec.Sudo)
}

// launch is the command line that runs cmd on the host, the environment
// it runs in, and whether it gets a lifeline on stdin.
//
// Once wgbench is installed, a command that reads no input (and on a
// host with cores, every command) runs as wgbench or under it
// (`wgbench agent exec`), which gives it
//   - a lifeline for stdin when it reads no input, held open until it
//     ends: if the session dies with the connection, a wgbench verb
//     stops and undoes what it did, and agent exec stops its command
//     (iperf3, say), instead of running on unattended;
//   - the inventory's cores: wgbench confines itself to them before
//     anything else, and what it starts inherits the affinity.
//
// Before the install (the look around, the copy) commands run bare.
func (h *host) launch(cmd testbed.Cmd) (argv, env []string, lifeline bool, err error) {
	if len(cmd.Argv) == 0 {
		return nil, nil, false, fmt.Errorf("%s: empty command", h.spec.Name())
	}
	argv = append([]string{}, cmd.Argv...)
	if cmd.Stage != "" {
		env = append(env, "WGBENCH_STAGE="+cmd.Stage)
	}
	switch {
	case argv[0] == testbed.Self:
		if h.bin == "" {
			return nil, nil, false, fmt.Errorf("%s: wgbench is not installed on the host yet", h.spec.Name())
		}
		argv[0] = h.bin
		lifeline = cmd.Stdin == nil
	case h.bin != "" && (cmd.Stdin == nil || len(h.spec.Cores) > 0):
		argv = append([]string{h.bin, "agent", "exec", "--"}, argv...)
		lifeline = cmd.Stdin == nil
	}
	if lifeline {
		env = append(env, testbed.LifelineEnv+"=1")
	}
	if h.bin != "" && argv[0] == h.bin && len(h.spec.Cores) > 0 {
		env = append(env, testbed.CPUsEnv+"="+cpuset.Set(h.spec.Cores).String())
	}
	return argv, env, lifeline, nil
}

// start runs cmd on the host in a session of its own, through sudo when
// sudo is set, and returns once the command has a pid (or has ended).
func (h *host) start(ctx context.Context, cmd testbed.Cmd, sudo bool) (testbed.Process, error) {
	argv, env, lifeline, err := h.launch(cmd)
	if err != nil {
		return nil, err
	}
	s, release, err := h.cl.session(ctx)
	if err != nil {
		return nil, err
	}
	p := &proc{host: h, sess: s, cmd: cmd, pidc: make(chan struct{}), done: make(chan struct{})}
	p.out = &pidWriter{next: cmd.Stdout, onPid: p.setPid}
	s.Stdout = p.out
	if cmd.Stderr != nil {
		s.Stderr = cmd.Stderr
	}
	if cmd.Stdin != nil {
		s.Stdin = cmd.Stdin
	}
	closeStdin := func() {}
	if lifeline {
		w, err := s.StdinPipe()
		if err != nil {
			s.Close()
			release()
			return nil, fmt.Errorf("%s: start %s: %w", h.spec.Name(), cmd, err)
		}
		closeStdin = func() { w.Close() }
	}
	line := h.commandLine(argv, env, sudo)
	if err := s.Start(line); err != nil {
		closeStdin()
		s.Close()
		release()
		if lost := h.cl.Lost(); lost != nil {
			return nil, lost
		}
		return nil, fmt.Errorf("%s: start %s: %w", h.spec.Name(), cmd, err)
	}
	if h.tb != nil {
		h.tb.procs.Add(p)
	}
	go func() {
		p.err = s.Wait()
		closeStdin()
		s.Close()
		release()
		p.out.flush()
		if h.tb != nil {
			h.tb.procs.Remove(p)
		}
		close(p.done)
	}()
	procset.Watch(ctx, p, 5*time.Second, func() { s.Close() })
	select {
	case <-p.pidc:
	case <-p.done: // failed before it ran (sudo refused, say): Wait says why
	case <-time.After(startTimeout):
		s.Close()
		return nil, fmt.Errorf("%s: start %s: no pid after %s", h.spec.Name(), cmd, startTimeout)
	}
	return p, nil
}

// proc is a command running on an SSH host.
type proc struct {
	host *host
	sess *cryptossh.Session
	cmd  testbed.Cmd
	out  *pidWriter

	pidMu sync.Mutex
	pid   int
	pidc  chan struct{}

	done chan struct{}
	err  error
}

// Done is closed once the command has ended.
func (p *proc) Done() <-chan struct{} { return p.done }

func (p *proc) setPid(pid int) {
	p.pidMu.Lock()
	p.pid = pid
	p.pidMu.Unlock()
	close(p.pidc)
}

// Pid is the process id on the host; 0 if the command never started.
func (p *proc) Pid() int {
	p.pidMu.Lock()
	defer p.pidMu.Unlock()
	return p.pid
}

// signalNames maps the signals a Process may get to their SSH names.
var signalNames = map[syscall.Signal]cryptossh.Signal{
	syscall.SIGTERM: cryptossh.SIGTERM, syscall.SIGKILL: cryptossh.SIGKILL, syscall.SIGINT: cryptossh.SIGINT,
	syscall.SIGHUP: cryptossh.SIGHUP, syscall.SIGQUIT: cryptossh.SIGQUIT, syscall.SIGUSR1: cryptossh.SIGUSR1,
	syscall.SIGUSR2: cryptossh.SIGUSR2,
}

// Signal delivers sig through the session when the server supports SSH
// signal requests, else with `kill` on the host.
func (p *proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	ss, ok := sig.(syscall.Signal)
	name, known := signalNames[ss]
	if !ok || !known {
		return fmt.Errorf("%s: signal %v cannot be sent over SSH", p.host.spec.Name(), sig)
	}
	if p.host.signalMode() > 0 {
		if err := p.sess.Signal(name); err != nil {
			return fmt.Errorf("%s: signal %s to %s: %w", p.host.spec.Name(), name, p.cmd, err)
		}
		return nil
	}
	pid := p.Pid()
	if pid <= 0 {
		return fmt.Errorf("%s: signal %s to %s: its pid is unknown", p.host.spec.Name(), name, p.cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	kp, err := p.host.start(ctx, testbed.Cmd{Argv: []string{"kill", "-s", string(name), strconv.Itoa(pid)}, Stderr: &stderr}, p.host.spec.Sudo)
	if err != nil {
		return err
	}
	if err := kp.Wait(); err != nil {
		select {
		case <-p.done:
			return os.ErrProcessDone
		default:
		}
		return fmt.Errorf("%s: kill -s %s %d (%s): %w: %s", p.host.spec.Name(), name, pid, p.cmd, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Wait waits for the process to end. A lost connection yields an error
// naming the host and wrapping ErrConnectionLost.
func (p *proc) Wait() error {
	<-p.done
	var ee *cryptossh.ExitError
	var em *cryptossh.ExitMissingError
	switch {
	case p.err == nil:
		return nil
	case errors.As(p.err, &ee):
		if ee.Signal() != "" {
			return &ExitError{Status: -1, Signal: ee.Signal()}
		}
		return &ExitError{Status: ee.ExitStatus()}
	case errors.As(p.err, &em) || errors.Is(p.err, io.EOF):
		if lost := p.host.cl.Lost(); lost != nil {
			return lost
		}
		// The connection may be dying right now: give its watcher a
		// moment to say so.
		time.Sleep(200 * time.Millisecond)
		if lost := p.host.cl.Lost(); lost != nil {
			return lost
		}
		return fmt.Errorf("%s: %s ended without an exit status (its session was closed)", p.host.spec.Name(), p.cmd)
	}
	return fmt.Errorf("%s: %s: %w", p.host.spec.Name(), p.cmd, p.err)
}

// ExitError is a remote command's unsuccessful end.
type ExitError struct {
	// Status is the exit status, -1 when a signal ended the command.
	Status int
	// Signal names the signal (TERM, KILL, …) that ended it, if any.
	Signal string
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "signal: " + e.Signal
	}
	return "exit status " + strconv.Itoa(e.Status)
}

// ExitCode returns the exit status, -1 after a signal (as os.ProcessState).
func (e *ExitError) ExitCode() int { return e.Status }

// pidWriter takes the wrapper's pid line off the front of the standard
// output and passes the rest on.
type pidWriter struct {
	next  io.Writer
	onPid func(int)
	mu    sync.Mutex
	buf   []byte
	seen  bool
}

func (w *pidWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	if !w.seen {
		w.buf = append(w.buf, b...)
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > 64 { // not a pid line: pass everything on
				w.seen = true
				w.onPid(0)
				b, w.buf = w.buf, nil
				return n, w.forward(b)
			}
			return n, nil
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(w.buf[:i])))
		w.seen = true
		w.onPid(pid)
		b, w.buf = w.buf[i+1:], nil
	}
	return n, w.forward(b)
}

func (w *pidWriter) forward(b []byte) error {
	if w.next == nil || len(b) == 0 {
		return nil
	}
	_, err := w.next.Write(b)
	return err
}

// flush passes on what is left when the output ends without a pid line.
func (w *pidWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen {
		w.seen = true
		w.onPid(0)
		w.forward(w.buf)
		w.buf = nil
	}
}

// signalMode says whether the server delivers SSH signal requests,
// probing it on first use: a `sleep` that a TERM request ends in time
// shows it does.
func (h *host) signalMode() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.signals != 0 {
		return h.signals
	}
	h.signals = -1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pp, err := h.start(ctx, testbed.Cmd{Argv: []string{"sleep", "30"}}, h.spec.Sudo)
	if err != nil {
		return h.signals
	}
	p := pp.(*proc)
	if p.sess.Signal(cryptossh.SIGTERM) == nil {
		select {
		case <-p.done:
			h.signals = 1
			return h.signals
		case <-time.After(2 * time.Second):
		}
	}
	// Not delivered: end the probe with kill.
	if pid := p.Pid(); pid > 0 {
		testbed.Run(ctx, &rawHost{h}, "kill", "-s", "KILL", strconv.Itoa(pid))
	}
	p.sess.Close()
	return h.signals
}

// rawHost runs commands on h without the signal probe's lock (used by the
// probe itself).
type rawHost struct{ *host }

func (r *rawHost) Start(ctx context.Context, cmd testbed.Cmd) (testbed.Process, error) {
	return r.start(ctx, cmd, r.spec.Sudo)
}

// WriteFile writes data to path on the host through `cat`, replacing the
// file in one rename.
func (h *host) WriteFile(path string, data []byte, perm os.FileMode) error {
	script := `umask 077 && t="$1.wgbench-tmp.$$" && cat > "$t" && chmod "$2" "$t" && mv -f "$t" "$1"`
	mode := strconv.FormatUint(uint64(perm.Perm()), 8)
	if _, err := h.run(context.Background(), bytes.NewReader(data), "sh", "-c", script, "sh", path, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// errMissing is the exit status the read script uses for a missing file.
const errMissing = 66

// ReadFile reads path on the host through `cat`. A missing file is an
// error wrapping fs.ErrNotExist.
func (h *host) ReadFile(path string) ([]byte, error) {
	script := `test -e "$1" || exit ` + strconv.Itoa(errMissing) + `; exec cat -- "$1"`
	out, err := h.run(context.Background(), nil, "sh", "-c", script, "sh", path)
	var ee *ExitError
	if errors.As(err, &ee) && ee.Status == errMissing {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// run runs argv to completion with stdin and returns its standard output;
// the error names the host and command and carries the standard error.
func (h *host) run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := testbed.Cmd{Argv: argv, Stdin: stdin, Stdout: &stdout, Stderr: &stderr}
	p, err := h.start(ctx, cmd, h.spec.Sudo)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(); err != nil {
		if errors.Is(err, ErrConnectionLost) {
			return nil, err
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return stdout.Bytes(), fmt.Errorf("%s: %s: %w", h.spec.Name(), argv[0], err)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %s: %w: %s", h.spec.Name(), argv[0], err, procset.LastLines(msg, 5))
	}
	return stdout.Bytes(), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
