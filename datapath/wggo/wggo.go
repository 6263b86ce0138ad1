// Package wggo runs WireGuard tunnels on wireguard-go devices inside the
// wgbench process: one TUN device and one device.Device per configuration,
// each with a UAPI socket so that wg(8) and wgctrl can read it.
package wggo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgbench/wgbench/datapath/internal/shell"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// DefaultMTU is the TUN MTU used when a configuration sets none.
const DefaultMTU = device.DefaultMTU

// SocketDir is where wireguard-go, wg(8) and wgctrl keep UAPI sockets. The
// path is global to the machine, not per network namespace, so device
// names must be unique across all namespaces of a host.
const SocketDir = uapi.SocketDir

// SocketPath returns the UAPI socket path of device name.
func SocketPath(name string) string { return uapi.SocketPath(name) }

// Engine is a set of running wireguard-go devices.
type Engine struct {
	shell *shell.Engine[wgDevice]
	ns    netns.NsHandle // namespace the devices live in, if not the process's
}

// wgDevice is a wireguard-go device as the engine shell runs it.
type wgDevice struct{ *device.Device }

// ServeUAPI answers one UAPI client; the device closes c.
func (d wgDevice) ServeUAPI(c net.Conn) error {
	d.IpcHandle(c)
	return nil
}

// Close closes the device and its TUN.
func (d wgDevice) Close() error {
	d.Device.Close()
	return nil
}

// Up brings up one wireguard-go device per configuration, in the network
// namespace of the calling thread: a TUN device (MTU from the config, else
// DefaultMTU) configured through UAPI and started, its UAPI socket served,
// then addresses, link up and (unless Table = off) a route per peer
// AllowedIP. If any configuration fails, the devices already up are torn
// down and the error names the failing configuration. Cancelling ctx
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
	e := &Engine{ns: netns.None()}
	sh, err := shell.Up(ctx, cfgs, shell.Spec[wgDevice]{
		Engine:     "wggo",
		DefaultMTU: DefaultMTU,
		Log:        log,
		Prepare: func() error {
			ns, foreign, err := threadNS()
			if err != nil {
				return err
			}
			if foreign {
				e.ns = ns
			} else {
				ns.Close()
			}
			return nil
		},
		Open: func(_ int, c *wgconf.Config, td tun.Device, _ int) (wgDevice, error) {
			return e.open(c, td, log)
		},
		Opened: func(c *wgconf.Config, _ wgDevice) {
			log.Debug("wireguard-go device up", "dev", c.Name, "listen_port", c.Interface.ListenPort, "peers", len(c.Peers))
		},
		Teardown: func() {
			if e.ns.IsOpen() {
				e.ns.Close()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	e.shell = sh
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

// open runs a configured and started wireguard-go device on td; on
// error td is closed.
func (e *Engine) open(c *wgconf.Config, td tun.Device, log *slog.Logger) (wgDevice, error) {
	var bind conn.Bind = conn.NewDefaultBind()
	if e.ns.IsOpen() {
		bind = &nsBind{Bind: bind, ns: e.ns}
	}
	d := wgDevice{device.NewDevice(td, bind, deviceLogger(log, c.Name))}
	if err := d.IpcSet(uapiConfig(c)); err != nil {
		d.Device.Close()
		return wgDevice{}, fmt.Errorf("configure device: %w", err)
	}
	if err := d.Up(); err != nil {
		d.Device.Close()
		return wgDevice{}, fmt.Errorf("start device (UDP port %d): %w", c.Interface.ListenPort, err)
	}
	return d, nil
}

// Devices returns the names of the running devices, in config order.
func (e *Engine) Devices() []string { return e.shell.Devices() }

// Close tears all devices down, several at a time: for each, the UAPI
// socket closed and removed, routes and addresses undone in reverse order,
// the device and its TUN closed. It is safe to call more than once; later
// calls return the first result.
func (e *Engine) Close() error { return e.shell.Close() }

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
