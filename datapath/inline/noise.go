package inline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Handshake failures, each mapped to a drop reason by the caller.
var (
	// errAuth: a handshake AEAD did not open (wrong key, flipped bit) or
	// a Diffie-Hellman result was zero.
	errAuth = errors.New("handshake authentication failed")
	// errUnknownKey: the initiation came from a static key that is not
	// this tunnel's peer.
	errUnknownKey = errors.New("handshake from an unknown static key")
)

// noiseKeys holds one tunnel's static keys and what is precomputed from
// them for its single peer.
type noiseKeys struct {
	priv, pub key // our static key pair
	peer      key // the peer's static public key
	psk       key // preshared key Q; zeros when none
	ss        key // DH(priv, peer), the static-static secret
	// hashToPeer is HASH(HASH(Ci || IDENTIFIER) || peer): the hash an
	// initiation we send starts from. hashToUs is the same with our key:
	// the hash an initiation we receive starts from.
	hashToPeer, hashToUs key
}

// newNoiseKeys precomputes the handshake values of priv and peer.
func newNoiseKeys(priv, peer, psk key) (*noiseKeys, error) {
	n := &noiseKeys{priv: priv, peer: peer, psk: psk}
	n.priv[0] &= 248
	n.priv[31] = (n.priv[31] & 127) | 64
	n.pub = publicKey(&n.priv)
	if n.pub == peer {
		n.wipe()
		return nil, errors.New("the peer's public key is our own")
	}
	ss, err := dh(&n.priv, &n.peer)
	if err != nil {
		n.wipe()
		return nil, fmt.Errorf("peer public key: %w", err)
	}
	n.ss = ss
	n.hashToPeer = hashOf(initialHash[:], peer[:])
	n.hashToUs = hashOf(initialHash[:], n.pub[:])
	return n, nil
}

// wipe clears the secrets of n: the static private key, the preshared
// key and the static-static secret. Nothing may use n afterwards.
func (n *noiseKeys) wipe() {
	clear(n.priv[:])
	clear(n.psk[:])
	clear(n.ss[:])
}

// initiatorState is the state an initiator keeps between sending its
// initiation and consuming the response.
type initiatorState struct {
	localIndex uint32
	ephPriv    key
	chainKey   key
	hash       key
}

// wipe clears the secrets of s.
func (s *initiatorState) wipe() {
	clear(s.ephPriv[:])
	clear(s.chainKey[:])
	clear(s.hash[:])
}

// createInitiation builds a handshake initiation (without MACs) from
// localIndex at time now, with ephemeral private key eph (fresh from
// newPrivateKey; tests pass fixed ones).
func (n *noiseKeys) createInitiation(now time.Time, localIndex uint32, eph key) (initiation, *initiatorState, error) {
	var m initiation
	s := &initiatorState{localIndex: localIndex, ephPriv: eph}
	ck, h := initialChainKey, n.hashToPeer
	m.sender = localIndex
	m.ephemeral = publicKey(&eph)
	kdf(ck[:], m.ephemeral[:], &ck)
	h = hashOf(h[:], m.ephemeral[:])
	es, err := dh(&eph, &n.peer)
	if err != nil {
		s.wipe()
		return m, nil, err
	}
	var k key
	kdf(ck[:], es[:], &ck, &k)
	clear(es[:])
	sealZero(m.static[:0], &k, n.pub[:], h[:])
	h = hashOf(h[:], m.static[:])
	kdf(ck[:], n.ss[:], &ck, &k)
	ts := tai64n(now)
	sealZero(m.timestamp[:0], &k, ts[:], h[:])
	h = hashOf(h[:], m.timestamp[:])
	s.chainKey, s.hash = ck, h
	clear(k[:])
	clear(ck[:])
	return m, s, nil
}

// consumedInitiation is what a responder learns from an initiation.
type consumedInitiation struct {
	remoteIndex uint32
	ephemeral   key
	timestamp   [tai64nSize]byte
	chainKey    key
	hash        key
}

// wipe clears the secrets of c.
func (c *consumedInitiation) wipe() {
	clear(c.chainKey[:])
	clear(c.hash[:])
}

// consumeInitiation authenticates an initiation (MACs already checked)
// and returns its contents. It fails with errAuth or errUnknownKey.
func (n *noiseKeys) consumeInitiation(m *initiation) (*consumedInitiation, error) {
	ck, h := initialChainKey, n.hashToUs
	kdf(ck[:], m.ephemeral[:], &ck)
	h = hashOf(h[:], m.ephemeral[:])
	es, err := dh(&n.priv, &m.ephemeral)
	if err != nil {
		return nil, errAuth
	}
	var k, static key
	defer func() { clear(k[:]); clear(ck[:]) }()
	kdf(ck[:], es[:], &ck, &k)
	clear(es[:])
	if _, err := openZero(static[:0], &k, m.static[:], h[:]); err != nil {
		return nil, errAuth
	}
	h = hashOf(h[:], m.static[:])
	if static != n.peer {
		return nil, errUnknownKey
	}
	kdf(ck[:], n.ss[:], &ck, &k)
	c := &consumedInitiation{remoteIndex: m.sender, ephemeral: m.ephemeral}
	if _, err := openZero(c.timestamp[:0], &k, m.timestamp[:], h[:]); err != nil {
		return nil, errAuth
	}
	c.hash = hashOf(h[:], m.timestamp[:])
	c.chainKey = ck
	return c, nil
}

// sessionKeys are the transport keys a handshake yields.
type sessionKeys struct {
	send, recv key
}

// createResponse answers a consumed initiation from localIndex with
// ephemeral private key eph and returns the response (without MACs) and
// the responder's session keys. It wipes the secrets of c, and every
// intermediate, whatever the outcome.
func (n *noiseKeys) createResponse(c *consumedInitiation, localIndex uint32, eph key) (response, sessionKeys, error) {
	var m response
	var keys sessionKeys
	var ee, se, tau, k key
	ck, h := c.chainKey, c.hash
	c.wipe()
	defer func() {
		clear(eph[:])
		clear(ee[:])
		clear(se[:])
		clear(tau[:])
		clear(k[:])
		clear(ck[:])
	}()
	m.sender, m.receiver = localIndex, c.remoteIndex
	m.ephemeral = publicKey(&eph)
	kdf(ck[:], m.ephemeral[:], &ck)
	h = hashOf(h[:], m.ephemeral[:])
	var err error
	if ee, err = dh(&eph, &c.ephemeral); err != nil {
		return m, keys, errAuth
	}
	kdf(ck[:], ee[:], &ck)
	if se, err = dh(&eph, &n.peer); err != nil {
		return m, keys, errAuth
	}
	kdf(ck[:], se[:], &ck)
	kdf(ck[:], n.psk[:], &ck, &tau, &k)
	h = hashOf(h[:], tau[:])
	sealZero(m.empty[:0], &k, nil, h[:])
	kdf(ck[:], nil, &keys.recv, &keys.send) // (Tsend_i = Trecv_r, Trecv_i = Tsend_r)
	return m, keys, nil
}

// consumeResponse authenticates a response to the initiation of s (MACs
// already checked) and returns the initiator's session keys.
func (n *noiseKeys) consumeResponse(s *initiatorState, m *response) (sessionKeys, error) {
	var keys sessionKeys
	var ee, se, tau, k key
	ck, h := s.chainKey, s.hash
	defer func() {
		clear(ee[:])
		clear(se[:])
		clear(tau[:])
		clear(k[:])
		clear(ck[:])
	}()
	kdf(ck[:], m.ephemeral[:], &ck)
	h = hashOf(h[:], m.ephemeral[:])
	var err error
	if ee, err = dh(&s.ephPriv, &m.ephemeral); err != nil {
		return keys, errAuth
	}
	kdf(ck[:], ee[:], &ck)
	if se, err = dh(&n.priv, &m.ephemeral); err != nil {
		return keys, errAuth
	}
	kdf(ck[:], se[:], &ck)
	kdf(ck[:], n.psk[:], &ck, &tau, &k)
	h = hashOf(h[:], tau[:])
	if _, err := openZero(nil, &k, m.empty[:], h[:]); err != nil {
		return keys, errAuth
	}
	kdf(ck[:], nil, &keys.send, &keys.recv)
	return keys, nil
}

// tai64nBase is 2^62 + 10: TAI64 labels count from it.
const tai64nBase = uint64(0x400000000000000a)

// tai64n encodes t as a TAI64N label. The nanoseconds are rounded down to
// a multiple of 2^24 (about 16.8ms), as other implementations do, so that
// initiations do not reveal a precise clock.
func tai64n(t time.Time) [tai64nSize]byte {
	var b [tai64nSize]byte
	binary.BigEndian.PutUint64(b[:], tai64nBase+uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond())&^(1<<24-1))
	return b
}

// tai64nAfter reports whether label a is later than label b.
func tai64nAfter(a, b [tai64nSize]byte) bool { return bytes.Compare(a[:], b[:]) > 0 }
