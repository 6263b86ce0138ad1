package wgconf

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// WriteTo writes c in wg-quick format, keys included; Parse reads it back
// to an equal Config. It implements io.WriterTo.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, c.render(false))
	return int64(n), err
}

// Redacted returns c in wg-quick format with the private and preshared keys
// replaced by "(redacted)", for logs and error reports.
func (c *Config) Redacted() string {
	return "# " + c.Name + "\n" + c.render(true)
}

func (c *Config) render(redact bool) string {
	var b strings.Builder
	secret := func(k wgtypes.Key) string {
		if redact {
			return "(redacted)"
		}
		return k.String()
	}
	in := c.Interface
	b.WriteString("[Interface]\n")
	fmt.Fprintf(&b, "PrivateKey = %s\n", secret(in.PrivateKey))
	if in.ListenPort != 0 {
		fmt.Fprintf(&b, "ListenPort = %d\n", in.ListenPort)
	}
	if len(in.Addresses) > 0 {
		fmt.Fprintf(&b, "Address = %s\n", joinPrefixes(in.Addresses))
	}
	if in.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", in.MTU)
	}
	if in.TableOff {
		b.WriteString("Table = off\n")
	}
	for _, p := range c.Peers {
		b.WriteString("\n[Peer]\n")
		fmt.Fprintf(&b, "PublicKey = %s\n", p.PublicKey)
		if p.PresharedKey != nil {
			fmt.Fprintf(&b, "PresharedKey = %s\n", secret(*p.PresharedKey))
		}
		if len(p.AllowedIPs) > 0 {
			fmt.Fprintf(&b, "AllowedIPs = %s\n", joinPrefixes(p.AllowedIPs))
		}
		if p.Endpoint != nil {
			fmt.Fprintf(&b, "Endpoint = %s\n", p.Endpoint)
		}
		if p.PersistentKeepalive != 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", int(p.PersistentKeepalive/time.Second))
		}
	}
	return b.String()
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// Validate checks a Config built in code against the rules Parse enforces
// on files. Its errors name the interface, never key material.
func (c *Config) Validate() error {
	if c == nil {
		return errors.New("nil WireGuard config")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("config %s: %s", c.Name, fmt.Sprintf(format, args...))
	}
	if !ValidName(c.Name) {
		return bad("interface name is not valid: want 1 to 15 characters from a-z A-Z 0-9 _ = + . -")
	}
	in := c.Interface
	if in.PrivateKey == (wgtypes.Key{}) {
		return bad("no PrivateKey")
	}
	if in.ListenPort < 0 || in.ListenPort > 65535 {
		return bad("ListenPort %d out of range 0..65535", in.ListenPort)
	}
	if in.MTU != 0 && (in.MTU < minMTU || in.MTU > maxMTU) {
		return bad("MTU %d out of range %d..%d", in.MTU, minMTU, maxMTU)
	}
	for _, a := range in.Addresses {
		if !a.IsValid() {
			return bad("invalid Address")
		}
	}
	self := in.PrivateKey.PublicKey()
	keys := map[wgtypes.Key]bool{}
	for i, p := range c.Peers {
		switch {
		case p.PublicKey == (wgtypes.Key{}):
			return bad("peer %d has no PublicKey", i+1)
		case p.PublicKey == self:
			return bad("peer %d has the interface's own public key", i+1)
		case keys[p.PublicKey]:
			return bad("peer %d repeats the PublicKey of an earlier peer", i+1)
		case p.Endpoint != nil && (!p.Endpoint.IsValid() || p.Endpoint.Port() == 0):
			return bad("peer %d has an invalid Endpoint", i+1)
		case p.PersistentKeepalive < 0 || p.PersistentKeepalive > 65535*time.Second || p.PersistentKeepalive%time.Second != 0:
			return bad("peer %d PersistentKeepalive %s is not whole seconds in 0..65535", i+1, p.PersistentKeepalive)
		}
		keys[p.PublicKey] = true
		for _, a := range p.AllowedIPs {
			if !a.IsValid() {
				return bad("peer %d has an invalid AllowedIPs entry", i+1)
			}
		}
	}
	return nil
}
