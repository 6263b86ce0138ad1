package inline

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Message types (the first byte; the next three are zero).
const (
	msgInitiation  = 1
	msgResponse    = 2
	msgCookieReply = 3
	msgTransport   = 4
)

// Message sizes and field offsets (whitepaper Sec. 5.4).
const (
	initiationSize      = 148
	responseSize        = 92
	cookieReplySize     = 64
	transportHeaderSize = 16
	keepaliveSize       = transportHeaderSize + tagSize
	cookieNonceSize     = 24
	tai64nSize          = 12
	// encryptedStaticSize and encryptedTimestampSize are the sealed
	// static key and timestamp of an initiation.
	encryptedStaticSize    = keySize + tagSize
	encryptedTimestampSize = tai64nSize + tagSize
	encryptedCookieSize    = macSize + tagSize
)

// errMalformed marks bytes that are not a well-formed WireGuard message.
var errMalformed = errors.New("malformed message")

// messageType returns the type of the message in b: the first four bytes
// as a little-endian integer, so non-zero reserved bytes give no known
// type.
func messageType(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// initiation is a handshake initiation (type 1).
type initiation struct {
	sender    uint32
	ephemeral key
	static    [encryptedStaticSize]byte
	timestamp [encryptedTimestampSize]byte
	mac1      [macSize]byte
	mac2      [macSize]byte
}

// parseInitiation decodes a handshake initiation.
func parseInitiation(b []byte) (initiation, error) {
	var m initiation
	if len(b) != initiationSize || messageType(b) != msgInitiation {
		return m, fmt.Errorf("handshake initiation of %d bytes: %w", len(b), errMalformed)
	}
	m.sender = binary.LittleEndian.Uint32(b[4:])
	copy(m.ephemeral[:], b[8:40])
	copy(m.static[:], b[40:88])
	copy(m.timestamp[:], b[88:116])
	copy(m.mac1[:], b[116:132])
	copy(m.mac2[:], b[132:148])
	return m, nil
}

// marshal encodes m into b, which must hold initiationSize bytes.
func (m *initiation) marshal(b []byte) {
	_ = b[initiationSize-1]
	binary.LittleEndian.PutUint32(b, msgInitiation)
	binary.LittleEndian.PutUint32(b[4:], m.sender)
	copy(b[8:40], m.ephemeral[:])
	copy(b[40:88], m.static[:])
	copy(b[88:116], m.timestamp[:])
	copy(b[116:132], m.mac1[:])
	copy(b[132:148], m.mac2[:])
}

// response is a handshake response (type 2).
type response struct {
	sender    uint32
	receiver  uint32
	ephemeral key
	empty     [tagSize]byte
	mac1      [macSize]byte
	mac2      [macSize]byte
}

// parseResponse decodes a handshake response.
func parseResponse(b []byte) (response, error) {
	var m response
	if len(b) != responseSize || messageType(b) != msgResponse {
		return m, fmt.Errorf("handshake response of %d bytes: %w", len(b), errMalformed)
	}
	m.sender = binary.LittleEndian.Uint32(b[4:])
	m.receiver = binary.LittleEndian.Uint32(b[8:])
	copy(m.ephemeral[:], b[12:44])
	copy(m.empty[:], b[44:60])
	copy(m.mac1[:], b[60:76])
	copy(m.mac2[:], b[76:92])
	return m, nil
}

// marshal encodes m into b, which must hold responseSize bytes.
func (m *response) marshal(b []byte) {
	_ = b[responseSize-1]
	binary.LittleEndian.PutUint32(b, msgResponse)
	binary.LittleEndian.PutUint32(b[4:], m.sender)
	binary.LittleEndian.PutUint32(b[8:], m.receiver)
	copy(b[12:44], m.ephemeral[:])
	copy(b[44:60], m.empty[:])
	copy(b[60:76], m.mac1[:])
	copy(b[76:92], m.mac2[:])
}

// cookieReply is a cookie reply (type 3).
type cookieReply struct {
	receiver uint32
	nonce    [cookieNonceSize]byte
	cookie   [encryptedCookieSize]byte
}

// parseCookieReply decodes a cookie reply.
func parseCookieReply(b []byte) (cookieReply, error) {
	var m cookieReply
	if len(b) != cookieReplySize || messageType(b) != msgCookieReply {
		return m, fmt.Errorf("cookie reply of %d bytes: %w", len(b), errMalformed)
	}
	m.receiver = binary.LittleEndian.Uint32(b[4:])
	copy(m.nonce[:], b[8:32])
	copy(m.cookie[:], b[32:64])
	return m, nil
}

// marshal encodes m into b, which must hold cookieReplySize bytes.
func (m *cookieReply) marshal(b []byte) {
	_ = b[cookieReplySize-1]
	binary.LittleEndian.PutUint32(b, msgCookieReply)
	binary.LittleEndian.PutUint32(b[4:], m.receiver)
	copy(b[8:32], m.nonce[:])
	copy(b[32:64], m.cookie[:])
}

// parseTransportHeader decodes the header of a transport data message
// (type 4): the receiver's index and the counter. b must hold at least a
// keepalive (header and tag).
func parseTransportHeader(b []byte) (receiver uint32, counter uint64, err error) {
	if len(b) < keepaliveSize || messageType(b) != msgTransport {
		return 0, 0, fmt.Errorf("transport message of %d bytes: %w", len(b), errMalformed)
	}
	return binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint64(b[8:]), nil
}

// putTransportHeader writes a transport data header into b[:16].
func putTransportHeader(b []byte, receiver uint32, counter uint64) {
	_ = b[transportHeaderSize-1]
	binary.LittleEndian.PutUint32(b, msgTransport)
	binary.LittleEndian.PutUint32(b[4:], receiver)
	binary.LittleEndian.PutUint64(b[8:], counter)
}
