package inline

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
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgbench/wgbench/datapath/netconf"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// DefaultMTU is the TUN MTU used when a configuration sets none.
const DefaultMTU = 1420

// SocketDir is where UAPI sockets live (shared with wireguard-go, wg(8)
// and wgctrl). The path is machine-wide, so device names must be unique
// across the network namespaces of a host.
const SocketDir = "/var/run/wireguard"

// SocketPath returns the UAPI socket path of device name.
func SocketPath(name string) string { return filepath.Join(SocketDir, name+".sock") }

// Options tunes an Engine.
type Options struct {
	// CPUs are the cores tunnels are spread over, round-robin in config
	// order; empty means every core the process may use.
	CPUs []int
	// Log receives the engine's log; nil discards it. Keys never reach it.
	Log *slog.Logger
}

// Engine is a set of running inline tunnels on real TUN devices and UDP
// sockets, each readable through its UAPI socket.
type Engine struct {
	log         *slog.Logger
	tunnels     []*engineTunnel
	oldMaxProcs int // GOMAXPROCS before Up raised it, 0 if unchanged
	once        sync.Once
	err         error
}

type engineTunnel struct {
	name   string
	tunnel *Tunnel
	dev    tun.Device // closed by tunnel once it exists
	uapi   net.Listener
	served chan struct{}
	undo   netconf.Undo
}

// Up brings up one inline tunnel per configuration in the network
// namespace of the calling thread: a TUN device (MTU from the config, else
// DefaultMTU), a UDP socket on ListenPort, the data threads pinned to the
// next core of opts.CPUs, a UAPI socket, then addresses, link up and
// (unless Table = off) a route per AllowedIP. Each configuration must have
// exactly one peer. If any tunnel fails, those already up are torn down
// and the error names the failing configuration. Cancelling ctx stops Up
// between tunnels; it does not affect a running Engine.
//
// Each tunnel has two or more data threads (TX and one RX per socket), and
// Go runs Go code on at most GOMAXPROCS threads at a time, so Up raises
// GOMAXPROCS (see maxProcsFor), lest pinned threads wait for a P while
// their cores are free; Close restores it.
func Up(ctx context.Context, cfgs []*wgconf.Config, opts Options) (*Engine, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := wgconf.ValidateSet(cfgs); err != nil {
		return nil, fmt.Errorf("inline: %w", err)
	}
	for _, c := range cfgs {
		if len(c.Peers) != 1 {
			return nil, fmt.Errorf("inline: config %s has %d peers; the inline engine serves exactly one peer per tunnel: split it into one config per peer", c.Name, len(c.Peers))
		}
	}
	cpus := opts.CPUs
	if len(cpus) == 0 {
		var err error
		if cpus, err = AllowedCPUs(); err != nil {
			return nil, fmt.Errorf("inline: %w", err)
		}
	}
	for _, c := range cpus {
		if c < 0 {
			return nil, fmt.Errorf("inline: CPU %d is not a core number", c)
		}
	}
	e := &Engine{log: log}
	if want := maxProcsFor(len(cfgs)); runtime.GOMAXPROCS(0) < want {
		e.oldMaxProcs = runtime.GOMAXPROCS(want)
	}
	for i, c := range cfgs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("inline: bring up %s: %w", c.Name, err), e.Close())
		}
		t, err := e.up(c, cpus[i%len(cpus)])
		if err != nil {
			return nil, errors.Join(fmt.Errorf("inline: bring up %s: %w", c.Name, err), e.Close())
		}
		e.tunnels = append(e.tunnels, t)
		log.Debug("inline tunnel up", "dev", c.Name, "listen_port", t.tunnel.ListenPort(), "cpu", t.tunnel.cpu)
	}
	return e, nil
}

// maxProcsFor is the GOMAXPROCS n tunnels want: a P for each busy data
// thread (TX and RX; an idle IPv6 RX thread sleeps in the poller without
// one) plus the cores for everything else, capped at four per core so that
// the garbage collector's share of Ps stays sane.
func maxProcsFor(n int) int {
	return min(runtime.NumCPU()+2*n, 4*runtime.NumCPU())
}

// TunnelConfigFrom converts a one-peer wg-quick configuration.
func TunnelConfigFrom(c *wgconf.Config) (TunnelConfig, error) {
	if err := c.Validate(); err != nil {
		return TunnelConfig{}, err
	}
	if len(c.Peers) != 1 {
		return TunnelConfig{}, fmt.Errorf("config %s has %d peers; an inline tunnel has exactly one", c.Name, len(c.Peers))
	}
	p := c.Peers[0]
	tc := TunnelConfig{
		Name:       c.Name,
		PrivateKey: c.Interface.PrivateKey,
		ListenPort: uint16(c.Interface.ListenPort),
		Peer: PeerConfig{
			PublicKey:           p.PublicKey,
			AllowedIPs:          p.AllowedIPs,
			PersistentKeepalive: p.PersistentKeepalive,
		},
	}
	if p.PresharedKey != nil {
		tc.Peer.PresharedKey = *p.PresharedKey
	}
	if p.Endpoint != nil {
		tc.Peer.Endpoint = netip.AddrPortFrom(p.Endpoint.Addr().Unmap(), p.Endpoint.Port())
	}
	return tc, nil
}

func (e *Engine) up(c *wgconf.Config, cpu int) (_ *engineTunnel, err error) {
	tc, err := TunnelConfigFrom(c)
	if err != nil {
		return nil, err
	}
	tc.Pinned, tc.CPU, tc.Log = true, cpu, e.log
	mtu := c.Interface.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	t := &engineTunnel{name: c.Name}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	t.dev, err = tun.CreateTUN(c.Name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create TUN device (is the name taken by another interface?): %w", err)
	}
	t.tunnel, err = NewTunnel(t.dev, conn.NewStdNetBind(), tc, nil)
	if err != nil {
		t.dev = nil // NewTunnel closed it
		return nil, err
	}
	t.uapi, err = uapi.Listen(c.Name)
	if err != nil {
		// A socket in use is another device's: leave it alone.
		return nil, fmt.Errorf("open UAPI socket %s (device names must be unique on each host): %w", SocketPath(c.Name), err)
	}
	t.served = make(chan struct{})
	go t.serveUAPI(e.log)
	var routes []netip.Prefix
	if !c.Interface.TableOff {
		routes = append(routes, c.Peers[0].AllowedIPs...)
	}
	if err := netconf.ConfigureLink(c.Name, mtu, c.Interface.Addresses, routes, &t.undo); err != nil {
		return nil, err
	}
	return t, nil
}

// serveUAPI accepts UAPI clients until the listener closes.
func (t *engineTunnel) serveUAPI(log *slog.Logger) {
	defer close(t.served)
	for {
		c, err := t.uapi.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := t.tunnel.ServeUAPI(c); err != nil {
				log.Debug("inline: UAPI client", "dev", t.name, "err", err)
			}
		}()
	}
}

// close undoes what up did, in reverse; it tolerates a partial tunnel.
func (t *engineTunnel) close() error {
	var errs []error
	if t.uapi != nil {
		if err := t.uapi.Close(); err != nil {
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
	case t.tunnel != nil:
		if err := t.tunnel.Close(); err != nil { // closes the TUN, which removes the interface
			errs = append(errs, err)
		}
	case t.dev != nil:
		if err := t.dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close TUN: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down %s: %w", t.name, errors.Join(errs...))
	}
	return nil
}

// Devices returns the names of the running tunnels, in config order.
func (e *Engine) Devices() []string {
	names := make([]string, len(e.tunnels))
	for i, t := range e.tunnels {
		names[i] = t.name
	}
	return names
}

// Stats returns a snapshot of every tunnel's counters, in config order.
func (e *Engine) Stats() []TunnelStats {
	out := make([]TunnelStats, len(e.tunnels))
	for i, t := range e.tunnels {
		out[i] = t.tunnel.Stats()
	}
	return out
}

// Close tears all tunnels down, newest first: UAPI sockets closed and
// removed, routes and addresses undone, data threads stopped, TUNs and
// sockets closed; then GOMAXPROCS is restored. It is safe to call more
// than once; later calls return the first result.
func (e *Engine) Close() error {
	e.once.Do(func() {
		var errs []error
		for i := len(e.tunnels) - 1; i >= 0; i-- {
			if err := e.tunnels[i].close(); err != nil {
				errs = append(errs, err)
			}
		}
		if e.oldMaxProcs > 0 {
			runtime.GOMAXPROCS(e.oldMaxProcs)
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}
