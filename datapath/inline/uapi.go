package inline

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// uapiError is a UAPI failure with the errno the protocol reports.
type uapiError struct {
	errno unix.Errno
	msg   string
}

// Error returns the message; the errno goes on the wire.
func (e *uapiError) Error() string { return e.msg }

func uapiErrorf(errno unix.Errno, format string, args ...any) error {
	return &uapiError{errno: errno, msg: fmt.Sprintf(format, args...)}
}

// ServeUAPI speaks the WireGuard cross-platform userspace protocol
// (https://www.wireguard.com/xplatform/) on rw until the client hangs up:
// "get=1" returns the device and its peer with counters, "set=1" changes
// what an inline tunnel can change at run time (the peer's endpoint,
// persistent keepalive and AllowedIPs). The reply to get carries the
// private and preshared keys, as the protocol requires; the socket is
// root-only, and nothing here logs them.
func (t *Tunnel) ServeUAPI(rw io.ReadWriter) error {
	r := bufio.NewReader(rw)
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uapi: read request: %w", err)
		}
		var opErr error
		switch strings.TrimSuffix(line, "\n") {
		case "get=1":
			var blank string
			if blank, err = r.ReadString('\n'); err != nil || blank != "\n" {
				opErr = uapiErrorf(unix.EPROTO, "get=1 must be followed by an empty line")
				break
			}
			if err := t.Err(); err != nil {
				// Report why the tunnel stopped (wg(8) says "Network
				// is down"), not a device that no longer carries data.
				opErr = uapiErrorf(unix.ENETDOWN, "tunnel stopped: %v", err)
				break
			}
			opErr = t.uapiGet(rw)
		case "set=1":
			opErr = t.uapiSet(r)
		default:
			opErr = uapiErrorf(unix.EPROTO, "unknown operation %q", strings.TrimSpace(line))
		}
		errno := 0
		if opErr != nil {
			errno = int(unix.EIO)
			var ue *uapiError
			if errors.As(opErr, &ue) {
				errno = int(ue.errno)
			}
			t.log.Debug("inline: UAPI request failed", "err", opErr)
		}
		if _, err := fmt.Fprintf(rw, "errno=%d\n\n", errno); err != nil {
			return fmt.Errorf("uapi: write reply: %w", err)
		}
		var ue *uapiError
		if errors.As(opErr, &ue) && ue.errno == unix.EPROTO {
			return opErr // the stream is out of step; hang up
		}
	}
}

// uapiGet writes the device and its peer in "get" format.
func (t *Tunnel) uapiGet(w io.Writer) error {
	var b strings.Builder
	t.mu.Lock() // Close wipes the keys under it
	if t.closed() {
		t.mu.Unlock()
		return uapiErrorf(unix.ENETDOWN, "tunnel closed")
	}
	fmt.Fprintf(&b, "private_key=%s\n", hex.EncodeToString(t.keys.priv[:]))
	fmt.Fprintf(&b, "listen_port=%d\n", t.port)
	t.uapiMode(&b)
	fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(t.keys.peer[:]))
	fmt.Fprintf(&b, "preshared_key=%s\n", hex.EncodeToString(t.keys.psk[:]))
	t.mu.Unlock()
	b.WriteString("protocol_version=1\n")
	if ep := t.remote.Load(); ep != nil {
		fmt.Fprintf(&b, "endpoint=%s\n", ep.ep.DstToString())
	}
	var sec, nsec int64
	if ns := t.lastHandshakeWall.Load(); ns != 0 {
		sec, nsec = ns/1e9, ns%1e9
	}
	fmt.Fprintf(&b, "last_handshake_time_sec=%d\nlast_handshake_time_nsec=%d\n", sec, nsec)
	fmt.Fprintf(&b, "tx_bytes=%d\nrx_bytes=%d\n", t.stats.txBytes.Load(), t.stats.rxBytes.Load())
	fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", time.Duration(t.pkeep.Load())/time.Second)
	for _, p := range t.allowed.Load().prefixes {
		fmt.Fprintf(&b, "allowed_ip=%s\n", p)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("uapi: write device: %w", err)
	}
	return nil
}

// uapiMode writes the tunnel's mode as device keys of its own, which
// wg(8) and wgctrl skip: inline_mode (configured), inline_active_mode,
// inline_mode_changes and, for each of the latest changes, oldest first,
// inline_mode_change=UNIX_NS,MODE[,CORES] (CORES: the lent cores, as a
// list such as 1-3).
func (t *Tunnel) uapiMode(b *strings.Builder) {
	st := t.Stats()
	fmt.Fprintf(b, "inline_mode=%s\ninline_active_mode=%s\ninline_mode_changes=%d\n", st.Mode, st.ActiveMode, st.ModeChanges)
	for _, c := range st.ModeLog {
		fmt.Fprintf(b, "inline_mode_change=%d,%s", c.At.UnixNano(), c.To)
		if len(c.Cores) > 0 {
			fmt.Fprintf(b, ",%s", cpuset.Set(c.Cores))
		}
		b.WriteString("\n")
	}
}

// uapiChange is a parsed "set" request, applied only when all of it is
// valid.
type uapiChange struct {
	endpoint     *netip.AddrPort
	keepalive    *time.Duration
	replaceIPs   bool
	allowedIPs   []netip.Prefix
	allowedIPSet bool
}

// uapiSet reads a "set" request up to its empty line and applies it.
func (t *Tunnel) uapiSet(r *bufio.Reader) error {
	var (
		c      uapiChange
		inPeer bool
		fail   error
	)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return uapiErrorf(unix.EPROTO, "set request not ended by an empty line: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		if fail != nil {
			continue // read to the end of the request, then report
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			fail = uapiErrorf(unix.EPROTO, "set: line %q is not key=value", line)
			continue
		}
		if k == "public_key" {
			pk, err := parseHexKey(v)
			if err != nil {
				fail = err
			} else if pk != t.keys.peer {
				fail = uapiErrorf(unix.EINVAL, "set: an inline tunnel serves one peer; it cannot add or change peers")
			}
			inPeer = true
			continue
		}
		if inPeer {
			fail = t.setPeerKey(&c, k, v)
		} else {
			fail = t.setDeviceKey(k, v)
		}
	}
	if fail != nil {
		return fail
	}
	t.applyChange(&c)
	return nil
}

// keyIs compares a key given over UAPI with one of the tunnel's, in
// constant time and under t.mu (Close wipes the tunnel's keys under it).
// A stopped tunnel's keys match nothing.
func (t *Tunnel) keyIs(given, ours *key) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.closed() && equalKey(given, ours)
}

// setDeviceKey checks an interface-level key; inline can only confirm the
// values it runs with.
func (t *Tunnel) setDeviceKey(k, v string) error {
	switch k {
	case "private_key":
		pk, err := parseHexKey(v)
		if err != nil {
			return err
		}
		if !t.keyIs((*key)(&pk), &t.keys.priv) {
			return uapiErrorf(unix.EINVAL, "set: an inline tunnel cannot change its private key; bring it up again")
		}
	case "listen_port":
		if v != strconv.Itoa(int(t.port)) {
			return uapiErrorf(unix.EINVAL, "set: an inline tunnel cannot change its listen port; bring it up again")
		}
	case "fwmark":
		if v != "0" && v != "" {
			return uapiErrorf(unix.EINVAL, "set: an inline tunnel does not support fwmark")
		}
	case "replace_peers":
		if v != "true" && v != "false" {
			return uapiErrorf(unix.EINVAL, "set: replace_peers=%q", v)
		}
	default:
		return uapiErrorf(unix.EINVAL, "set: unknown interface key %q", k)
	}
	return nil
}

// setPeerKey parses a peer-level key into c.
func (t *Tunnel) setPeerKey(c *uapiChange, k, v string) error {
	switch k {
	case "update_only", "remove":
		if k == "remove" && v == "true" {
			return uapiErrorf(unix.EINVAL, "set: an inline tunnel cannot remove its only peer")
		}
	case "preshared_key":
		psk, err := parseHexKey(v)
		if err != nil {
			return err
		}
		if !t.keyIs((*key)(&psk), &t.keys.psk) {
			return uapiErrorf(unix.EINVAL, "set: an inline tunnel cannot change its preshared key; bring it up again")
		}
	case "endpoint":
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return uapiErrorf(unix.EINVAL, "set: endpoint %q: %v", v, err)
		}
		c.endpoint = &ap
	case "persistent_keepalive_interval":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return uapiErrorf(unix.EINVAL, "set: persistent_keepalive_interval %q: want 0..65535", v)
		}
		d := time.Duration(n) * time.Second
		c.keepalive = &d
	case "replace_allowed_ips":
		c.replaceIPs = v == "true"
	case "allowed_ip":
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return uapiErrorf(unix.EINVAL, "set: allowed_ip %q: %v", v, err)
		}
		c.allowedIPs = append(c.allowedIPs, p.Masked())
		c.allowedIPSet = true
	case "protocol_version":
		if v != "1" {
			return uapiErrorf(unix.EINVAL, "set: protocol_version %q not supported", v)
		}
	default:
		return uapiErrorf(unix.EINVAL, "set: unknown peer key %q", k)
	}
	return nil
}

// applyChange installs a validated set request.
func (t *Tunnel) applyChange(c *uapiChange) {
	if c.endpoint != nil {
		if ep, err := t.bind.ParseEndpoint(c.endpoint.String()); err == nil {
			t.remote.Store(&endpoint{ep})
		}
	}
	if c.keepalive != nil {
		t.pkeep.Store(int64(*c.keepalive))
		if *c.keepalive > 0 && t.remote.Load() != nil {
			t.poke()
		}
	}
	if c.replaceIPs || c.allowedIPSet {
		ps := c.allowedIPs
		if !c.replaceIPs {
			ps = append(append([]netip.Prefix(nil), t.allowed.Load().prefixes...), ps...)
		}
		t.allowed.Store(newAllowedIPs(ps))
	}
}

// parseHexKey decodes a UAPI key (64 hex digits).
func parseHexKey(s string) (wgtypes.Key, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(wgtypes.Key{}) {
		return wgtypes.Key{}, uapiErrorf(unix.EINVAL, "set: a key must be 64 hex digits")
	}
	return wgtypes.Key(b), nil
}
