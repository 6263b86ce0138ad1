package inline

import "time"

// stage keeps copies of the packets bufs[idx] (plaintext at offset
// transportHeaderSize, sizes[i] bytes) until a session exists, and asks
// for a handshake. When the queue is full the oldest packets go.
func (t *Tunnel) stage(bufs [][]byte, sizes []int, idx []int) {
	if len(idx) == 0 {
		return
	}
	t.mu.Lock()
	for _, i := range idx {
		n := sizes[i]
		p := make([]byte, transportHeaderSize+n, messageRoom(n, t.mtu))
		copy(p[transportHeaderSize:], bufs[i][transportHeaderSize:transportHeaderSize+n])
		t.stageLocked(p)
	}
	t.mu.Unlock()
	t.requestHandshake()
}

// stageLocked queues p, dropping the oldest packet when the queue is full.
// The caller holds t.mu.
func (t *Tunnel) stageLocked(p []byte) {
	if len(t.staged) >= stagedQueueSize {
		t.staged[0] = nil
		t.staged = t.staged[1:]
		t.stats.drop(DropNoSession, 1)
	}
	t.staged = append(t.staged, p)
}

// dropStaged discards the staged packets (the handshake gave up).
func (t *Tunnel) dropStaged() {
	t.mu.Lock()
	n := len(t.staged)
	t.staged = nil
	t.mu.Unlock()
	t.stats.drop(DropNoSession, n)
}

// sendKeepalive sends the staged packets, or a keepalive when none are
// staged: an authenticated empty message that keeps NAT state and the
// peer's timers alive and confirms a fresh session.
func (t *Tunnel) sendKeepalive(now time.Duration) {
	t.dataRecvUnanswered.Store(0)
	t.mu.Lock()
	if len(t.staged) == 0 {
		t.staged = append(t.staged, make([]byte, transportHeaderSize, keepaliveSize))
	}
	t.mu.Unlock()
	t.flushStaged(now)
}

// flushStaged seals and sends the staged packets with the current
// session; without a usable one it leaves them staged and asks for a
// handshake. It runs on the control goroutine or an RX thread, never in
// the TX thread's hot loop.
func (t *Tunnel) flushStaged(now time.Duration) {
	t.mu.Lock()
	pkts := t.staged
	t.staged = nil
	t.mu.Unlock()
	if len(pkts) == 0 {
		return
	}
	kp := t.pairs.current.Load()
	var start, n uint64
	if kp != nil && now-kp.created < t.lim.RejectAfterTime {
		start, n = reserveNonces(kp, uint64(len(pkts)), t.lim.RejectAfterMessages)
	}
	if int(n) < len(pkts) {
		t.mu.Lock()
		rest := pkts[n:]
		// Put them back in front of anything staged meanwhile.
		t.staged = append(rest[:len(rest):len(rest)], t.staged...)
		for len(t.staged) > stagedQueueSize {
			t.staged = t.staged[1:]
			t.stats.drop(DropNoSession, 1)
		}
		t.mu.Unlock()
		t.requestHandshake()
		pkts = pkts[:n]
	}
	if len(pkts) == 0 {
		return
	}
	var nonce [nonceSize]byte
	data := 0
	total := 0
	for j, p := range pkts {
		size := len(p) - transportHeaderSize
		if size > 0 {
			data++
		}
		l := sealPacket(kp.send, p[:cap(p)], p[:cap(p)], size, t.mtu, kp.remoteIndex, start+uint64(j), &nonce)
		pkts[j] = p[:l]
		total += l
	}
	if t.send(pkts) {
		t.stats.txBytes.Add(uint64(total))
		t.stats.txPackets.Add(uint64(len(pkts)))
		if data > 0 {
			t.sentData(now)
		} else {
			t.sentAuthenticated(now)
		}
	}
}
