// Package wggo runs WireGuard tunnels on wireguard-go devices inside the
// wgbench process: one TUN device and one device.Device per configuration,
// each with a UAPI socket so that wg(8) and wgctrl can read it.
package wggo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgbench/wgbench/datapath/netconf"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// DefaultMTU is the TUN MTU used when a configuration sets none.
const DefaultMTU = device.DefaultMTU

// SocketDir is where wireguard-go, wg(8) and wgctrl keep UAPI sockets. The
// path is global to the machine, not per network namespace, so device
// names must be unique across all namespaces of a host.
const SocketDir = "/var/run/wireguard"

// SocketPath returns the UAPI socket path of device name.
func SocketPath(name string) string {
	return filepath.Join(SocketDir, name+".sock")
}

// Engine is a set of running wireguard-go devices.
type Engine struct {
	log     *slog.Logger
	ns      netns.NsHandle // namespace the devices live in, if not the process's
	tunnels []*tunnel
	once    sync.Once
	err     error
}

type tunnel struct {
	name   string
	tun    tun.Device
	dev    *device.Device
	uapi   net.Listener
	served chan struct{} // closed when the UAPI accept loop ends
	undo   netconf.Undo
}

// Up brings up one wireguard-go device per configuration, in the network
// namespace of the calling thread: a TUN device (MTU from the config, else
// DefaultMTU) configured through UAPI, its UAPI socket served, the device
// started, then addresses, link up and (unless Table = off) a route per
// peer AllowedIP. If any configuration fails, the devices already up are
// torn down and the error names the failing configuration. Cancelling ctx
// stops Up between devices; it does not affect a running Engine.
//
// A thread that entered a namespace must stay locked (runtime.LockOSThread)
// while Up runs; later rebinds of the UDP sockets return to that namespace
// by themselves. wireguard-go's log goes to log at debug level; it never
// contains keys.
func Up(ctx context.Context, cfgs []*wgconf.Config, log *slog.Logger) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := wgconf.ValidateSet(cfgs); err != nil {
		return nil, fmt.Errorf("wggo: %w", err)
	}
	e := &Engine{log: log, ns: netns.None()}
	ns, foreign, err := threadNS()
	if err != nil {
		return nil, fmt.Errorf("wggo: %w", err)
	}
	if foreign {
		e.ns = ns
	} else {
		ns.Close()
	}
	for _, c := range cfgs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("wggo: bring up %s: %w", c.Name, err), e.Close())
		}
		t, err := e.up(c)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("wggo: bring up %s: %w", c.Name, err), e.Close())
		}
		e.tunnels = append(e.tunnels, t)
		log.Debug("wireguard-go device up", "dev", c.Name, "listen_port", c.Interface.ListenPort, "peers", len(c.Peers))
	}
	return e, nil
}

// startNS identifies the network namespace the process started in. Package
// initialisation runs on the main thread, locked, before any code could
// have moved it; later the main thread itself may be left in another
// namespace (a goroutine that locked it and entered one), so
// /proc/self/ns/net is not a reliable reference.
var startNS = func() string {
	h, err := netns.Get()
	if err != nil {
		return ""
	}
	defer h.Close()
	return h.UniqueId()
}()

// threadNS returns the calling thread's network namespace and whether it
// differs from the one the process started in (unknown counts as foreign).
func threadNS() (netns.NsHandle, bool, error) {
	cur, err := netns.Get()
	if err != nil {
		return netns.None(), false, fmt.Errorf("read thread netns: %w", err)
	}
	return cur, startNS == "" || cur.UniqueId() != startNS, nil
}

func (e *Engine) up(c *wgconf.Config) (_ *tunnel, err error) {
	mtu := c.Interface.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	t := &tunnel{name: c.Name}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	t.tun, err = tun.CreateTUN(c.Name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device (is the name taken by another interface?): %w", err)
	}
	var bind conn.Bind = conn.NewDefaultBind()
	if e.ns.IsOpen() {
		bind = &nsBind{Bind: bind, ns: e.ns}
	}
	t.dev = device.NewDevice(t.tun, bind, deviceLogger(e.log, c.Name))
	if err := t.dev.IpcSet(uapiConfig(c)); err != nil {
		return nil, fmt.Errorf("configure device: %w", err)
	}
	t.uapi, err = uapi.Listen(c.Name)
	if err != nil {
		// A socket in use is another device's: leave it alone.
		return nil, fmt.Errorf("open UAPI socket %s (device names must be unique on each host): %w", SocketPath(c.Name), err)
	}
	t.served = make(chan struct{})
	go t.serveUAPI()
	if err := t.dev.Up(); err != nil {
		return nil, fmt.Errorf("start device (UDP port %d): %w", c.Interface.ListenPort, err)
	}
	var routes []netip.Prefix
	if !c.Interface.TableOff {
		for _, p := range c.Peers {
			routes = append(routes, p.AllowedIPs...)
		}
	}
	if err := netconf.ConfigureLink(c.Name, mtu, c.Interface.Addresses, routes, &t.undo); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tunnel) serveUAPI() {
	defer close(t.served)
	for {
		c, err := t.uapi.Accept()
		if err != nil {
			return
		}
		go t.dev.IpcHandle(c)
	}
}

// close undoes what up did, in reverse; it tolerates a partial tunnel.
func (t *tunnel) close() error {
	var errs []error
	if t.uapi != nil {
		// ipc's listener closes its inotify fd before cancelling the
		// watcher, which may already have closed its pipe on seeing the
		// fd go: os.ErrClosed from Close is that race, not a failure.
		if err := t.uapi.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("close UAPI socket: %w", err))
		}
		<-t.served
		if err := os.Remove(SocketPath(t.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove UAPI socket: %w", err))
		}
	}
	if err := t.undo.Run(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case t.dev != nil:
		t.dev.Close() // closes the TUN, which removes the interface
	case t.tun != nil:
		if err := t.tun.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close TUN: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down %s: %w", t.name, errors.Join(errs...))
	}
	return nil
}

// Devices returns the names of the running devices, in config order.
func (e *Engine) Devices() []string {
	names := make([]string, len(e.tunnels))
	for i, t := range e.tunnels {
		names[i] = t.name
	}
	return names
}

// closeParallelism bounds how many devices Close tears down at once. The
// tunnels are independent, and most of a teardown is the kernel waiting
// (RCU grace periods) while it unregisters the TUN interface; those waits
// overlap, which makes closing 64 devices about ten times faster.
const closeParallelism = 32

// Close tears all devices down, several at a time: for each, the UAPI
// socket closed and removed, routes and addresses undone in reverse order,
// the device and its TUN closed. It is safe to call more than once; later
// calls return the first result.
func (e *Engine) Close() error {
	e.once.Do(func() {
		errs := make([]error, len(e.tunnels))
		limit := make(chan struct{}, closeParallelism)
		var wg sync.WaitGroup
		for i, t := range e.tunnels {
			limit <- struct{}{}
			wg.Go(func() {
				defer func() { <-limit }()
				errs[i] = t.close()
			})
		}
		wg.Wait()
		if e.ns.IsOpen() {
			e.ns.Close()
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}

// uapiConfig renders c in the UAPI "set" format (hex keys).
func uapiConfig(c *wgconf.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%x\n", c.Interface.PrivateKey[:])
	if c.Interface.ListenPort != 0 {
		fmt.Fprintf(&b, "listen_port=%d\n", c.Interface.ListenPort)
	}
	b.WriteString("replace_peers=true\n")
	for _, p := range c.Peers {
		fmt.Fprintf(&b, "public_key=%x\n", p.PublicKey[:])
		if p.PresharedKey != nil {
			fmt.Fprintf(&b, "preshared_key=%x\n", p.PresharedKey[:])
		}
		if p.Endpoint != nil {
			fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoint)
		}
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", int(p.PersistentKeepalive.Seconds()))
		b.WriteString("replace_allowed_ips=true\n")
		for _, a := range p.AllowedIPs {
			fmt.Fprintf(&b, "allowed_ip=%s\n", a)
		}
	}
	return b.String()
}

// deviceLogger sends wireguard-go's log to log at debug level. wireguard-go
// logs peers by an abbreviated public key and never logs key material.
func deviceLogger(log *slog.Logger, name string) *device.Logger {
	logf := func(level string) func(string, ...any) {
		return func(format string, args ...any) {
			if !log.Enabled(context.Background(), slog.LevelDebug) {
				return
			}
			log.Debug(fmt.Sprintf(format, args...), "dev", name, "source", "wireguard-go", "wg_level", level)
		}
	}
	return &device.Logger{Verbosef: logf("verbose"), Errorf: logf("error")}
}

// nsBind opens its UDP sockets in a given network namespace, whichever
// thread asks: wireguard-go rebinds from its own goroutines (for example
// when the TUN link goes down and up again), and those may run on threads
// in another namespace when the devices were made by a thread that entered
// a namespace. It is only used in that case; a process that lives in the
// gateway's namespace uses the plain bind (with its sticky-socket route
// listener).
type nsBind struct {
	conn.Bind
	ns netns.NsHandle
}

// Open opens the inner bind on a thread inside b.ns.
func (b *nsBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	type result struct {
		fns  []conn.ReceiveFunc
		port uint16
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the runtime discards the thread when the
		// goroutine exits, so no other goroutine inherits its namespace.
		runtime.LockOSThread()
		if err := netns.Set(b.ns); err != nil {
			ch <- result{err: fmt.Errorf("enter device netns: %w", err)}
			return
		}
		fns, p, err := b.Bind.Open(port)
		ch <- result{fns, p, err}
	}()
	r := <-ch
	return r.fns, r.port, r.err
}
