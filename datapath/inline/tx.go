package inline

import (
	"errors"
	"fmt"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// txState is the TX thread's reusable memory.
type txState struct {
	bufs  [][]byte // read buffers, one slot each
	sizes []int
	idx   []int    // slots of the packets to send
	out   [][]byte // the sealed messages
	slot  int
	nonce [nonceSize]byte
	// What the batch was prepared with (prepareBatch), for sealing it.
	kp    *keypair
	start uint64
	now   time.Duration
	total int // bytes sealed
	// send, for StdNetBind only, is where the sealed messages of a batch
	// go, back to back (see newTxState); nil means seal in place.
	send []byte
}

// newTxState lays the TX read buffers out in one arena of batch slots,
// each capped at its slot. Other binds get the messages sealed in place.
// For StdNetBind the messages are sealed into a second arena, send, back
// to back, each slice's capacity running to the arena's end: its UDP GSO
// coalesces a run of messages by appending each to the first one, which
// then copies every message onto itself. So the coalescing needs no extra
// buffer, and every message is still intact in its own slice when
// StdNetBind resends the batch without GSO after the kernel refused GSO
// (EIO). Sealing in place with slots running to the arena's end, as
// before, let that append overwrite the slots of later messages, and the
// resend sent garbage.
func (t *Tunnel) newTxState() *txState {
	batch := min(max(t.tun.BatchSize(), 1), maxBatch)
	slot := messageRoom((t.mtu+15)&^15, t.mtu)
	arena := make([]byte, batch*slot)
	s := &txState{
		bufs: make([][]byte, batch), sizes: make([]int, batch),
		idx: make([]int, 0, batch), out: make([][]byte, 0, batch), slot: slot,
	}
	for i := range s.bufs {
		s.bufs[i] = arena[i*slot : (i+1)*slot : (i+1)*slot]
	}
	if t.stdBind {
		s.send = make([]byte, batch*slot)
	}
	return s
}

// txLoop is the TX thread: TUN → seal → UDP, start to finish.
func (t *Tunnel) txLoop(started chan<- error) {
	defer t.wg.Done()
	if err := lockThread(threadName(t.name), t.cpu); err != nil {
		started <- err
		return // the locked thread exits with the goroutine
	}
	started <- nil
	s := t.newTxState()
	hx := t.newTxHybrid()
	meter := t.hyb.newMeter(0)
	for {
		st, slot, ok := hx.next(s)
		if !ok {
			return // closed
		}
		t0 := meter.now()
		n, err := t.tun.Read(st.bufs, st.sizes, transportHeaderSize)
		meter.read(t0, n, len(st.bufs))
		switch {
		case slot != nil:
			// Prepared here, sealed and sent in order; a slot with
			// nothing to seal goes back at once.
			hx.submit(slot, n > 0 && t.prepareBatch(&slot.val, n))
		case n > 0:
			t.sendBatch(s, n)
		}
		if err == nil {
			continue
		}
		if t.closed() {
			return
		}
		if errors.Is(err, tun.ErrTooManySegments) {
			t.stats.drop(DropMalformed, 1)
			continue
		}
		// Without its TX thread the tunnel would go on answering
		// handshakes and send no data: stop all of it.
		t.fail(fmt.Errorf("read from TUN: %w", err))
		return
	}
}

// sendBatch seals and sends the n packets read into s.
func (t *Tunnel) sendBatch(s *txState, n int) {
	if t.prepareBatch(s, n) {
		t.sealAndSend(s)
	}
}

// prepareBatch does for the n packets read into s what must be done in
// order: it drops those it cannot send, stages them without a session,
// and reserves the nonces of the rest (s.idx), recording in s the
// keypair, first counter and time to seal them with. It reports whether
// any are left to seal.
func (t *Tunnel) prepareBatch(s *txState, n int) bool {
	now := t.now()
	allowed := t.allowed.Load()
	s.idx = s.idx[:0]
	for i := range n {
		size := s.sizes[i]
		if size == 0 {
			continue
		}
		pkt := s.bufs[i][transportHeaderSize : transportHeaderSize+size]
		if !allowed.destinationAllowed(pkt) {
			t.stats.drop(DropNoRoute, 1)
			continue
		}
		if messageRoom(size, t.mtu) > s.slot {
			t.stats.drop(DropMalformed, 1)
			continue
		}
		s.idx = append(s.idx, i)
	}
	if len(s.idx) == 0 {
		return false
	}
	kp := t.pairs.current.Load()
	if kp == nil || now-kp.created >= t.lim.RejectAfterTime {
		t.stage(s.bufs, s.sizes, s.idx)
		return false
	}
	start, take := reserveNonces(kp, uint64(len(s.idx)), t.lim.RejectAfterMessages)
	if int(take) < len(s.idx) {
		t.stage(s.bufs, s.sizes, s.idx[take:])
		s.idx = s.idx[:take]
	}
	if (start+take >= t.lim.RekeyAfterMessages || (kp.initiator && now-kp.created >= t.lim.RekeyAfterTime)) &&
		!kp.rekeyRequested.Swap(true) {
		t.requestHandshake()
	}
	s.kp, s.start, s.now = kp, start, now
	return len(s.idx) > 0
}

// sealAndSend seals the packets s.idx as prepareBatch said and sends them
// to the peer.
func (t *Tunnel) sealAndSend(s *txState) {
	t.sealBatch(s)
	t.sendSealed(s)
}

// sealBatch seals the packets s.idx with s.kp from counter s.start into
// s.out.
func (t *Tunnel) sealBatch(s *txState) {
	kp := s.kp
	s.out = s.out[:0]
	total := 0
	for j, i := range s.idx {
		buf := s.bufs[i]
		dst := buf
		if s.send != nil {
			dst = s.send[total:]
		}
		l := sealPacket(kp.send, dst, buf, s.sizes[i], t.mtu, kp.remoteIndex, s.start+uint64(j), &s.nonce)
		s.out = append(s.out, dst[:l])
		total += l
	}
	s.total = total
}

// sendSealed sends the messages sealBatch made.
func (t *Tunnel) sendSealed(s *txState) {
	if t.send(s.out) {
		t.stats.txBytes.Add(uint64(s.total))
		t.stats.txPackets.Add(uint64(len(s.out)))
		t.sentData(s.now)
	}
	s.kp = nil
}

// newTxHybrid returns the TX thread's hybrid machinery; nil for a tunnel in
// inline mode.
func (t *Tunnel) newTxHybrid() *hybridSide[txState] {
	if t.hyb == nil {
		return nil
	}
	return &hybridSide[txState]{t: t, slots: t.hyb.txSlots,
		mk: func() txState { return *t.newTxState() }, work: t.sealBatch, commit: t.sendSealed}
}

// send sends msgs to the peer's endpoint in batches the bind accepts and
// reports whether all of them went out; failures count as DropIO.
func (t *Tunnel) send(msgs [][]byte) bool {
	remote := t.remote.Load()
	if remote == nil {
		t.stats.drop(DropNoSession, len(msgs))
		return false
	}
	chunk := max(t.bind.BatchSize(), 1)
	ok := true
	for len(msgs) > 0 {
		c := min(chunk, len(msgs))
		if err := t.bind.Send(msgs[:c], remote.ep); err != nil && !t.resentWithoutGSO(err) {
			t.stats.drop(DropIO, c)
			if !t.closed() {
				t.log.Debug("inline: UDP send failed", "err", err, "packets", c)
			}
			ok = false
		}
		msgs = msgs[c:]
	}
	return ok
}

// resentWithoutGSO reports whether err is StdNetBind's news that the
// kernel refused UDP GSO and the batch went out without it; it logs that
// once per tunnel. The error carries the resend's result: nil means every
// message went out.
func (t *Tunnel) resentWithoutGSO(err error) bool {
	var gso conn.ErrUDPGSODisabled
	if !errors.As(err, &gso) {
		return false
	}
	if !t.gsoOff.Swap(true) {
		t.log.Info("inline: the kernel refused UDP GSO on the way to the peer; sending without it", "reason", gso.Error())
	}
	return gso.RetryErr == nil
}

// sentData records that data went out at now (timers.go).
func (t *Tunnel) sentData(now time.Duration) {
	t.sentAuthenticated(now)
	if t.dataSentUnanswered.Load() == 0 {
		t.dataSentUnanswered.CompareAndSwap(0, int64(now))
	}
}

// sentAuthenticated records that an authenticated message (data,
// keepalive or handshake) went out at now.
func (t *Tunnel) sentAuthenticated(now time.Duration) {
	t.lastSent.Store(int64(now))
	if t.dataRecvUnanswered.Load() != 0 {
		t.dataRecvUnanswered.Store(0)
	}
}

// reserveNonces takes up to m consecutive send counters of kp below limit
// and returns the first one and how many it got. Counters are never
// handed out twice, however many threads send.
func reserveNonces(kp *keypair, m, limit uint64) (start, n uint64) {
	for {
		cur := kp.sendNonce.Load()
		if cur >= limit {
			return cur, 0
		}
		n = min(m, limit-cur)
		if kp.sendNonce.CompareAndSwap(cur, cur+n) {
			return cur, n
		}
	}
}
