package inline

import (
	"crypto/cipher"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.zx2c4.com/wireguard/replay"
)

// keypair is one session's transport state (whitepaper Sec. 5.4.6).
type keypair struct {
	send, recv  cipher.AEAD
	sendNonce   atomic.Uint64 // next counter to send
	replay      replay.Filter // guarded by Tunnel.rxMu
	created     time.Duration // tunnel-relative creation time
	localIndex  uint32        // our index: transport messages to us carry it
	remoteIndex uint32        // the peer's index: we put it in transport messages
	initiator   bool          // we initiated the handshake of this session
	// rekeyRequested and rekeyOnRecvRequested make the data path ask for
	// a handshake at most once per keypair and reason.
	rekeyRequested       atomic.Bool
	rekeyOnRecvRequested atomic.Bool
}

// newKeypair makes the keypair of a finished handshake and wipes keys.
func newKeypair(keys *sessionKeys, created time.Duration, local, remote uint32, initiator bool) *keypair {
	send, _ := chacha20poly1305.New(keys.send[:]) // 32-byte keys cannot fail
	recv, _ := chacha20poly1305.New(keys.recv[:])
	clear(keys.send[:])
	clear(keys.recv[:])
	return &keypair{send: send, recv: recv, created: created, localIndex: local, remoteIndex: remote, initiator: initiator}
}

// keypairs holds the current, previous and next sessions. The data path
// reads them without locks; they are replaced under Tunnel.mu only.
type keypairs struct {
	current, previous, next atomic.Pointer[keypair]
}

// lookup returns the keypair whose local index is idx, or nil.
func (k *keypairs) lookup(idx uint32) *keypair {
	for _, p := range [...]*atomic.Pointer[keypair]{&k.current, &k.previous, &k.next} {
		if kp := p.Load(); kp != nil && kp.localIndex == idx {
			return kp
		}
	}
	return nil
}

// installInitiator makes kp current after a handshake we initiated: the
// old current becomes previous (or an unconfirmed next does).
func (k *keypairs) installInitiator(kp *keypair) {
	if next := k.next.Load(); next != nil {
		k.next.Store(nil)
		k.previous.Store(next)
	} else {
		k.previous.Store(k.current.Load())
	}
	k.current.Store(kp)
}

// installResponder makes kp next after a handshake we answered; it
// becomes current when the peer first uses it.
func (k *keypairs) installResponder(kp *keypair) {
	k.next.Store(kp)
	k.previous.Store(nil)
}

// confirm rotates next into current when kp is next, and reports whether
// it did.
func (k *keypairs) confirm(kp *keypair) bool {
	if k.next.Load() != kp {
		return false
	}
	k.previous.Store(k.current.Load())
	k.current.Store(kp)
	k.next.Store(nil)
	return true
}

// clear drops every session.
func (k *keypairs) clear() {
	k.current.Store(nil)
	k.previous.Store(nil)
	k.next.Store(nil)
}
