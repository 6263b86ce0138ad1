// Package shell is what the in-process WireGuard engines (inline, wggo)
// share around their devices: one TUN device per configuration with a
// UAPI socket served beside it and its addresses and routes set, brought
// up in config order, and torn down several tunnels at a time. Each
// engine supplies only the device it runs on the TUN.
package shell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgbench/wgbench/datapath/netconf"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// Device is an engine's device running on one TUN.
type Device interface {
	// ServeUAPI answers one UAPI client on c.
	ServeUAPI(c net.Conn) error
	// Close stops the device and closes its TUN, which removes the
	// interface.
	Close() error
}

// Spec is what an engine puts into the shell.
type Spec[D Device] struct {
	// Engine names the engine at the start of errors and log lines
	// ("inline", "wggo").
	Engine string
	// DefaultMTU is the TUN MTU when a configuration sets none.
	DefaultMTU int
	// Log receives the shell's log; nil discards it.
	Log *slog.Logger
	// Prepare, when set, runs once the configurations passed
	// wgconf.ValidateSet and before any tunnel is made; its error is
	// returned with the engine's name before it. Teardown runs even if
	// it fails.
	Prepare func() error
	// Open starts the device of cfgs[i] on tun, a new TUN device of the
	// given MTU. On error it must have closed tun.
	Open func(i int, c *wgconf.Config, tun tun.Device, mtu int) (D, error)
	// Opened, when set, runs after each tunnel is fully up (to log it).
	Opened func(c *wgconf.Config, d D)
	// Teardown, when set, runs once after Close has torn every tunnel
	// down, or after Prepare failed.
	Teardown func()
}

// Engine is a set of running tunnels, one per configuration.
type Engine[D Device] struct {
	spec    Spec[D]
	log     *slog.Logger
	tunnels []*tunnel[D]
	once    sync.Once
	err     error
}

type tunnel[D Device] struct {
	name   string
	dev    D
	open   bool // dev is set
	uapi   net.Listener
	served chan struct{} // closed when the UAPI accept loop ends
	undo   netconf.Undo
}

// Up brings up one tunnel per configuration in the network namespace of
// the calling thread: a TUN device (MTU from the config, else
// DefaultMTU), the engine's device on it, a UAPI socket served, then
// addresses, link up and (unless Table = off) a route per peer AllowedIP.
// If any tunnel fails, those already up are torn down and the error names
// the failing configuration. Cancelling ctx stops Up between tunnels; it
// does not affect a running Engine.
func Up[D Device](ctx context.Context, cfgs []*wgconf.Config, spec Spec[D]) (*Engine[D], error) {
	e := &Engine[D]{spec: spec, log: spec.Log}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if err := wgconf.ValidateSet(cfgs); err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Engine, err)
	}
	if spec.Prepare != nil {
		if err := spec.Prepare(); err != nil {
			e.Close() // no tunnel yet: runs Teardown only
			return nil, fmt.Errorf("%s: %w", spec.Engine, err)
		}
	}
	for i, c := range cfgs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("%s: bring up %s: %w", spec.Engine, c.Name, err), e.Close())
		}
		t, err := e.up(i, c)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: bring up %s: %w", spec.Engine, c.Name, err), e.Close())
		}
		e.tunnels = append(e.tunnels, t)
		if spec.Opened != nil {
			spec.Opened(c, t.dev)
		}
	}
	return e, nil
}

func (e *Engine[D]) up(i int, c *wgconf.Config) (_ *tunnel[D], err error) {
	mtu := c.Interface.MTU
	if mtu == 0 {
		mtu = e.spec.DefaultMTU
	}
	t := &tunnel[D]{name: c.Name}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	td, err := tun.CreateTUN(c.Name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device (is the name taken by another interface?): %w", err)
	}
	if t.dev, err = e.spec.Open(i, c, td, mtu); err != nil {
		return nil, err
	}
	t.open = true
	t.uapi, err = uapi.Listen(c.Name)
	if err != nil {
		// A socket in use is another device's: leave it alone.
		return nil, fmt.Errorf("open UAPI socket %s (device names must be unique on each host): %w", uapi.SocketPath(c.Name), err)
	}
	t.served = make(chan struct{})
	go t.serveUAPI(e.log, e.spec.Engine)
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

// serveUAPI accepts UAPI clients until the listener closes.
func (t *tunnel[D]) serveUAPI(log *slog.Logger, engine string) {
	defer close(t.served)
	for {
		c, err := t.uapi.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := t.dev.ServeUAPI(c); err != nil {
				log.Debug(engine+": UAPI client", "dev", t.name, "err", err)
			}
		}()
	}
}

// close undoes what up did, in reverse; it tolerates a partial tunnel.
func (t *tunnel[D]) close() error {
	var errs []error
	if t.uapi != nil {
		// ipc's listener closes its inotify fd before cancelling the
		// watcher, which may already have closed its pipe on seeing the
		// fd go: os.ErrClosed from Close is that race, not a failure.
		if err := t.uapi.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("close UAPI socket: %w", err))
		}
		<-t.served
		if err := os.Remove(uapi.SocketPath(t.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove UAPI socket: %w", err))
		}
	}
	if err := t.undo.Run(); err != nil {
		errs = append(errs, err)
	}
	if t.open {
		// os.ErrClosed: wireguard-go's TUN stops its netlink listener on
		// its own when the link goes (closing the pipe Close writes to),
		// so a device whose link the undo steps removed may say so.
		if err := t.dev.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down %s: %w", t.name, errors.Join(errs...))
	}
	return nil
}

// Devices returns the names of the running tunnels, in config order.
func (e *Engine[D]) Devices() []string {
	names := make([]string, len(e.tunnels))
	for i, t := range e.tunnels {
		names[i] = t.name
	}
	return names
}

// Each returns the engine's devices, in config order.
func (e *Engine[D]) Each() []D {
	out := make([]D, len(e.tunnels))
	for i, t := range e.tunnels {
		out[i] = t.dev
	}
	return out
}

// closeParallelism bounds how many tunnels Close tears down at once. The
// tunnels are independent, and most of a teardown is the kernel waiting
// (RCU grace periods) while it unregisters the TUN interface; those waits
// overlap, which makes closing 64 devices about ten times faster.
const closeParallelism = 32

// Close tears all tunnels down, several at a time: for each, the UAPI
// socket closed and removed, routes and addresses undone in reverse
// order, the device and its TUN closed; then the Spec's Teardown runs. It
// is safe to call more than once; later calls return the first result.
func (e *Engine[D]) Close() error {
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
		if e.spec.Teardown != nil {
			e.spec.Teardown()
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}
