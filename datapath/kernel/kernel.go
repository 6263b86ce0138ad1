// Package kernel runs WireGuard tunnels on the Linux kernel's own module:
// one wireguard interface per tunnel, made over rtnetlink and configured
// with wgctrl, addressed and routed through datapath/netconf as wg-quick
// would, and tuned by the knobs of Tuning (threaded NAPI, NAPI thread
// placement, RPS, UDP GRO forwarding, the patched inline module's
// attributes). Every host setting a knob changes is recorded with its
// value before and after, and restored on Close.
//
// The sysfs and procfs files, thread affinities and NIC features go
// through Host, so that the knobs are testable against a temporary tree;
// LocalHost is the running kernel's.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/netconf"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// Engine is a set of kernel WireGuard interfaces and the knobs applied
// to them.
type Engine struct {
	log     *slog.Logger
	h       *netlink.Handle
	tunnels []*tunnel
	tuner   *Tuner
	journal *Journal
	once    sync.Once
	err     error
}

type tunnel struct {
	name  string
	index int // 0 until the link exists
	undo  netconf.Undo
}

// Up brings up one kernel WireGuard interface per configuration in the
// network namespace of the calling thread and applies tuning to them, on
// the running kernel (LocalHost). See UpOn.
func Up(ctx context.Context, cfgs []*wgconf.Config, tuning Tuning, log *slog.Logger) (*Engine, error) {
	return UpOn(ctx, cfgs, tuning, LocalHost(), log)
}

// UpOn brings up one kernel WireGuard interface per configuration in the
// network namespace of the calling thread: the link (type wireguard,
// named after the config), its private key, listen port and peers set
// through wgctrl, then MTU (when the config sets one; the kernel's
// default is 1420), addresses, link up and, unless Table = off, a route
// per peer AllowedIP. Then it applies tuning through host (see
// Tuner.Apply); the WAN NIC of the WAN knobs is tuning.WANDevice or else
// the link that routes to the first peer endpoint (without one, the WAN
// knobs fail, or are skipped when optional).
//
// If anything fails, what was done is undone and the error names the
// failing configuration or knob. Cancelling ctx stops Up between
// devices. A thread that entered a namespace must stay locked while Up
// runs; Close may then be called from any goroutine.
func UpOn(ctx context.Context, cfgs []*wgconf.Config, tuning Tuning, host Host, log *slog.Logger) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := wgconf.ValidateSet(cfgs); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if err := tuning.Validate(); err != nil {
		return nil, fmt.Errorf("kernel: tuning: %w", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("kernel: open rtnetlink: %w", err)
	}
	e := &Engine{log: log, h: h, tuner: NewTuner(host, log)}
	if tuning.Journal != "" {
		if e.journal, err = CreateJournal(tuning.Journal); err != nil {
			h.Close()
			return nil, fmt.Errorf("kernel: %w", err)
		}
		e.tuner.SetJournal(e.journal)
	}
	wg, err := wgctrl.New()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("kernel: open wgctrl: %w", err), e.Close())
	}
	defer wg.Close()
	for _, c := range cfgs {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("kernel: bring up %s: %w", c.Name, err), e.Close())
		}
		t := &tunnel{name: c.Name}
		e.tunnels = append(e.tunnels, t)
		if err := e.up(wg, t, c); err != nil {
			return nil, errors.Join(fmt.Errorf("kernel: bring up %s: %w", c.Name, err), e.Close())
		}
		log.Debug("kernel WireGuard device up", "dev", c.Name, "listen_port", c.Interface.ListenPort, "peers", len(c.Peers))
	}
	if len(tuning.Set()) > 0 {
		tuning.ListenPorts = nil
		for _, c := range cfgs {
			tuning.ListenPorts = append(tuning.ListenPorts, c.Interface.ListenPort)
		}
		wan := tuning.WANDevice
		if wan == "" && tuning.needsWAN() {
			if wan, err = e.wanDevice(cfgs); err != nil {
				e.tuner.SetWANError(err)
			}
		}
		if err := e.tuner.Apply(e.Devices(), wan, tuning); err != nil {
			return nil, errors.Join(fmt.Errorf("kernel: tuning: %w", err), e.Close())
		}
	}
	return e, nil
}

// up makes t's link from c, configures it and brings it up.
func (e *Engine) up(wg *wgctrl.Client, t *tunnel, c *wgconf.Config) error {
	err := e.h.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: c.Name}})
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("create link: an interface named %s exists already in this namespace", c.Name)
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTSUP):
		return fmt.Errorf("create link: this kernel has no WireGuard module (modprobe wireguard): %w", err)
	case err != nil:
		return fmt.Errorf("create wireguard link: %w", err)
	}
	l, err := e.h.LinkByName(c.Name)
	if err != nil {
		return fmt.Errorf("find the new link: %w", err)
	}
	t.index = l.Attrs().Index
	if err := e.journal.Add(journalEntry{Kind: journalLink, Dev: c.Name}); err != nil {
		return err
	}
	if err := wg.ConfigureDevice(c.Name, deviceConfig(c)); err != nil {
		return fmt.Errorf("configure device through wgctrl: %w", err)
	}
	var routes []netip.Prefix
	if !c.Interface.TableOff {
		for _, p := range c.Peers {
			routes = append(routes, p.AllowedIPs...)
		}
	}
	return netconf.ConfigureLink(c.Name, c.Interface.MTU, c.Interface.Addresses, routes, &t.undo)
}

// deviceConfig renders c for wgctrl: private key, listen port, and
// exactly the peers of c.
func deviceConfig(c *wgconf.Config) wgtypes.Config {
	key := c.Interface.PrivateKey
	cfg := wgtypes.Config{PrivateKey: &key, ReplacePeers: true, Peers: make([]wgtypes.PeerConfig, 0, len(c.Peers))}
	if c.Interface.ListenPort != 0 {
		port := c.Interface.ListenPort
		cfg.ListenPort = &port
	}
	for _, p := range c.Peers {
		keepalive := p.PersistentKeepalive
		pc := wgtypes.PeerConfig{
			PublicKey:                   p.PublicKey,
			PresharedKey:                p.PresharedKey,
			PersistentKeepaliveInterval: &keepalive,
			ReplaceAllowedIPs:           true,
			AllowedIPs:                  make([]net.IPNet, 0, len(p.AllowedIPs)),
		}
		if p.Endpoint != nil {
			pc.Endpoint = net.UDPAddrFromAddrPort(*p.Endpoint)
		}
		for _, a := range p.AllowedIPs {
			pc.AllowedIPs = append(pc.AllowedIPs, net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())})
		}
		cfg.Peers = append(cfg.Peers, pc)
	}
	return cfg
}

// wanDevice returns the link that routes to the first peer endpoint.
func (e *Engine) wanDevice(cfgs []*wgconf.Config) (string, error) {
	for _, c := range cfgs {
		for _, p := range c.Peers {
			if p.Endpoint == nil {
				continue
			}
			ip := p.Endpoint.Addr().Unmap()
			rs, err := e.h.RouteGet(ip.AsSlice())
			if err != nil || len(rs) == 0 {
				return "", fmt.Errorf("find the WAN NIC: no route to the endpoint %s (%v); pass --wan-dev", ip, err)
			}
			l, err := e.h.LinkByIndex(rs[0].LinkIndex)
			if err != nil {
				return "", fmt.Errorf("find the WAN NIC: link %d of the route to %s: %w", rs[0].LinkIndex, ip, err)
			}
			return l.Attrs().Name, nil
		}
	}
	return "", errors.New("find the WAN NIC: no peer has an Endpoint to route to; pass --wan-dev")
}

// Devices returns the names of the engine's interfaces, in config order.
func (e *Engine) Devices() []string {
	names := make([]string, len(e.tunnels))
	for i, t := range e.tunnels {
		names[i] = t.name
	}
	return names
}

// Report returns what the engine's tuning changed on the host.
func (e *Engine) Report() Report {
	return e.tuner.Report()
}

// TuningReport returns Report for the datapath's "tuning" line.
func (e *Engine) TuningReport() any { return e.Report() }

// Close restores every knob (newest first), undoes routes, addresses
// and MTU, and deletes the interfaces. It is best-effort and safe to call
// more than once; later calls return the first result.
func (e *Engine) Close() error {
	e.once.Do(func() {
		var errs []error
		if err := e.tuner.Restore(); err != nil {
			errs = append(errs, fmt.Errorf("kernel: restore knobs: %w", err))
		}
		for i := len(e.tunnels) - 1; i >= 0; i-- {
			t := e.tunnels[i]
			if err := t.undo.Run(); err != nil {
				errs = append(errs, fmt.Errorf("kernel: tear down %s: %w", t.name, err))
			}
			if t.index == 0 {
				continue
			}
			err := e.h.LinkDel(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Index: t.index, Name: t.name}})
			if err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("kernel: delete link %s: %w", t.name, err))
			}
		}
		e.h.Close()
		if len(errs) == 0 {
			errs = append(errs, e.journal.Remove())
		} else if e.journal != nil {
			errs = append(errs, e.journal.Close(), fmt.Errorf("kernel: journal %s kept: `wgbench agent undo --journal %s` retries", e.journal.Path(), e.journal.Path()))
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}
