package openvpn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wgbench/wgbench/datapath/netconf"
	"github.com/wgbench/wgbench/internal/cpuset"
)

// Binary is the openvpn executable Up starts.
var Binary = "openvpn"

// SocketDir holds each tunnel's management socket, DEVICE.sock, where
// Status finds it by the device's name alone (as wgctrl finds
// wireguard-go's UAPI sockets).
var SocketDir = "/run/wgbench-openvpn"

// upTimeout bounds how long one openvpn process may take to make its
// device and open its management socket.
const upTimeout = 20 * time.Second

// SocketPath is where the management socket of device dev in the calling
// thread's network namespace is: NETNS-DEV.sock, as both gateways of the
// local testbed name their tunnels alike and share one file system.
func SocketPath(dev string) string { return filepath.Join(SocketDir, netnsID()+"-"+dev+".sock") }

// netnsID is the inode of the calling thread's network namespace.
func netnsID() string {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "0"
	}
	return strconv.FormatUint(st.Ino, 10)
}

// Engine is a set of running OpenVPN tunnels.
type Engine struct {
	procs []*proc
	undo  netconf.Undo
	log   *slog.Logger
	// launch runs functions on the launcher thread, in the namespace Up
	// was called in; closed by Close.
	launch chan func()
}

type proc struct {
	dev  string
	sock string // management socket
	cmd  *exec.Cmd
	dir  string // private folder with its config, certificate and key
	done chan struct{}
	out  *tail
}

// Up starts one openvpn process per tunnel, in the calling thread's
// network namespace. Each one's configuration, certificate and key go
// to a private folder (0700) made in keyDir, removed by Close (the
// folder is inside the run's private temp folder, so even a killed
// datapath leaves the keys only where the testbed removes them). cpus,
// when set, restricts every process to those cores; a tunnel's own CPU
// pins its process to that core instead. Once every device exists, Up
// sets its MTU, brings it up and routes the tunnel's prefix into it.
// On error nothing is left behind.
func Up(ctx context.Context, tunnels []*Tunnel, keyDir string, cpus []int, log *slog.Logger) (_ *Engine, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(tunnels) == 0 {
		return nil, errors.New("openvpn: no tunnels")
	}
	if _, err := exec.LookPath(Binary); err != nil {
		return nil, fmt.Errorf("openvpn: %w (install it: apt-get install openvpn)", err)
	}
	if err := os.MkdirAll(SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("openvpn: make %s: %w", SocketDir, err)
	}
	e := &Engine{log: log}
	if err := e.startLauncher(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	for _, t := range tunnels {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("openvpn: %w", err)
		}
		var p *proc
		e.launch <- func() { p, err = start(t, keyDir, cpus, log) }
		e.launch <- func() {} // wait for it
		if p != nil {
			e.procs = append(e.procs, p)
		}
		if err != nil {
			return nil, err
		}
	}
	for i, t := range tunnels {
		if err := e.procs[i].waitUp(ctx); err != nil {
			return nil, err
		}
		mtu := t.MTU
		if mtu == 0 {
			mtu = DefaultMTU
		}
		if err := netconf.ConfigureLink(t.Device, mtu, nil, []netip.Prefix{t.Route}, &e.undo); err != nil {
			return nil, fmt.Errorf("openvpn tunnel %s: %w", t.Device, err)
		}
		log.Debug("openvpn tunnel up", "dev", t.Device, "local", t.Local, "remote", t.Remote, "route", t.Route)
	}
	return e, nil
}

// startLauncher starts the thread that starts the openvpn processes. A
// child's parent-death signal fires when the thread that forked it
// exits, so that thread lives, locked in the caller's network namespace,
// until Close: the processes die with the datapath, and only then.
func (e *Engine) startLauncher() error {
	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("openvpn: read this thread's network namespace: %w", err)
	}
	e.launch = make(chan func())
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		err := netns.Set(ns)
		ns.Close()
		ready <- err
		if err != nil {
			return
		}
		for fn := range e.launch {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		e.launch = nil
		return fmt.Errorf("openvpn: enter the network namespace: %w", err)
	}
	return nil
}

// start writes t's files and starts its openvpn process.
func start(t *Tunnel, keyDir string, cpus []int, log *slog.Logger) (*proc, error) {
	dir, err := os.MkdirTemp(keyDir, "openvpn-"+t.Device+"-")
	if err != nil {
		return nil, fmt.Errorf("openvpn tunnel %s: make a private folder: %w", t.Device, err)
	}
	p := &proc{dev: t.Device, sock: SocketPath(t.Device), dir: dir, done: make(chan struct{}), out: &tail{}}
	if err := os.Chmod(dir, 0o700); err != nil {
		return p, fmt.Errorf("openvpn tunnel %s: %w", t.Device, err)
	}
	cert, key, conf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "openvpn.conf")
	mgmt := p.sock
	os.Remove(mgmt)
	for path, data := range map[string]string{cert: t.Cert, key: t.Key, conf: t.Config(cert, key, mgmt)} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			return p, fmt.Errorf("openvpn tunnel %s: %w", t.Device, err)
		}
	}
	cmd := exec.Command(Binary, "--config", conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// The tunnel must not outlive this process, even killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return p, fmt.Errorf("openvpn tunnel %s: start %s: %w", t.Device, Binary, err)
	}
	p.cmd = cmd
	go func() { cmd.Wait(); close(p.done) }()
	place := cpus
	if t.CPU != nil {
		place = []int{*t.CPU}
	}
	if len(place) > 0 {
		if err := cpuset.SetAffinity(cmd.Process.Pid, place); err != nil {
			return p, fmt.Errorf("openvpn tunnel %s: pin to CPUs %v: %w", t.Device, place, err)
		}
	}
	log.Debug("openvpn started", "dev", t.Device, "pid", cmd.Process.Pid, "cpus", place)
	return p, nil
}

// waitUp waits until p's device and management socket exist.
func (p *proc) waitUp(ctx context.Context) error {
	deadline := time.Now().Add(upTimeout)
	for {
		_, lerr := netlink.LinkByName(p.dev)
		_, serr := os.Stat(p.sock)
		if lerr == nil && serr == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("openvpn tunnel %s: openvpn exited: %s", p.dev, p.out.last())
		case <-ctx.Done():
			return fmt.Errorf("openvpn tunnel %s: %w", p.dev, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("openvpn tunnel %s: no device or management socket after %s: %s", p.dev, upTimeout, p.out.last())
		}
	}
}

// Devices names the tun devices, index = tunnel.
func (e *Engine) Devices() []string {
	names := make([]string, len(e.procs))
	for i, p := range e.procs {
		names[i] = p.dev
	}
	return names
}

// Close stops every openvpn process (SIGTERM, SIGKILL after 5 s), which
// removes its device, undoes the routes and removes every private folder
// and management socket.
func (e *Engine) Close() error {
	var errs []error
	if err := e.undo.Run(); err != nil {
		errs = append(errs, fmt.Errorf("openvpn: undo routes: %w", err))
	}
	for _, p := range e.procs {
		if p.cmd != nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range e.procs {
		if p.cmd != nil {
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
				errs = append(errs, fmt.Errorf("openvpn tunnel %s: did not stop in 5s; killed", p.dev))
			}
		}
		// A tun device goes with the last descriptor; wait for it.
		for i := 0; i < 100; i++ {
			if _, err := netlink.LinkByName(p.dev); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if l, err := netlink.LinkByName(p.dev); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("openvpn tunnel %s: remove device: %w", p.dev, err))
			}
		}
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, fmt.Errorf("openvpn tunnel %s: remove its keys: %w", p.dev, err))
		}
		if err := os.Remove(p.sock); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	e.procs = nil
	os.Remove(SocketDir) // only when empty: another run may be using it
	if e.launch != nil {
		close(e.launch)
		e.launch = nil
	}
	return errors.Join(errs...)
}

// tail keeps the last lines openvpn printed, for error messages; openvpn
// never prints key material.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 16<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(b), nil
}

// last returns the last lines printed, up to three.
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}
