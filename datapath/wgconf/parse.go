package wgconf

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ParseError is a problem at a line of a configuration file. Its text never
// contains key material.
type ParseError struct {
	// File is the file path (or the name given to Parse).
	File string
	// Line is the 1-based line number; 0 when the problem is the file as a
	// whole.
	Line int
	// Msg says what is wrong and what to write instead.
	Msg string
}

// Error formats the problem as "file:line: message".
func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseFile reads a wg-quick style file. The interface name is the file's
// base name without ".conf".
func ParseFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open WireGuard config: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), ".conf")
	return parse(path, name, f)
}

// Parse reads a wg-quick style configuration for the interface name from r.
// Errors name the interface in place of a file.
func Parse(name string, r io.Reader) (*Config, error) {
	return parse(name, name, r)
}

// ValidName reports whether name is usable as a Linux interface name:
// 1 to 15 characters from a-z A-Z 0-9 _ = + . -.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_=+.-", r)
		if !ok {
			return false
		}
	}
	return true
}

const (
	minMTU = 576
	maxMTU = 65535
)

var unsupported = map[string]string{
	"dns":        "wgbench does not change resolvers",
	"preup":      "wgbench does not run hook commands",
	"postup":     "wgbench does not run hook commands",
	"predown":    "wgbench does not run hook commands",
	"postdown":   "wgbench does not run hook commands",
	"saveconfig": "wgbench never writes configs back",
	"fwmark":     "wgbench does not set firewall marks",
}

// parser holds the state of one parse.
type parser struct {
	file string
	line int
	cfg  *Config

	section    string         // "", "interface" or "peer"
	sectLine   int            // line of the current section header
	seen       map[string]int // scalar key -> line, in the current section
	ifaceLine  int            // line of [Interface], 0 if none yet
	peerLines  []int          // header line of each peer
	hasPrivate bool
	hasPublic  []bool
}

func (p *parser) errf(line int, format string, args ...any) error {
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func parse(file, name string, r io.Reader) (*Config, error) {
	p := &parser{file: file, cfg: &Config{Name: name}}
	if !ValidName(name) {
		return nil, p.errf(0, "interface name %q is not valid: want 1 to 15 characters from a-z A-Z 0-9 _ = + . -; rename the file", name)
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, p.errf(p.line+1, "line too long; a config line fits in 64 KiB")
		}
		return nil, fmt.Errorf("%s: read: %w", file, err)
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func (p *parser) parseLine(raw string) error {
	text, _, _ := strings.Cut(raw, "#")
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if strings.HasPrefix(text, "[") {
		if !strings.HasSuffix(text, "]") {
			return p.errf(p.line, "section header without closing bracket; write [Interface] or [Peer]")
		}
		return p.startSection(strings.TrimSpace(text[1 : len(text)-1]))
	}
	key, value, ok := strings.Cut(text, "=")
	if !ok {
		return p.errf(p.line, "expected `Key = Value`; write one setting per line")
	}
	key = strings.TrimSpace(key)
	value = strings.TrimSpace(value)
	lkey := strings.ToLower(key)
	switch p.section {
	case "":
		return p.errf(p.line, "%s outside a section; put it under [Interface] or [Peer]", describeKey(key))
	case "interface":
		return p.interfaceKey(key, lkey, value)
	default:
		return p.peerKey(key, lkey, value)
	}
}

func (p *parser) startSection(name string) error {
	p.seen = map[string]int{}
	p.sectLine = p.line
	switch strings.ToLower(name) {
	case "interface":
		if p.ifaceLine != 0 {
			return p.errf(p.line, "second [Interface] section (first on line %d); a file describes one interface, merge them", p.ifaceLine)
		}
		p.section = "interface"
		p.ifaceLine = p.line
	case "peer":
		p.section = "peer"
		p.cfg.Peers = append(p.cfg.Peers, Peer{})
		p.peerLines = append(p.peerLines, p.line)
		p.hasPublic = append(p.hasPublic, false)
	default:
		return p.errf(p.line, "unknown section %s; write [Interface] or [Peer]", describeName(name, "[…]"))
	}
	return nil
}

// scalar rejects a second occurrence of a single-valued key in a section.
func (p *parser) scalar(key, lkey string) error {
	if first, dup := p.seen[lkey]; dup {
		return p.errf(p.line, "duplicate %s in this section (first on line %d); keep one", key, first)
	}
	p.seen[lkey] = p.line
	return nil
}

func (p *parser) interfaceKey(key, lkey, value string) error {
	in := &p.cfg.Interface
	switch lkey {
	case "address":
		list, err := p.prefixes("Address", value, false, "198.19.0.1/32")
		if err != nil {
			return err
		}
		in.Addresses = append(in.Addresses, list...)
		return nil
	case "privatekey", "listenport", "mtu", "table":
	default:
		if why, ok := unsupported[lkey]; ok {
			return p.errf(p.line, "%s is not supported by wgbench (%s); remove the line", key, why)
		}
		return p.errf(p.line, "unknown key %s in [Interface]; known keys: PrivateKey, ListenPort, Address, MTU, Table", describeKey(key))
	}
	if err := p.scalar(key, lkey); err != nil {
		return err
	}
	switch lkey {
	case "privatekey":
		k, err := p.key("PrivateKey", value, "wg genkey")
		if err != nil {
			return err
		}
		in.PrivateKey = k
		p.hasPrivate = true
	case "listenport":
		n, err := p.number("ListenPort", value, 1, 65535, "51820")
		if err != nil {
			return err
		}
		in.ListenPort = n
	case "mtu":
		n, err := p.number("MTU", value, minMTU, maxMTU, "1420")
		if err != nil {
			return err
		}
		in.MTU = n
	case "table":
		switch strings.ToLower(value) {
		case "off":
			in.TableOff = true
		case "auto":
		default:
			return p.errf(p.line, "Table = %s is not supported by wgbench; write Table = off (add no routes) or leave it out (routes in the main table)", describeName(value, "…"))
		}
	}
	return nil
}

func (p *parser) peerKey(key, lkey, value string) error {
	i := len(p.cfg.Peers) - 1
	peer := &p.cfg.Peers[i]
	switch lkey {
	case "allowedips":
		list, err := p.prefixes("AllowedIPs", value, true, "198.19.0.2/32, 198.18.2.0/24")
		if err != nil {
			return err
		}
		peer.AllowedIPs = append(peer.AllowedIPs, list...)
		return nil
	case "publickey", "presharedkey", "endpoint", "persistentkeepalive":
	default:
		return p.errf(p.line, "unknown key %s in [Peer]; known keys: PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive", describeKey(key))
	}
	if err := p.scalar(key, lkey); err != nil {
		return err
	}
	switch lkey {
	case "publickey":
		k, err := p.key("PublicKey", value, "wg pubkey")
		if err != nil {
			return err
		}
		peer.PublicKey = k
		p.hasPublic[i] = true
	case "presharedkey":
		k, err := p.key("PresharedKey", value, "wg genpsk")
		if err != nil {
			return err
		}
		peer.PresharedKey = &k
	case "endpoint":
		ap, err := netip.ParseAddrPort(value)
		if err != nil || ap.Port() == 0 {
			return p.errf(p.line, "Endpoint %s is not IP:port (host names are not resolved by wgbench); write e.g. 198.18.255.2:51820 or [2001:db8::2]:51820", quote(value))
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		peer.Endpoint = &ap
	case "persistentkeepalive":
		if strings.EqualFold(value, "off") {
			return nil
		}
		n, err := p.number("PersistentKeepalive", value, 0, 65535, "25")
		if err != nil {
			return err
		}
		peer.PersistentKeepalive = time.Duration(n) * time.Second
	}
	return nil
}

// key decodes a base64 WireGuard key without ever quoting it.
func (p *parser) key(field, value, tool string) (wgtypes.Key, error) {
	if value == "" {
		return wgtypes.Key{}, p.errf(p.line, "%s is empty; write the 44-character key that `%s` prints", field, tool)
	}
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return wgtypes.Key{}, p.errf(p.line, "%s is not valid base64; write the 44-character key that `%s` prints", field, tool)
	}
	if len(b) != wgtypes.KeyLen {
		return wgtypes.Key{}, p.errf(p.line, "%s decodes to %d bytes, want %d; write the 44-character key that `%s` prints", field, len(b), wgtypes.KeyLen, tool)
	}
	var k wgtypes.Key
	copy(k[:], b)
	if field == "PrivateKey" && k == (wgtypes.Key{}) {
		return wgtypes.Key{}, p.errf(p.line, "PrivateKey is all zeros; write the key that `wg genkey` prints")
	}
	return k, nil
}

func (p *parser) number(field, value string, lo, hi int, example string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil {
		return 0, p.errf(p.line, "%s %s is not a number; write e.g. %s = %s", field, quote(value), field, example)
	}
	if n < lo || n > hi {
		return 0, p.errf(p.line, "%s %d out of range; write a value from %d to %d", field, n, lo, hi)
	}
	return n, nil
}

// prefixes parses a comma-separated list of prefixes; a bare address is a
// host prefix. With mask, host bits are cleared (as wg(8) does).
func (p *parser) prefixes(field, value string, mask bool, example string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, p.errf(p.line, "empty entry in %s; write e.g. %s = %s", field, field, example)
		}
		pfx, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				return nil, p.errf(p.line, "%s entry %s is not an IP prefix (CIDR); write e.g. %s = %s", field, quote(item), field, example)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if mask {
			pfx = pfx.Masked()
		}
		out = append(out, pfx)
	}
	return out, nil
}

func (p *parser) finish() error {
	if p.ifaceLine == 0 {
		return p.errf(0, "no [Interface] section; start the file with [Interface] and PrivateKey = <output of wg genkey>")
	}
	if !p.hasPrivate {
		return p.errf(p.ifaceLine, "[Interface] has no PrivateKey; add PrivateKey = <output of wg genkey>")
	}
	self := p.cfg.Interface.PrivateKey.PublicKey()
	keys := map[wgtypes.Key]int{}
	owner := map[netip.Prefix]int{}
	for i, peer := range p.cfg.Peers {
		line := p.peerLines[i]
		if !p.hasPublic[i] {
			return p.errf(line, "[Peer] has no PublicKey; add PublicKey = <output of wg pubkey on the peer>")
		}
		if peer.PublicKey == self {
			return p.errf(line, "[Peer] has this interface's own public key; write the other side's public key")
		}
		if first, dup := keys[peer.PublicKey]; dup {
			return p.errf(line, "[Peer] repeats the PublicKey of the peer on line %d; merge the two sections", first)
		}
		keys[peer.PublicKey] = line
		for _, pfx := range peer.AllowedIPs {
			if first, dup := owner[pfx]; dup {
				return p.errf(line, "AllowedIPs %s is already given to the peer on line %d; a prefix belongs to one peer", pfx, first)
			}
			owner[pfx] = line
		}
	}
	return nil
}

// describeKey quotes a key name only when it cannot be key material.
func describeKey(key string) string {
	return describeName(key, "this key")
}

// describeName returns s when it is a short plain word (so it cannot be a
// leaked key), else the fallback.
func describeName(s, fallback string) string {
	if len(s) == 0 || len(s) > 24 {
		return fallback
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fallback
		}
	}
	return s
}

// quote quotes a value for an error message, unless it looks like a key.
func quote(value string) string {
	if b, err := base64.StdEncoding.DecodeString(value); err == nil && len(b) == wgtypes.KeyLen {
		return "(a value that looks like a key, not shown)"
	}
	return strconv.Quote(value)
}
