package inline

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// The Noise and WireGuard labels (whitepaper Sec. 5.4).
const (
	construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
	identifier   = "WireGuard v1 zx2c4 Jason@zx2c4.com"
	labelMAC1    = "mac1----"
	labelCookie  = "cookie--"
)

const (
	keySize   = 32 // Curve25519 keys, symmetric keys, hashes
	macSize   = 16 // MAC1, MAC2, cookies
	tagSize   = chacha20poly1305.Overhead
	nonceSize = chacha20poly1305.NonceSize
)

// key is a 32-byte key or hash.
type key = [keySize]byte

// initialChainKey and initialHash are Ci = HASH(CONSTRUCTION) and
// Hi = HASH(Ci || IDENTIFIER), the same for every handshake.
var initialChainKey, initialHash = func() (key, key) {
	c := blake2s.Sum256([]byte(construction))
	return c, hashOf(c[:], []byte(identifier))
}()

// hashOf is HASH(parts...): BLAKE2s-256 of the concatenation.
func hashOf(parts ...[]byte) key {
	h, _ := blake2s.New256(nil) // an unkeyed hash cannot fail
	for _, p := range parts {
		h.Write(p)
	}
	var out key
	h.Sum(out[:0])
	return out
}

// macOf is MAC(k, parts...): keyed BLAKE2s-128. k must be 1 to 32 bytes;
// every key here is 16 or 32, so the zero MAC (which verifies nothing)
// of the impossible error case is never returned.
func macOf(k []byte, parts ...[]byte) [macSize]byte {
	var out [macSize]byte
	h, err := blake2s.New128(k)
	if err != nil {
		return out
	}
	for _, p := range parts {
		h.Write(p)
	}
	h.Sum(out[:0])
	return out
}

func newBlake2s() hash.Hash {
	h, _ := blake2s.New256(nil)
	return h
}

// hmacOf is HMAC(k, parts...) with BLAKE2s-256.
func hmacOf(k []byte, parts ...[]byte) key {
	m := hmac.New(newBlake2s, k)
	for _, p := range parts {
		m.Write(p)
	}
	var out key
	m.Sum(out[:0])
	return out
}

// kdf is KDFn(k, input) for n = len(outs): τ0 = HMAC(k, input),
// τ1 = HMAC(τ0, 0x1), τi = HMAC(τ0, τi-1 || i).
func kdf(k []byte, input []byte, outs ...*key) {
	t0 := hmacOf(k, input)
	var prev []byte
	for i, out := range outs {
		*out = hmacOf(t0[:], prev, []byte{byte(i + 1)})
		prev = out[:]
	}
	clear(t0[:])
}

// zeroNonce is the AEAD nonce of counter 0, used by every handshake AEAD.
var zeroNonce [nonceSize]byte

// sealZero appends AEAD(k, 0, plain, ad) to dst.
func sealZero(dst []byte, k *key, plain, ad []byte) []byte {
	a, _ := chacha20poly1305.New(k[:]) // a 32-byte key cannot fail
	return a.Seal(dst, zeroNonce[:], plain, ad)
}

// openZero appends the opening of AEAD(k, 0, ·, ad) to dst.
func openZero(dst []byte, k *key, sealed, ad []byte) ([]byte, error) {
	a, _ := chacha20poly1305.New(k[:])
	return a.Open(dst, zeroNonce[:], sealed, ad)
}

// errLowOrder is returned when a Diffie-Hellman result is all zeros: the
// peer sent a low-order point.
var errLowOrder = errors.New("Curve25519 result is zero (low-order point)")

// dh is DH(priv, pub): X25519, refusing low-order results.
func dh(priv, pub *key) (key, error) {
	var out key
	r, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return out, errLowOrder
	}
	copy(out[:], r)
	clear(r) // X25519 returns a fresh slice: wipe that copy of the secret
	return out, nil
}

// newPrivateKey is DH-GENERATE(): a random, clamped Curve25519 private key.
func newPrivateKey() (key, error) {
	var k key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("read random key: %w", err)
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k, nil
}

// publicKey is DH-PUBKEY(priv).
func publicKey(priv *key) key {
	var pub key
	curve25519.ScalarBaseMult(&pub, priv)
	return pub
}

// equalMAC compares two MACs in constant time.
func equalMAC(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// equalKey compares two keys in constant time.
func equalKey(a, b *key) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// isZero reports whether b is all zeros, in constant time.
func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
