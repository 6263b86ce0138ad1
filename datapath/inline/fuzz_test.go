package inline

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedMessages returns valid messages of every type, for seed corpora.
func seedMessages(t testing.TB) (ini, resp, cookie, transport []byte) {
	a, b := handshakePair(t, key{})
	now := time.Unix(1700000000, 0)
	m, st, _ := a.createInitiation(now, 1, fixedKey(3))
	ini = make([]byte, initiationSize)
	m.marshal(ini)
	newCookieGenerator(b.pub).addMACs(ini, now)
	c, err := b.consumeInitiation(&m)
	if err != nil {
		t.Fatal(err)
	}
	r, _, _ := b.createResponse(c, 2, fixedKey(4))
	resp = make([]byte, responseSize)
	r.marshal(resp)
	newCookieGenerator(a.pub).addMACs(resp, now)
	keys, _ := a.consumeResponse(st, &r)
	kp := newKeypair(&keys, 0, 1, 2, true)
	transport = make([]byte, messageRoom(28, 1420))
	copy(transport[transportHeaderSize:], ping(addrB, addrA, 1))
	var nonce [nonceSize]byte
	transport = transport[:sealPacket(kp.send, transport, transport, 28, 1420, 2, 0, &nonce)]
	cr, _ := newCookieChecker(b.pub).createReply(ini, 1, []byte{1, 2, 3, 4, 5, 6}, now)
	cookie = make([]byte, cookieReplySize)
	cr.marshal(cookie)
	return ini, resp, cookie, transport
}

// FuzzParseMessage checks that every message parser survives any input
// and that what parses re-encodes to the same bytes.
func FuzzParseMessage(f *testing.F) {
	ini, resp, cookie, transport := seedMessages(f)
	for _, s := range [][]byte{ini, resp, cookie, transport, nil, {1}, {4, 0, 0, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = messageType(b)
		if m, err := parseInitiation(b); err == nil {
			out := make([]byte, initiationSize)
			m.marshal(out)
			if !bytes.Equal(out, b) {
				t.Fatal("initiation does not round-trip")
			}
		}
		if m, err := parseResponse(b); err == nil {
			out := make([]byte, responseSize)
			m.marshal(out)
			if !bytes.Equal(out, b) {
				t.Fatal("response does not round-trip")
			}
		}
		if m, err := parseCookieReply(b); err == nil {
			out := make([]byte, cookieReplySize)
			m.marshal(out)
			if !bytes.Equal(out, b) {
				t.Fatal("cookie reply does not round-trip")
			}
		}
		_, _, _ = parseTransportHeader(b)
	})
}

// FuzzConsumeHandshake feeds any bytes to the responder's and initiator's
// handshake consumption (MAC checks, Noise, cookie replies).
func FuzzConsumeHandshake(f *testing.F) {
	ini, resp, cookie, _ := seedMessages(f)
	for _, s := range [][]byte{ini, resp, cookie} {
		f.Add(s)
	}
	a, b := handshakePair(f, key{})
	checker := newCookieChecker(b.pub)
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, msg []byte) {
		_ = checker.checkMAC1(msg)
		_ = checker.checkMAC2(msg, []byte{1, 2, 3, 4, 5, 6}, now)
		if m, err := parseInitiation(msg); err == nil {
			if c, err := b.consumeInitiation(&m); err == nil {
				if _, _, err := b.createResponse(c, 2, fixedKey(4)); err != nil {
					t.Fatalf("createResponse after a valid initiation: %v", err)
				}
			}
		}
		if r, err := parseResponse(msg); err == nil {
			_, st, _ := a.createInitiation(now, 1, fixedKey(3))
			_, _ = a.consumeResponse(st, &r)
		}
		if r, err := parseCookieReply(msg); err == nil {
			g := newCookieGenerator(b.pub)
			g.addMACs(append([]byte(nil), ini...), now)
			_ = g.consumeReply(&r, now)
		}
	})
}

// FuzzInnerPacket checks the IP header parsing of decrypted packets.
func FuzzInnerPacket(f *testing.F) {
	f.Add(ping(addrB, addrA, 1))
	f.Add([]byte{0x60, 0, 0, 0, 0, 4})
	f.Add([]byte{0x45})
	allowed := newAllowedIPs([]netip.Prefix{pfxA, netip.MustParsePrefix("fd00::/8")})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, ok := innerLength(p)
		if !ok {
			return
		}
		if n > len(p) {
			t.Fatalf("inner length %d beyond the %d bytes", n, len(p))
		}
		_ = allowed.sourceAllowed(p)
		_ = allowed.destinationAllowed(p)
	})
}

// FuzzReceive feeds any datagram to a tunnel with a live session: the
// whole receive path (dispatch, MAC1, decryption, replay, allowed IPs,
// the control goroutine's handshake handling) must survive it.
func FuzzReceive(f *testing.F) {
	_, _, cookie, _ := seedMessages(f)
	f.Add([]byte{4, 0, 0, 0})
	f.Add(cookie)
	n, a, b := newInlinePair(f, 16, nil)
	rec := &recorder{from: underA}
	n.SetTap(rec.tap)
	handshake(f, a, b)
	f.Add(rec.last(f, msgTransport))
	f.Add(rec.last(f, msgInitiation))
	s := b.tunnel.newRxState()
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, msg []byte) {
		mu.Lock()
		defer mu.Unlock()
		s.sizes[0] = copy(s.bufs[0], msg)
		s.eps[0] = memEndpoint(underA)
		b.tunnel.receiveBatch(s, 1)
	})
}

// FuzzUAPI feeds any request to the UAPI handler.
func FuzzUAPI(f *testing.F) {
	f.Add("get=1\n\n")
	f.Add("set=1\npublic_key=" + strings.Repeat("00", 32) + "\nendpoint=198.18.0.9:1\n\n")
	f.Add("set=1\nlisten_port=x\n\n")
	_, a, _ := newInlinePair(f, 16, nil)
	peer := hex.EncodeToString(a.cfg.Peer.PublicKey[:])
	f.Add("set=1\npublic_key=" + peer + "\nreplace_allowed_ips=true\nallowed_ip=198.19.0.2/32\n\nget=1\n\n")
	f.Fuzz(func(t *testing.T, req string) {
		var out bytes.Buffer
		rw := struct {
			io.Reader
			io.Writer
		}{bufio.NewReader(strings.NewReader(req)), &out}
		_ = a.tunnel.ServeUAPI(rw)
	})
}
