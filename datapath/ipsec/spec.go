// Package ipsec carries tunnels in the kernel's ESP, tunnel mode, as a
// baseline datapath beside the WireGuard engines: per tunnel one SA pair
// and one policy pair (with the forward policy a gateway needs) and a
// route, all set through netlink (xfrm) with random keys and SPIs, no IKE
// daemon. A journal records every change so that `wgbench agent undo`
// removes them after the datapath was killed.
package ipsec

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// AEADs maps the scenario's cipher names to the kernel's AEAD templates.
var AEADs = map[string]string{
	"AES-256-GCM":       "rfc4106(gcm(aes))",
	"CHACHA20-POLY1305": "rfc7539esp(chacha20,poly1305)",
}

// keyLen is the key length of both AEADs: a 256-bit key and a 32-bit
// salt (GCM) or nonce (ChaCha20-Poly1305).
const keyLen = 36

// icvBits is the integrity check value of both AEADs.
const icvBits = 128

// kernelAEAD returns the kernel template of cipher: a scenario name
// (AES-256-GCM, CHACHA20-POLY1305, "" for the first) or a template.
func kernelAEAD(cipher string) (string, error) {
	if cipher == "" {
		return AEADs["AES-256-GCM"], nil
	}
	if k, ok := AEADs[cipher]; ok {
		return k, nil
	}
	for _, k := range AEADs {
		if k == cipher {
			return k, nil
		}
	}
	names := make([]string, 0, len(AEADs))
	for n := range AEADs {
		names = append(names, n)
	}
	slices.Sort(names)
	return "", fmt.Errorf("cipher %q; allowed: %s", cipher, strings.Join(names, ", "))
}

// SA is one direction of a tunnel: its SPI and key.
type SA struct {
	SPI uint32 `json:"spi"`
	Key []byte `json:"key"`
}

// Tunnel is one end of an ESP tunnel: what `wgbench datapath up --engine
// ipsec` reads from a --config file (JSON). It holds the keys: write it
// with mode 0600 and never log it.
type Tunnel struct {
	// Name names the tunnel (the testbed's device name; ESP makes no
	// device).
	Name string `json:"name"`
	// Local and Remote are the two ends' WAN addresses.
	Local  netip.Addr `json:"local"`
	Remote netip.Addr `json:"remote"`
	// Behind is the prefix behind this end, Route the prefix behind the
	// other, routed into the tunnel.
	Behind netip.Prefix `json:"behind"`
	Route  netip.Prefix `json:"route"`
	// Cipher is the AEAD (see AEADs); "" means AES-256-GCM.
	Cipher string `json:"cipher,omitempty"`
	// Reqid ties the tunnel's policies to its SAs; unique per tunnel.
	Reqid int `json:"reqid"`
	// Out encrypts what this end sends, In decrypts what it receives.
	Out SA `json:"out"`
	In  SA `json:"in"`
}

// Validate checks t's fields.
func (t *Tunnel) Validate() error {
	switch {
	case t.Name == "" || strings.ContainsAny(t.Name, "/ \t\n"):
		return fmt.Errorf("ipsec tunnel: bad name %q", t.Name)
	case !t.Local.IsValid() || !t.Remote.IsValid() || !t.Behind.IsValid() || !t.Route.IsValid():
		return fmt.Errorf("ipsec tunnel %s: local, remote, behind and route are required", t.Name)
	case t.Out.SPI < 0x100 || t.In.SPI < 0x100 || t.Out.SPI == t.In.SPI:
		return fmt.Errorf("ipsec tunnel %s: SPIs must be distinct and at least 0x100", t.Name)
	case len(t.Out.Key) != keyLen || len(t.In.Key) != keyLen:
		return fmt.Errorf("ipsec tunnel %s: keys must be %d bytes", t.Name, keyLen)
	}
	if _, err := kernelAEAD(t.Cipher); err != nil {
		return fmt.Errorf("ipsec tunnel %s: %w", t.Name, err)
	}
	return nil
}

// NewPair makes both ends of tunnel name between a and b (WAN addresses)
// carrying traffic between behindA and behindB, with fresh random keys
// and SPIs.
func NewPair(name string, reqid int, a, b netip.Addr, behindA, behindB netip.Prefix, cipher string) (ta, tb *Tunnel, err error) {
	ab, err := newSA()
	if err != nil {
		return nil, nil, err
	}
	ba, err := newSA()
	if err != nil {
		return nil, nil, err
	}
	for ab.SPI == ba.SPI {
		if ba, err = newSA(); err != nil {
			return nil, nil, err
		}
	}
	ta = &Tunnel{Name: name, Local: a, Remote: b, Behind: behindA, Route: behindB, Cipher: cipher, Reqid: reqid, Out: ab, In: ba}
	tb = &Tunnel{Name: name, Local: b, Remote: a, Behind: behindB, Route: behindA, Cipher: cipher, Reqid: reqid, Out: ba, In: ab}
	return ta, tb, nil
}

// newSA makes a random SPI (above the reserved range) and key.
func newSA() (SA, error) {
	b := make([]byte, 4+keyLen)
	if _, err := rand.Read(b); err != nil {
		return SA{}, fmt.Errorf("ipsec: random key: %w", err)
	}
	spi := binary.BigEndian.Uint32(b[:4])%(1<<31-0x1000) + 0x1000
	return SA{SPI: spi, Key: b[4:]}, nil
}

// Load reads a tunnel end from a JSON file written by Marshal.
func Load(path string) (*Tunnel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ipsec tunnel: %w", err)
	}
	var t Tunnel
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse ipsec tunnel %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// Marshal encodes t for Load. The result holds the keys.
func (t *Tunnel) Marshal() ([]byte, error) { return json.MarshalIndent(t, "", "  ") }
