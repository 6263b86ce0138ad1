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

// sealPacket turns buf, holding a plaintext packet of size n at offset
// transportHeaderSize, into a transport message in place and returns its
// length. buf must hold transportHeaderSize+paddedLen(n)+tagSize bytes.
// nonce is scratch space, kept by the caller so it does not escape.
func sealPacket(aead cipher.AEAD, buf []byte, n, mtu int, receiver uint32, counter uint64, nonce *[nonceSize]byte) int {
	p := paddedLen(n, mtu)
	clear(buf[transportHeaderSize+n : transportHeaderSize+p])
	putTransportHeader(buf, receiver, counter)
	binary.LittleEndian.PutUint64(nonce[4:], counter)
	aead.Seal(buf[transportHeaderSize:transportHeaderSize], nonce[:], buf[transportHeaderSize:transportHeaderSize+p], nil)
	return transportHeaderSize + p + tagSize
}

// messageRoom is the buffer length a plaintext of size n needs to be
// sealed in place.
func messageRoom(n, mtu int) int { return transportHeaderSize + paddedLen(n, mtu) + tagSize }
