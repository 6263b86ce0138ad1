package inline

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// MAC positions: mac1 and mac2 are the last 32 bytes of a handshake
// message.
func mac1Offset(msg []byte) int { return len(msg) - 2*macSize }
func mac2Offset(msg []byte) int { return len(msg) - macSize }

// cookieChecker is the responder side of the cookie mechanism (whitepaper
// Sec. 5.4.4, 5.4.7): it verifies MAC1 and MAC2 of handshake messages sent
// to us and builds cookie replies. It is used by the control goroutine
// only, except checkMAC1, which reads immutable fields.
type cookieChecker struct {
	mac1Key      key // HASH(LABEL_MAC1 || our public key)
	cookieKey    key // HASH(LABEL_COOKIE || our public key)
	secret       key // Rm, rotated every cookieRefreshTime
	secretSet    time.Time
	secretLoaded bool
}

func newCookieChecker(ourPub key) *cookieChecker {
	return &cookieChecker{
		mac1Key:   hashOf([]byte(labelMAC1), ourPub[:]),
		cookieKey: hashOf([]byte(labelCookie), ourPub[:]),
	}
}

// checkMAC1 reports whether msg (a whole handshake message) carries a
// valid MAC1 for us.
func (c *cookieChecker) checkMAC1(msg []byte) bool {
	off := mac1Offset(msg)
	if off < 4 {
		return false
	}
	want := macOf(c.mac1Key[:], msg[:off])
	return equalMAC(want[:], msg[off:off+macSize])
}

// cookie returns τ = MAC(Rm, src), rotating Rm when it is older than
// cookieRefreshTime.
func (c *cookieChecker) cookie(src []byte, now time.Time) ([macSize]byte, error) {
	if !c.secretLoaded || now.Sub(c.secretSet) >= cookieRefreshTime {
		if _, err := rand.Read(c.secret[:]); err != nil {
			return [macSize]byte{}, fmt.Errorf("cookie secret: %w", err)
		}
		c.secretSet, c.secretLoaded = now, true
	}
	return macOf(c.secret[:], src), nil
}

// checkMAC2 reports whether msg carries a MAC2 made with the cookie of
// source address src.
func (c *cookieChecker) checkMAC2(msg, src []byte, now time.Time) bool {
	off := mac2Offset(msg)
	if off < 4 || !c.secretLoaded || now.Sub(c.secretSet) >= cookieRefreshTime {
		return false
	}
	tau := macOf(c.secret[:], src)
	want := macOf(tau[:], msg[:off])
	return equalMAC(want[:], msg[off:])
}

// createReply builds the cookie reply to msg (whose sender index is
// receiver) from source address src.
func (c *cookieChecker) createReply(msg []byte, receiver uint32, src []byte, now time.Time) (cookieReply, error) {
	r := cookieReply{receiver: receiver}
	tau, err := c.cookie(src, now)
	if err != nil {
		return r, err
	}
	if _, err := rand.Read(r.nonce[:]); err != nil {
		return r, fmt.Errorf("cookie nonce: %w", err)
	}
	a, _ := chacha20poly1305.NewX(c.cookieKey[:]) // a 32-byte key cannot fail
	off := mac1Offset(msg)
	a.Seal(r.cookie[:0], r.nonce[:], tau[:], msg[off:off+macSize])
	return r, nil
}

// cookieGenerator is the initiator side of the cookie mechanism: it adds
// MAC1 and MAC2 to the handshake messages we send to the peer and
// consumes the peer's cookie replies. Used by the control goroutine only.
type cookieGenerator struct {
	mac1Key     key // HASH(LABEL_MAC1 || peer's public key)
	cookieKey   key // HASH(LABEL_COOKIE || peer's public key)
	cookie      [macSize]byte
	cookieSet   time.Time
	haveCookie  bool
	lastMAC1    [macSize]byte
	haveLastMAC bool
}

func newCookieGenerator(peerPub key) *cookieGenerator {
	return &cookieGenerator{
		mac1Key:   hashOf([]byte(labelMAC1), peerPub[:]),
		cookieKey: hashOf([]byte(labelCookie), peerPub[:]),
	}
}

// addMACs fills in MAC1 and, with a fresh cookie, MAC2 of msg (a whole
// handshake message), and remembers MAC1 for a cookie reply.
func (g *cookieGenerator) addMACs(msg []byte, now time.Time) {
	off1, off2 := mac1Offset(msg), mac2Offset(msg)
	mac1 := macOf(g.mac1Key[:], msg[:off1])
	copy(msg[off1:], mac1[:])
	g.lastMAC1, g.haveLastMAC = mac1, true
	if g.haveCookie && now.Sub(g.cookieSet) < cookieRefreshTime {
		mac2 := macOf(g.cookie[:], msg[:off2])
		copy(msg[off2:], mac2[:])
		return
	}
	clear(msg[off2:])
}

// errNoCookieExpected: a cookie reply arrived while we had sent nothing it
// could answer.
var errNoCookieExpected = errors.New("cookie reply without a handshake message to answer")

// consumeReply decrypts a cookie reply to our last handshake message and
// keeps its cookie for MAC2.
func (g *cookieGenerator) consumeReply(r *cookieReply, now time.Time) error {
	if !g.haveLastMAC {
		return errNoCookieExpected
	}
	a, _ := chacha20poly1305.NewX(g.cookieKey[:])
	var c [macSize]byte
	if _, err := a.Open(c[:0], r.nonce[:], r.cookie[:], g.lastMAC1[:]); err != nil {
		return errAuth
	}
	g.cookie, g.cookieSet, g.haveCookie = c, now, true
	g.haveLastMAC = false
	return nil
}
