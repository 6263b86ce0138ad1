package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/inline"
)

// TunnelStatus is the public state of one WireGuard device. It holds no
// private or preshared keys, so its JSON may go into results and logs.
type TunnelStatus struct {
	// Name is the interface name.
	Name string `json:"name"`
	// Type is the implementation wgctrl reached: "Linux kernel" or
	// "userspace".
	Type string `json:"type"`
	// PublicKey is the device's public key (base64).
	PublicKey string `json:"public_key"`
	// ListenPort is the device's UDP port.
	ListenPort int `json:"listen_port"`
	// Peers are the device's peers.
	Peers []PeerStatus `json:"peers"`
	// Mode is an inline engine tunnel's mode and its latest switches
	// (hybrid mode); absent for other engines.
	Mode *inline.ModeStatus `json:"mode,omitempty"`
}

// PeerStatus is the public state of one peer.
type PeerStatus struct {
	// PublicKey is the peer's public key (base64).
	PublicKey string `json:"public_key"`
	// Endpoint is the peer's current address; absent when unknown.
	Endpoint netip.AddrPort `json:"endpoint,omitzero"`
	// LastHandshake is the time of the last completed handshake; absent
	// when none happened.
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	// RxBytes and TxBytes count bytes received from and sent to the peer,
	// WireGuard overhead included.
	RxBytes int64 `json:"rx_bytes"`
	TxBytes int64 `json:"tx_bytes"`
	// AllowedIPs are the peer's prefixes.
	AllowedIPs []netip.Prefix `json:"allowed_ips"`
}

// StatusOf reads the named tunnels of engine: those of an engine with
// its own counters (openvpn, ipsec) through its hook, the others as
// WireGuard devices (Status).
func StatusOf(engine string, names []string) ([]TunnelStatus, error) {
	if e, ok := engines[engine]; ok && e.status != nil {
		if len(names) == 0 {
			return nil, fmt.Errorf("%s status: no tunnel names given", engine)
		}
		return e.status(names)
	}
	if engine != "" {
		if _, ok := engines[engine]; !ok {
			return nil, fmt.Errorf("status: unknown engine %q", engine)
		}
	}
	return Status(names)
}

// StatusArgs are the arguments `agent wg-stats` needs beyond --dev to
// read engine's tunnels: "--engine NAME" for an engine with its own
// counters, none for the WireGuard engines.
func StatusArgs(engine string) []string {
	if e, ok := engines[engine]; ok && e.status != nil {
		return []string{"--engine", engine}
	}
	return nil
}

// IsBaseline reports whether engine is a tunnel WireGuard is compared
// with (openvpn, ipsec) rather than a WireGuard datapath or plain.
func IsBaseline(engine string) bool { return engines[engine].baseline }

// Status reads the named WireGuard devices through wgctrl: kernel devices
// of the calling thread's network namespace over netlink, wireguard-go
// devices over their UAPI socket (a machine-wide path, which is why the
// names must be given).
func Status(names []string) ([]TunnelStatus, error) {
	if len(names) == 0 {
		return nil, errors.New("wg status: no device names given")
	}
	c, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("wg status: open wgctrl: %w", err)
	}
	defer c.Close()
	out := make([]TunnelStatus, 0, len(names))
	for _, name := range names {
		d, err := c.Device(name)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("wg status: no WireGuard device %s here (no kernel interface in this namespace, no socket %s/%s.sock): %w",
				name, "/var/run/wireguard", name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("wg status: read device %s: %w", name, err)
		}
		out = append(out, tunnelStatus(d))
	}
	return out, nil
}

// tunnelStatus copies the public fields of d; keys other than public ones
// are never read.
func tunnelStatus(d *wgtypes.Device) TunnelStatus {
	s := TunnelStatus{
		Name:       d.Name,
		Type:       d.Type.String(),
		PublicKey:  d.PublicKey.String(),
		ListenPort: d.ListenPort,
		Peers:      make([]PeerStatus, 0, len(d.Peers)),
	}
	for _, p := range d.Peers {
		ps := PeerStatus{
			PublicKey:     p.PublicKey.String(),
			LastHandshake: p.LastHandshakeTime,
			RxBytes:       p.ReceiveBytes,
			TxBytes:       p.TransmitBytes,
			AllowedIPs:    make([]netip.Prefix, 0, len(p.AllowedIPs)),
		}
		if p.Endpoint != nil {
			ap := p.Endpoint.AddrPort()
			ps.Endpoint = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		if ps.LastHandshake.IsZero() || ps.LastHandshake.Unix() == 0 {
			ps.LastHandshake = time.Time{}
		}
		for _, a := range p.AllowedIPs {
			if pfx, ok := prefixOf(a.IP, a.Mask); ok {
				ps.AllowedIPs = append(ps.AllowedIPs, pfx)
			}
		}
		s.Peers = append(s.Peers, ps)
	}
	return s
}

// prefixOf converts a net.IPNet's parts to a netip.Prefix.
func prefixOf(ip net.IP, mask net.IPMask) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ip)
	ones, bits := mask.Size()
	if !ok || bits == 0 {
		return netip.Prefix{}, false
	}
	if bits == 32 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, ones), true
}
