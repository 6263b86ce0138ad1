package inline

import "time"

// runTimers evaluates the protocol's timers (whitepaper Sec. 6) at now.
// The data path only stamps times (tx.go, rx.go); this function, on the
// control goroutine, acts on them:
//
//   - a requested handshake (no session, rekey after time or messages),
//     held back while a handshake message went out less than
//     RekeyTimeout ago;
//   - retransmission of an unanswered initiation every RekeyTimeout
//     (plus jitter), giving up after RekeyAttemptTime;
//   - a new handshake when data sent got no authenticated reply within
//     KeepaliveTimeout + RekeyTimeout;
//   - a keepalive when data received was not answered within
//     KeepaliveTimeout;
//   - the persistent keepalive;
//   - forgetting all session keys 3 × RejectAfterTime after the last
//     session was derived.
func (t *Tunnel) runTimers(now time.Duration) {
	if t.wantHandshake.Load() {
		// A throttled request stays pending until RekeyTimeout after the
		// last handshake message, unless an initiation is in flight: its
		// retransmissions take over.
		t.mu.Lock()
		inFlight := t.hs != nil
		t.mu.Unlock()
		if inFlight || !t.initiate(now, false) {
			t.wantHandshake.Store(false)
		}
	}

	t.mu.Lock()
	inFlight, retryAt, attempts := t.hs != nil, t.hsRetryAt, t.hsAttempts
	t.mu.Unlock()
	if inFlight && now >= retryAt {
		if attempts >= int(t.lim.RekeyAttemptTime/t.lim.RekeyTimeout) {
			t.giveUpHandshake()
		} else {
			t.mu.Lock()
			t.hsAttempts++
			t.mu.Unlock()
			t.initiate(now, true)
		}
	}

	if s := t.dataSentUnanswered.Load(); s != 0 && now-time.Duration(s) >= t.lim.KeepaliveTimeout+t.lim.RekeyTimeout {
		t.dataSentUnanswered.Store(0)
		t.initiate(now, false)
	}

	if r := t.dataRecvUnanswered.Load(); r != 0 && now-time.Duration(r) >= t.lim.KeepaliveTimeout {
		t.sendKeepalive(now)
	}

	if pk := time.Duration(t.pkeep.Load()); pk > 0 {
		last := time.Duration(max(t.lastSent.Load(), t.lastRecv.Load()))
		if last != 0 && now-last >= pk {
			t.sendKeepalive(now)
		}
	}

	if d := t.sessionDerived.Load(); d != 0 && now-time.Duration(d) >= 3*t.lim.RejectAfterTime {
		t.zeroKeys()
	}
}

// giveUpHandshake stops retrying after RekeyAttemptTime and drops the
// packets that waited for the handshake.
func (t *Tunnel) giveUpHandshake() {
	t.mu.Lock()
	if t.hs != nil {
		t.hs.wipe()
		t.hs = nil
	}
	t.hsAttempts = 0
	t.mu.Unlock()
	t.dataSentUnanswered.Store(0)
	t.dropStaged()
	t.log.Debug("inline: handshake did not complete; giving up until there is traffic again")
}

// zeroKeys forgets every session and the handshake in flight.
func (t *Tunnel) zeroKeys() {
	t.mu.Lock()
	t.pairs.clear()
	if t.hs != nil {
		t.hs.wipe()
		t.hs = nil
	}
	t.mu.Unlock()
	t.sessionDerived.Store(0)
}
