package inline

import (
	"sync/atomic"
	"time"
)

// DropReason says why a packet was dropped.
type DropReason string

// The drop reasons. Every packet the engine discards is counted under one.
const (
	// DropMalformed: not a WireGuard message of a known type and size, or
	// a decrypted payload that is not a whole IPv4/IPv6 packet, or an
	// outgoing packet too large for the tunnel's buffers.
	DropMalformed DropReason = "malformed"
	// DropMAC: a handshake message with a wrong MAC1, or without a valid
	// MAC2 while the tunnel is under load (a cookie reply is sent).
	DropMAC DropReason = "mac"
	// DropUnknownKey: a handshake initiation from a static key that is
	// not the tunnel's peer.
	DropUnknownKey DropReason = "unknown_key"
	// DropUnknownIndex: a transport message, response or cookie reply for
	// a session index we do not have (such as data from an unknown key).
	DropUnknownIndex DropReason = "unknown_index"
	// DropAuth: authenticated decryption failed (a flipped bit, a wrong
	// key), for transport data or handshakes.
	DropAuth DropReason = "auth"
	// DropReplay: a transport counter already seen or behind the window,
	// or an initiation whose timestamp is not newer than the last one.
	DropReplay DropReason = "replay"
	// DropExpired: a session past its reject-after limits.
	DropExpired DropReason = "expired"
	// DropAllowedIPs: a decrypted packet whose source is outside the
	// peer's AllowedIPs.
	DropAllowedIPs DropReason = "allowed_ips"
	// DropNoRoute: an outgoing packet whose destination is outside the
	// peer's AllowedIPs.
	DropNoRoute DropReason = "no_route"
	// DropNoSession: an outgoing packet that waited for a handshake that
	// did not come (queue overflow, or the handshake gave up).
	DropNoSession DropReason = "no_session"
	// DropRateLimit: a handshake refused by flood protection.
	DropRateLimit DropReason = "rate_limit"
	// DropQueueFull: a handshake message dropped because the control
	// goroutine's queue was full.
	DropQueueFull DropReason = "queue_full"
	// DropIO: packets lost because a TUN write or UDP send failed.
	DropIO DropReason = "io"
)

// numDropReasons is len(DropReasons) (a test keeps them in step).
const numDropReasons = 13

// DropReasons lists every DropReason, in a stable order.
var DropReasons = []DropReason{
	DropMalformed, DropMAC, DropUnknownKey, DropUnknownIndex, DropAuth, DropReplay, DropExpired,
	DropAllowedIPs, DropNoRoute, DropNoSession, DropRateLimit, DropQueueFull, DropIO,
}

// dropIndex maps a reason to its counter slot.
var dropIndex = func() map[DropReason]int {
	m := make(map[DropReason]int, len(DropReasons))
	for i, r := range DropReasons {
		m[r] = i
	}
	return m
}()

// counters are a tunnel's statistics, updated atomically once per batch.
type counters struct {
	rxBytes, txBytes     atomic.Uint64
	rxPackets, txPackets atomic.Uint64
	handshakes           atomic.Uint64
	drops                [numDropReasons]atomic.Uint64
}

// drop counts n packets dropped for reason r.
func (c *counters) drop(r DropReason, n int) {
	c.drops[dropIndex[r]].Add(uint64(n))
}

// TunnelStats is a snapshot of one tunnel's counters. It holds no key
// material.
type TunnelStats struct {
	// Name is the tunnel's device name.
	Name string `json:"name"`
	// Core is the CPU the tunnel's data threads are pinned to; -1 when
	// they are not pinned.
	Core int `json:"core"`
	// ListenPort is the UDP port of the tunnel's socket.
	ListenPort int `json:"listen_port"`
	// RxBytes counts the WireGuard messages (handshakes and transport
	// data, as UDP payload) authenticated from the peer, as wg(8) shows.
	RxBytes uint64 `json:"rx_bytes"`
	// TxBytes counts the WireGuard messages sent to the peer.
	TxBytes uint64 `json:"tx_bytes"`
	// RxPackets counts transport data messages (keepalives included)
	// authenticated from the peer.
	RxPackets uint64 `json:"rx_packets"`
	// TxPackets counts transport data messages sent to the peer.
	TxPackets uint64 `json:"tx_packets"`
	// Handshakes counts sessions established, either side initiating.
	Handshakes uint64 `json:"handshakes"`
	// LastHandshake is when the last session was established; zero when
	// none was.
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	// Drops counts dropped packets by reason; every reason is present.
	Drops map[DropReason]uint64 `json:"drops"`
	// Failure says why the tunnel stopped on its own (see Tunnel.Err);
	// empty while it runs.
	Failure string `json:"failure,omitempty"`
	// Mode is the tunnel's configured mode; ActiveMode what it runs in
	// now (a hybrid tunnel runs inline until it borrows cores).
	Mode       Mode `json:"mode"`
	ActiveMode Mode `json:"active_mode"`
	// ModeChanges counts the switches of a hybrid tunnel; ModeLog holds
	// the latest of them, oldest first.
	ModeChanges uint64       `json:"mode_changes"`
	ModeLog     []ModeChange `json:"mode_log,omitempty"`
}

// snapshot copies c into s.
func (c *counters) snapshot(s *TunnelStats) {
	s.RxBytes, s.TxBytes = c.rxBytes.Load(), c.txBytes.Load()
	s.RxPackets, s.TxPackets = c.rxPackets.Load(), c.txPackets.Load()
	s.Handshakes = c.handshakes.Load()
	s.Drops = make(map[DropReason]uint64, len(DropReasons))
	for i, r := range DropReasons {
		s.Drops[r] = c.drops[i].Load()
	}
}
