package inline

import (
	"errors"
	"math/rand/v2"
	"time"
)

// handleHandshake consumes one handshake message (MAC1 already checked by
// the RX thread). It runs on the control goroutine.
func (t *Tunnel) handleHandshake(m *hsMessage, now time.Duration) {
	switch messageType(m.data) {
	case msgInitiation:
		if !t.admit(m, now) {
			return
		}
		t.handleInitiation(m, now)
	case msgResponse:
		if !t.admit(m, now) {
			return
		}
		t.handleResponse(m, now)
	case msgCookieReply:
		t.handleCookieReply(m)
	}
}

// admit applies the under-load rules to an initiation or response: it must
// carry a MAC2 made with our cookie for its source (else we send that
// cookie), and its source address is rate limited.
func (t *Tunnel) admit(m *hsMessage, now time.Duration) bool {
	if !t.underLoad(now) {
		return true
	}
	wall := t.clock.Now()
	src := m.ep.DstToBytes()
	if !t.checker.checkMAC2(m.data, src, wall) {
		t.stats.drop(DropMAC, 1)
		sender := uint32(m.data[4]) | uint32(m.data[5])<<8 | uint32(m.data[6])<<16 | uint32(m.data[7])<<24
		reply, err := t.checker.createReply(m.data, sender, src, wall)
		if err != nil {
			t.log.Error("inline: cookie reply", "err", err)
			return false
		}
		buf := make([]byte, cookieReplySize)
		reply.marshal(buf)
		if err := t.bind.Send([][]byte{buf}, m.ep); err != nil {
			t.log.Debug("inline: send cookie reply", "err", err)
		}
		return false
	}
	if !t.rate.Allow(m.ep.DstIP()) {
		t.stats.drop(DropRateLimit, 1)
		return false
	}
	return true
}

// dropHandshake counts a handshake consumption error.
func (t *Tunnel) dropHandshake(err error) {
	switch {
	case errors.Is(err, errUnknownKey):
		t.stats.drop(DropUnknownKey, 1)
	case errors.Is(err, errMalformed):
		t.stats.drop(DropMalformed, 1)
	default:
		t.stats.drop(DropAuth, 1)
	}
}

// handleInitiation answers the peer's initiation: a new session, next
// until the peer confirms it by using it.
func (t *Tunnel) handleInitiation(m *hsMessage, now time.Duration) {
	msg, err := parseInitiation(m.data)
	if err != nil {
		t.dropHandshake(err)
		return
	}
	c, err := t.keys.consumeInitiation(&msg)
	if err != nil {
		t.dropHandshake(err)
		return
	}
	defer c.wipe()
	t.mu.Lock()
	if !tai64nAfter(c.timestamp, t.lastTimestamp) {
		t.mu.Unlock()
		t.stats.drop(DropReplay, 1)
		return
	}
	if t.lastInitiation != 0 && now-t.lastInitiation < handshakeInitiationRate {
		t.mu.Unlock()
		t.stats.drop(DropRateLimit, 1)
		return
	}
	local := t.newIndex()
	eph, err := newPrivateKey()
	if err != nil {
		t.mu.Unlock()
		t.log.Error("inline: handshake response", "err", err)
		return
	}
	resp, keys, err := t.keys.createResponse(c, local, eph)
	clear(eph[:])
	if err != nil {
		t.mu.Unlock()
		t.dropHandshake(err)
		return
	}
	t.lastTimestamp, t.lastInitiation = c.timestamp, now
	t.pairs.installResponder(newKeypair(&keys, now, local, c.remoteIndex, false))
	buf := make([]byte, responseSize)
	resp.marshal(buf)
	t.generator.addMACs(buf, t.clock.Now())
	t.lastSentHandshake = now
	t.mu.Unlock()

	t.stats.rxBytes.Add(uint64(len(m.data)))
	t.sessionDerived.Store(int64(now))
	t.receivedAuthenticated(now)
	t.setEndpoint(m.ep)
	t.sendHandshake(buf, now)
}

// handleResponse completes the handshake we initiated: the new session is
// current at once, and the staged packets (or a keepalive) confirm it.
func (t *Tunnel) handleResponse(m *hsMessage, now time.Duration) {
	msg, err := parseResponse(m.data)
	if err != nil {
		t.dropHandshake(err)
		return
	}
	t.mu.Lock()
	hs := t.hs
	if hs == nil || hs.localIndex != msg.receiver {
		t.mu.Unlock()
		t.stats.drop(DropUnknownIndex, 1)
		return
	}
	keys, err := t.keys.consumeResponse(hs, &msg)
	if err != nil {
		t.mu.Unlock()
		t.dropHandshake(err)
		return
	}
	hs.wipe()
	t.hs, t.hsAttempts = nil, 0
	t.pairs.installInitiator(newKeypair(&keys, now, hs.localIndex, msg.sender, true))
	t.mu.Unlock()

	t.stats.rxBytes.Add(uint64(len(m.data)))
	t.sessionDerived.Store(int64(now))
	t.sessionEstablished()
	t.receivedAuthenticated(now)
	t.setEndpoint(m.ep)
	t.sendKeepalive(now)
}

// handleCookieReply keeps the cookie the peer sent for our last handshake
// message; the next retransmission carries MAC2.
func (t *Tunnel) handleCookieReply(m *hsMessage) {
	r, err := parseCookieReply(m.data)
	if err != nil {
		t.dropHandshake(err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	known := t.hs != nil && t.hs.localIndex == r.receiver
	if next := t.pairs.next.Load(); next != nil && next.localIndex == r.receiver {
		known = true
	}
	if !known {
		t.stats.drop(DropUnknownIndex, 1)
		return
	}
	if err := t.generator.consumeReply(&r, t.clock.Now()); err != nil {
		t.stats.drop(DropAuth, 1)
	}
}

// initiate sends a new handshake initiation. Unless retry, it starts a
// new round of attempts, and it does nothing and reports throttled when a
// handshake message was sent less than RekeyTimeout ago.
func (t *Tunnel) initiate(now time.Duration, retry bool) (throttled bool) {
	if t.remote.Load() == nil {
		return false // nowhere to send it; the peer has to contact us
	}
	t.mu.Lock()
	if !retry {
		if t.lastSentHandshake != 0 && now-t.lastSentHandshake < t.lim.RekeyTimeout {
			t.mu.Unlock()
			return true
		}
		t.hsAttempts = 0
	}
	eph, err := newPrivateKey()
	if err != nil {
		t.mu.Unlock()
		t.log.Error("inline: create handshake initiation", "err", err)
		return false
	}
	msg, hs, err := t.keys.createInitiation(t.clock.Now(), t.newIndex(), eph)
	clear(eph[:]) // hs keeps its own copy
	if err != nil {
		t.mu.Unlock()
		t.log.Error("inline: create handshake initiation", "err", err)
		return false
	}
	if t.hs != nil {
		t.hs.wipe()
	}
	t.hs = hs
	buf := make([]byte, initiationSize)
	msg.marshal(buf)
	t.generator.addMACs(buf, t.clock.Now())
	t.lastSentHandshake = now
	t.hsRetryAt = now + t.lim.RekeyTimeout + rand.N(rekeyTimeoutJitter)
	t.mu.Unlock()
	t.sendHandshake(buf, now)
	return false
}

// sendHandshake sends a handshake message to the peer.
func (t *Tunnel) sendHandshake(buf []byte, now time.Duration) {
	if t.send([][]byte{buf}) {
		t.stats.txBytes.Add(uint64(len(buf)))
		t.sentAuthenticated(now)
	}
}
