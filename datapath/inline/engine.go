package inline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/wgbench/wgbench/datapath/internal/shell"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// DefaultMTU is the TUN MTU used when a configuration sets none.
const DefaultMTU = 1420

// SocketDir is where UAPI sockets live (shared with wireguard-go, wg(8)
// and wgctrl). The path is machine-wide, so device names must be unique
// across the network namespaces of a host.
const SocketDir = uapi.SocketDir

// SocketPath returns the UAPI socket path of device name.
func SocketPath(name string) string { return uapi.SocketPath(name) }

// Options tunes an Engine.
type Options struct {
	// CPUs are the cores tunnels are spread over, round-robin in config
	// order; empty means every core the process may use.
	CPUs []int
	// Log receives the engine's log; nil discards it. Keys never reach it.
	Log *slog.Logger
	// Mode is every tunnel's mode; "" is ModeInline. In ModeHybrid a
	// tunnel may borrow the other cores of CPUs.
	Mode Mode
}

// Engine is a set of running inline tunnels on real TUN devices and UDP
// sockets, each readable through its UAPI socket.
type Engine struct {
	shell       *shell.Engine[engineTunnel]
	oldMaxProcs int // GOMAXPROCS before Up raised it, 0 if unchanged
}

// engineTunnel is a Tunnel as the engine shell runs it.
type engineTunnel struct{ *Tunnel }

// ServeUAPI answers one UAPI client.
func (t engineTunnel) ServeUAPI(c net.Conn) error { return t.Tunnel.ServeUAPI(c) }

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
// GOMAXPROCS to the cores the tunnels use if it is lower (see
// maxProcsFor), lest pinned threads wait for a P while their cores are
// free; Close restores it.
func Up(ctx context.Context, cfgs []*wgconf.Config, opts Options) (*Engine, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{}
	var cpus []int
	prepare := func() error {
		for _, c := range cfgs {
			if len(c.Peers) != 1 {
				return fmt.Errorf("config %s has %d peers; the inline engine serves exactly one peer per tunnel: split it into one config per peer", c.Name, len(c.Peers))
			}
		}
		cpus = opts.CPUs
		if len(cpus) == 0 {
			var err error
			if cpus, err = AllowedCPUs(); err != nil {
				return err
			}
		}
		for _, c := range cpus {
			if c < 0 {
				return fmt.Errorf("CPU %d is not a core number", c)
			}
		}
		if _, err := ParseMode(string(opts.Mode)); err != nil {
			return err
		}
		want := maxProcsFor(len(cfgs))
		if opts.Mode == ModeHybrid {
			// A P for each helper thread a busy tunnel wakes.
			want = min(want+len(cpus), 4*runtime.NumCPU())
		}
		if runtime.GOMAXPROCS(0) < want {
			e.oldMaxProcs = runtime.GOMAXPROCS(want)
		}
		return nil
	}
	open := func(i int, c *wgconf.Config, dev tun.Device, _ int) (engineTunnel, error) {
		tc, err := TunnelConfigFrom(c)
		if err != nil {
			if cerr := dev.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close TUN: %w", cerr))
			}
			return engineTunnel{}, err
		}
		tc.Pinned, tc.CPU, tc.Log = true, cpus[i%len(cpus)], log
		tc.Mode, tc.CPUs = opts.Mode, cpus
		t, err := NewTunnel(dev, newSteerBind(tc.CPU, log), tc, nil) // closes dev on error
		return engineTunnel{t}, err
	}
	sh, err := shell.Up(ctx, cfgs, shell.Spec[engineTunnel]{
		Engine:     "inline",
		DefaultMTU: DefaultMTU,
		Log:        log,
		Prepare:    prepare,
		Open:       open,
		Opened: func(c *wgconf.Config, t engineTunnel) {
			log.Debug("inline tunnel up", "dev", c.Name, "listen_port", t.ListenPort(), "cpu", t.cpu)
		},
		Teardown: func() {
			if e.oldMaxProcs > 0 {
				runtime.GOMAXPROCS(e.oldMaxProcs)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	e.shell = sh
	return e, nil
}

// maxProcsFor is the GOMAXPROCS n tunnels want: a P for each core their
// data threads are pinned to. Threads pinned to one core cannot run at
// once, so more Ps than cores buy nothing; they cost idle Ps whose
// threads spin on the other cores at every wake-up (measured in bench
// datapath: a "1-core" pair kept 0.04-0.27 extra cores busy with 4 Ps,
// 0.01-0.04 with 1).
func maxProcsFor(n int) int {
	return min(n, runtime.NumCPU())
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

// Devices returns the names of the running tunnels, in config order.
func (e *Engine) Devices() []string { return e.shell.Devices() }

// Stats returns a snapshot of every tunnel's counters, in config order.
func (e *Engine) Stats() []TunnelStats {
	tunnels := e.shell.Each()
	out := make([]TunnelStats, len(tunnels))
	for i, t := range tunnels {
		out[i] = t.Stats()
	}
	return out
}

// Close tears all tunnels down, several at a time: UAPI sockets closed
// and removed, routes and addresses undone, data threads stopped, TUNs
// and sockets closed; then GOMAXPROCS is restored. It is safe to call
// more than once; later calls return the first result.
func (e *Engine) Close() error { return e.shell.Close() }
