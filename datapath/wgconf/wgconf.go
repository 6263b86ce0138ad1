// Package wgconf reads and writes wg-quick style WireGuard configuration
// files, restricted to the keys wgbench acts on.
//
// A file looks like this:
//
//	[Interface]
//	PrivateKey = <base64 key from `wg genkey`>
//	ListenPort = 51820
//	Address = 198.19.0.1/32
//	MTU = 1420
//	Table = off
//
//	[Peer]
//	PublicKey = <base64 key from `wg pubkey`>
//	PresharedKey = <base64 key from `wg genpsk`>
//	AllowedIPs = 198.19.0.2/32, 198.18.2.0/24
//	Endpoint = 198.18.255.2:51820
//	PersistentKeepalive = 25
//
// Section and key names are case-insensitive, '#' starts a comment, and the
// list keys Address and AllowedIPs may repeat (values accumulate); any other
// key may appear once per section. wg-quick keys that run commands or touch
// resolvers (DNS, PreUp, PostUp, PreDown, PostDown, SaveConfig, FwMark, and
// Table other than "off" or "auto") are rejected as not supported.
//
// No value of this package prints key material except WriteTo, which writes
// the configuration file itself: String, GoString and every error leave
// private and preshared keys out.
package wgconf

import (
	"fmt"
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Config is one WireGuard interface as described by one wg-quick file.
type Config struct {
	// Name is the interface name, taken from the file's base name.
	Name string
	// Interface holds the [Interface] section.
	Interface Interface
	// Peers holds the [Peer] sections in file order.
	Peers []Peer
}

// Interface is the [Interface] section of a configuration.
type Interface struct {
	// PrivateKey is the interface's private key (required).
	PrivateKey wgtypes.Key
	// ListenPort is the UDP port to listen on; 0 lets the datapath choose.
	ListenPort int
	// Addresses are the interface addresses, with their prefix length.
	Addresses []netip.Prefix
	// MTU is the interface MTU; 0 means the datapath default.
	MTU int
	// TableOff records "Table = off": add no routes for the peers'
	// AllowedIPs.
	TableOff bool
}

// Peer is one [Peer] section of a configuration.
type Peer struct {
	// PublicKey is the peer's public key (required).
	PublicKey wgtypes.Key
	// PresharedKey is the optional symmetric key mixed into the handshake.
	PresharedKey *wgtypes.Key
	// AllowedIPs are the peer's prefixes, masked to their prefix length.
	AllowedIPs []netip.Prefix
	// Endpoint is the peer's IP:port; nil when the peer is reached only
	// after it contacts us.
	Endpoint *netip.AddrPort
	// PersistentKeepalive is the keepalive interval (whole seconds); 0 is off.
	PersistentKeepalive time.Duration
}

// String describes the configuration without private or preshared keys.
func (c Config) String() string { return c.Redacted() }

// GoString is String, so that %#v does not print key material either.
func (c Config) GoString() string { return c.Redacted() }

// String describes the section without its private key.
func (i Interface) String() string {
	return fmt.Sprintf("Interface{PrivateKey:(redacted) ListenPort:%d Addresses:%v MTU:%d TableOff:%t}",
		i.ListenPort, i.Addresses, i.MTU, i.TableOff)
}

// GoString is String, so that %#v does not print the private key.
func (i Interface) GoString() string { return i.String() }

// String describes the peer without its preshared key.
func (p Peer) String() string {
	psk := "none"
	if p.PresharedKey != nil {
		psk = "(redacted)"
	}
	ep := "none"
	if p.Endpoint != nil {
		ep = p.Endpoint.String()
	}
	return fmt.Sprintf("Peer{PublicKey:%s PresharedKey:%s AllowedIPs:%v Endpoint:%s PersistentKeepalive:%s}",
		p.PublicKey, psk, p.AllowedIPs, ep, p.PersistentKeepalive)
}

// GoString is String, so that %#v does not print the preshared key.
func (p Peer) GoString() string { return p.String() }
