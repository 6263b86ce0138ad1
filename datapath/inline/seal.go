package inline

import (
	"crypto/cipher"
	"encoding/binary"
)

// paddedLen is the length plaintext of size n is padded to: a multiple of
// 16, but not beyond the MTU (whitepaper Sec. 5.4.6).
func paddedLen(n, mtu int) int {
	p := (n + 15) &^ 15
	if p > mtu {
		p = max(n, mtu)
	}
	return p
}

// sealPacket turns src, holding a plaintext packet of size n at offset
// transportHeaderSize, into a transport message at the start of dst and
// returns its length. dst is either src (sealing in place) or memory that
// does not overlap it; both must hold transportHeaderSize+paddedLen(n)+
// tagSize bytes, and src's padding is zeroed. nonce is scratch space, kept
// by the caller so it does not escape.
func sealPacket(aead cipher.AEAD, dst, src []byte, n, mtu int, receiver uint32, counter uint64, nonce *[nonceSize]byte) int {
	p := paddedLen(n, mtu)
	clear(src[transportHeaderSize+n : transportHeaderSize+p])
	putTransportHeader(dst, receiver, counter)
	binary.LittleEndian.PutUint64(nonce[4:], counter)
	aead.Seal(dst[transportHeaderSize:transportHeaderSize], nonce[:], src[transportHeaderSize:transportHeaderSize+p], nil)
	return transportHeaderSize + p + tagSize
}

// messageRoom is the buffer length a plaintext of size n needs to be
// sealed in place.
func messageRoom(n, mtu int) int { return transportHeaderSize + paddedLen(n, mtu) + tagSize }
