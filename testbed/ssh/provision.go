// Package ssh is the testbed driver for real machines: the four hosts of
// an inventory file, reached over SSH with their host keys checked against
// known_hosts.
//
// Provision connects to the hosts in parallel, checks what a run needs
// (root, iperf3, the data-plane interfaces), copies this wgbench binary to
// each host when it is missing or differs, and starts `wgbench agent
// net-setup` there, which puts the testbed's addressing on the named
// interfaces and undoes it when told to stop or when its SSH session goes
// away. The hosts then act through the testbed.Host interface like local
// namespaces: each command is an SSH session, files move with `cat`. Once
// wgbench is installed, other commands that read no input (on a host with
// cores, all of them) run under it (`wgbench agent exec`), so that every
// process gets a lifeline (it stops when its session dies) and the
// inventory's cores.
package ssh

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wgbench/wgbench/internal/syncbuf"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/internal/procset"
)

// Options configure Provision.
type Options struct {
	// Tunnels and FlowsPerTunnel size the per-flow addresses on source and
	// drain: the largest values of the run's sweep.
	Tunnels, FlowsPerTunnel int
	// MTU of the data-plane interfaces; 0 leaves them as they are.
	MTU int
	// Binary is the wgbench executable to copy to the hosts; empty means
	// this executable. It must run there: build it static
	// (CGO_ENABLED=0) for the hosts' architecture.
	Binary string
	// AcceptNewHostKeys adds the keys of hosts missing from their
	// known_hosts file to it, reporting each fingerprint through Printf.
	// A key that differs from a recorded one is always refused.
	AcceptNewHostKeys bool
	// Printf receives progress lines (keys accepted, binaries copied);
	// nil discards them.
	Printf func(format string, args ...any)
	// OnLost is called once, from another goroutine, when a host's SSH
	// connection breaks while the testbed is up. The error names the host
	// and wraps ErrConnectionLost. A run should stop then: the host's
	// processes are gone or unreachable.
	OnLost func(error)
	// Tag forces the run tag (tests); empty picks a random one.
	Tag string
}

// netSetupReady bounds how long net-setup may take to report ready.
const netSetupReady = 60 * time.Second

// Testbed is a provisioned SSH testbed.
type Testbed struct {
	tag   string
	hosts map[string]*host

	procs procset.Set[*proc]

	mu sync.Mutex // guards lost and netsetup

	lostOnce sync.Once
	onLost   func(error)
	lost     error

	netsetup map[string]*netSetup
}

// netSetup is the net-setup process holding one host's addressing.
type netSetup struct {
	proc   *proc
	stdin  io.WriteCloser
	stderr *syncbuf.Buffer
}

// Tag returns the run tag: it names the run directories on the hosts and
// the tunnel devices.
func (tb *Testbed) Tag() string { return tb.tag }

// Hosts returns the four hosts by role.
func (tb *Testbed) Hosts() map[string]testbed.Host {
	m := make(map[string]testbed.Host, len(tb.hosts))
	for r, h := range tb.hosts {
		m[r] = h
	}
	return m
}

// Lost returns the error of the first host lost, or nil.
func (tb *Testbed) Lost() error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.lost
}

func (tb *Testbed) hostLost(err error) {
	tb.lostOnce.Do(func() {
		tb.mu.Lock()
		tb.lost = err
		tb.mu.Unlock()
		if tb.onLost != nil {
			tb.onLost(err)
		}
	})
}

// binaryInfo describes the local wgbench executable to install.
type binaryInfo struct {
	path   string
	sha256 string
	arch   string // uname -m of the machines it runs on; "" if unknown
	static bool
}

// inspectBinary hashes the binary and reads its architecture.
func inspectBinary(p string) (*binaryInfo, error) {
	if p == "" {
		var err error
		if p, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the wgbench binary to install: %w", err)
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open the wgbench binary to install: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	bi := &binaryInfo{path: p, sha256: hex.EncodeToString(h.Sum(nil))}
	if ef, err := elf.Open(p); err == nil {
		switch ef.Machine {
		case elf.EM_X86_64:
			bi.arch = "x86_64"
		case elf.EM_AARCH64:
			bi.arch = "aarch64"
		case elf.EM_386:
			bi.arch = "i686"
		}
		bi.static = true
		for _, pr := range ef.Progs {
			if pr.Type == elf.PT_INTERP {
				bi.static = false
			}
		}
		ef.Close()
	} else {
		return nil, fmt.Errorf("%s is not a Linux executable (%v); give the path of a wgbench built for the hosts", p, err)
	}
	return bi, nil
}

// randomTag picks a run tag of 4 hex digits, as the local driver's.
func randomTag() (string, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Provision brings the SSH testbed of inv up: connect, check, install,
// net-setup on all four hosts in parallel. On error nothing is left
// changed on the hosts (but an installed binary) and every host's problem
// is reported.
func Provision(ctx context.Context, inv *Inventory, opts Options) (tb *Testbed, err error) {
	if opts.Tunnels < 1 || opts.Tunnels > testbed.MaxTunnels || opts.FlowsPerTunnel < 1 || opts.FlowsPerTunnel > testbed.MaxFlowsPerTunnel {
		return nil, fmt.Errorf("ssh testbed: %d tunnels × %d flows is outside 1..%d × 1..%d", opts.Tunnels, opts.FlowsPerTunnel, testbed.MaxTunnels, testbed.MaxFlowsPerTunnel)
	}
	if err := inv.complete(); err != nil {
		return nil, err
	}
	printf := opts.Printf
	if printf == nil {
		printf = func(string, ...any) {}
	}
	bin, err := inspectBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	if !bin.static {
		printf("warning: %s is dynamically linked; it runs on the hosts only if their C library matches (build with CGO_ENABLED=0 to be safe)", bin.path)
	}
	tag := opts.Tag
	if tag == "" {
		if tag, err = randomTag(); err != nil {
			return nil, err
		}
	}
	t := &Testbed{tag: tag, hosts: map[string]*host{}, onLost: opts.OnLost, netsetup: map[string]*netSetup{}}
	tb = t
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Teardown())
			tb = nil
		}
	}()
	var mu sync.Mutex
	// Phase 1: connect, check and install everywhere before changing any
	// host's network.
	err = t.each(testbed.Roles, func(role string) error {
		spec := inv.Hosts[role]
		cl, err := newClient(ctx, spec, dialOptions{accept: opts.AcceptNewHostKeys, notify: func(s string) { printf("%s", s) }, onLost: t.hostLost})
		if err != nil {
			return err
		}
		h := &host{tb: t, spec: spec, cl: cl, tmp: path.Join(spec.WorkDir, "runs", tag)}
		mu.Lock()
		t.hosts[role] = h
		mu.Unlock()
		pr, err := probe(ctx, h, path.Join(spec.WorkDir, "wgbench"))
		if err != nil {
			return err
		}
		if err := pr.prerequisites(h, bin); err != nil {
			return err
		}
		if pr.binSHA256 != bin.sha256 {
			printf("%s: installing wgbench (%s) in %s", spec.Name(), shortSum(bin.sha256), spec.WorkDir)
			if err := install(ctx, h, bin); err != nil {
				return err
			}
		}
		h.bin = path.Join(spec.WorkDir, "wgbench")
		if _, err := h.run(ctx, nil, "mkdir", "-p", "-m", "0700", h.tmp); err != nil {
			return fmt.Errorf("create the run directory: %w", err)
		}
		h.signalMode()
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Phase 2: the addressing.
	err = t.each(testbed.Roles, func(role string) error {
		return t.startNetSetup(ctx, t.hosts[role], opts)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// complete checks that inv names the four hosts.
func (inv *Inventory) complete() error {
	if inv == nil {
		return errors.New("ssh testbed: no inventory")
	}
	for _, role := range testbed.Roles {
		if inv.Hosts[role] == nil {
			return fmt.Errorf("ssh testbed: inventory %s has no %s host", inv.File, role)
		}
	}
	return nil
}

// each runs fn for every role in parallel and joins the errors in role
// order.
func (tb *Testbed) each(roles []string, fn func(role string) error) error {
	errs := make([]error, len(roles))
	var wg sync.WaitGroup
	for i, role := range roles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(role)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func shortSum(s string) string {
	if len(s) > 12 {
		return "sha256 " + s[:12]
	}
	return s
}

// install copies the binary to the host's work directory, replacing any
// other version in one rename, and checks the copy.
func install(ctx context.Context, h *host, bin *binaryInfo) error {
	f, err := os.Open(bin.path)
	if err != nil {
		return fmt.Errorf("open %s: %w", bin.path, err)
	}
	defer f.Close()
	script := `umask 022 && mkdir -p "$1" && t="$1/.wgbench.tmp.$$" && cat > "$t" && chmod 0755 "$t" && mv -f "$t" "$1/wgbench" && sha256sum "$1/wgbench"`
	out, err := h.run(ctx, f, "sh", "-c", script, "sh", h.spec.WorkDir)
	if err != nil {
		return fmt.Errorf("install wgbench: %w", err)
	}
	if got, _, _ := strings.Cut(strings.TrimSpace(string(out)), " "); got != bin.sha256 {
		return fmt.Errorf("%s: install wgbench: the copy's sha256 is %s, want %s; is the disk full?", h.spec.Name(), got, bin.sha256)
	}
	return nil
}

// startNetSetup starts net-setup on h and waits for its ready line.
func (tb *Testbed) startNetSetup(ctx context.Context, h *host, opts Options) error {
	argv := []string{testbed.Self, "agent", "net-setup", "--role", h.spec.Role,
		"--tunnels", strconv.Itoa(opts.Tunnels), "--flows", strconv.Itoa(opts.FlowsPerTunnel), "--lan", h.spec.LAN,
		"--run-dir", h.tmp}
	if h.spec.WAN != "" {
		argv = append(argv, "--wan", h.spec.WAN)
	}
	if opts.MTU > 0 {
		argv = append(argv, "--mtu", strconv.Itoa(opts.MTU))
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ns := &netSetup{stdin: inW, stderr: &syncbuf.Buffer{}}
	// Not bound to ctx: net-setup lives until Teardown, whatever the
	// context of the provisioning.
	p, err := h.Start(context.Background(), testbed.Cmd{Argv: argv, Stdin: inR, Stdout: outW, Stderr: ns.stderr, Stage: "net-setup"})
	if err != nil {
		inW.Close()
		return fmt.Errorf("start net-setup: %w", err)
	}
	ns.proc = p.(*proc)
	tb.procs.Remove(ns.proc) // stopped last, by Teardown, through its stdin
	tb.mu.Lock()
	tb.netsetup[h.spec.Role] = ns
	tb.mu.Unlock()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		ok := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	go func() { ns.proc.Wait(); outW.Close() }()
	select {
	case ok := <-ready:
		if ok {
			return nil
		}
		return fmt.Errorf("%s: net-setup failed (%v): %s", h.spec.Name(), ns.proc.Wait(), procset.LastLines(strings.TrimSpace(ns.stderr.String()), 5))
	case <-time.After(netSetupReady):
		return fmt.Errorf("%s: net-setup not ready after %s: %s", h.spec.Name(), netSetupReady, procset.LastLines(strings.TrimSpace(ns.stderr.String()), 3))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Teardown stops every process the testbed started on the hosts, stops
// net-setup (which undoes the addressing), removes the run directories
// and closes the connections. Hosts are handled in parallel; a lost host
// is reported, not waited for: its wgbench processes stop when they notice
// their session is gone (testbed.LifelineEnv), and its net-setup undoes
// the addressing and removes the run directory. Safe to call more than
// once.
func (tb *Testbed) Teardown() error {
	procs, first := tb.procs.Close()
	if !first {
		return nil
	}
	procset.StopAll(procs, 5*time.Second, func(p *proc) { p.sess.Close() })
	var roles []string
	for r := range tb.hosts {
		roles = append(roles, r)
	}
	return tb.each(roles, func(role string) error {
		h := tb.hosts[role]
		defer h.cl.close()
		if lost := h.cl.Lost(); lost != nil {
			return fmt.Errorf("%w; its net-setup undoes the addressing by itself once it notices", lost)
		}
		var errs []error
		if ns := tb.netsetup[role]; ns != nil {
			ns.stdin.Close()
			done := make(chan error, 1)
			go func() { done <- ns.proc.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				ns.proc.Signal(syscall.SIGTERM)
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					ns.proc.Signal(syscall.SIGKILL)
					err = errors.New("did not stop in 25s; killed, its changes may remain")
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: net-setup: %v: %s", h.spec.Name(), err, procset.LastLines(strings.TrimSpace(ns.stderr.String()), 5)))
			}
		}
		if h.tmp != "" && h.bin != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := h.run(ctx, nil, "rm", "-rf", "--", h.tmp); err != nil {
				errs = append(errs, fmt.Errorf("remove the run directory: %w", err))
			}
			cancel()
		}
		return errors.Join(errs...)
	})
}
