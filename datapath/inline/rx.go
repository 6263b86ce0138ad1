package inline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// maxReceiveBuffer is the read buffer size for wireguard-go's StdNetBind:
// with UDP GRO it reads coalesced datagram trains of up to 64 KiB, and
// the capacity lets the TUN's GRO coalesce decrypted TCP/UDP segments in
// place, as wireguard-go does.
const maxReceiveBuffer = 1<<16 - 1

// rxState is an RX thread's reusable memory.
type rxState struct {
	bufs  [][]byte
	sizes []int
	eps   []conn.Endpoint
	dec   []rxPacket // authenticated transport messages of the batch
	out   [][]byte   // decrypted packets for the TUN
	nonce [nonceSize]byte
	n     int           // messages received (hybrid mode's slots)
	now   time.Duration // when they were
}

// rxPacket is a transport message that decrypted.
type rxPacket struct {
	i       int // slot
	kp      *keypair
	counter uint64
	plain   int // plaintext length
	ok      bool
}

func (t *Tunnel) newRxState() *rxState {
	batch := min(max(t.bind.BatchSize(), 1), maxBatch)
	s := &rxState{
		bufs: make([][]byte, batch), sizes: make([]int, batch), eps: make([]conn.Endpoint, batch),
		dec: make([]rxPacket, 0, batch), out: make([][]byte, 0, batch),
	}
	size := messageRoom((max(t.mtu, 1500)+15)&^15, 1<<16)
	if t.stdBind {
		size = maxReceiveBuffer
	}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, size)
	}
	return s
}

// rxLoop is an RX thread: UDP → open → checks → TUN, start to finish.
// idx numbers the tunnel's RX threads from 1 (hybrid mode's meters).
func (t *Tunnel) rxLoop(recv conn.ReceiveFunc, idx int, started chan<- error) {
	defer t.wg.Done()
	if err := lockThread(threadName(t.name), t.cpu); err != nil {
		started <- err
		return
	}
	started <- nil
	s := t.newRxState()
	hx := t.newRxHybrid()
	meter := t.hyb.newMeter(idx)
	failures := 0
	for {
		st, slot, ok := hx.next(s)
		if !ok {
			return // closed
		}
		t0 := meter.now()
		n, err := recv(st.bufs, st.sizes, st.eps)
		meter.read(t0, n, len(st.bufs))
		switch {
		case slot != nil:
			// Opened, then checked and delivered in order; an empty
			// slot goes back at once.
			slot.val.n, slot.val.now = n, t.now()
			hx.submit(slot, n > 0)
		case n > 0:
			t.receiveBatch(s, n)
		}
		if err == nil {
			failures = 0
			continue
		}
		if t.closed() {
			return
		}
		if errors.Is(err, net.ErrClosed) {
			// The socket closed under us: without this RX thread the
			// tunnel would send data no reply can reach.
			t.fail(fmt.Errorf("receive from UDP: %w", err))
			return
		}
		// Transient socket errors (ICMP-induced ECONNREFUSED and the
		// like): go on, backing off if they persist.
		failures++
		t.log.Debug("inline: UDP receive failed", "err", err)
		if failures > 10 {
			time.Sleep(time.Duration(min(failures, 100)) * time.Millisecond)
		}
	}
}

// receiveBatch handles the n messages received into s.
func (t *Tunnel) receiveBatch(s *rxState, n int) {
	s.n, s.now = n, t.now()
	t.openBatch(s)
	t.deliverOpened(s)
}

// deliverOpened delivers what openBatch authenticated.
func (t *Tunnel) deliverOpened(s *rxState) {
	if len(s.dec) > 0 {
		t.deliver(s, s.now)
	}
}

// openBatch authenticates and decrypts the s.n transport messages received
// into s in place (collecting them in s.dec) and hands handshake messages
// to the control goroutine. It needs no order between batches: replay
// and everything after is deliver's, in order.
func (t *Tunnel) openBatch(s *rxState) {
	n, now := s.n, s.now
	s.dec = s.dec[:0]
	var kp *keypair
	for i := range n {
		size := s.sizes[i]
		if size == 0 {
			continue
		}
		b := s.bufs[i][:size]
		switch messageType(b) {
		case msgTransport:
			if size < keepaliveSize {
				t.stats.drop(DropMalformed, 1)
				continue
			}
			idx, counter := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint64(b[8:])
			if kp == nil || kp.localIndex != idx {
				if kp = t.pairs.lookup(idx); kp == nil {
					t.stats.drop(DropUnknownIndex, 1)
					continue
				}
			}
			if counter >= t.lim.RejectAfterMessages || now-kp.created >= t.lim.RejectAfterTime {
				t.stats.drop(DropExpired, 1)
				continue
			}
			binary.LittleEndian.PutUint64(s.nonce[4:], counter)
			if _, err := kp.recv.Open(b[transportHeaderSize:transportHeaderSize], s.nonce[:], b[transportHeaderSize:], nil); err != nil {
				t.stats.drop(DropAuth, 1)
				continue
			}
			s.dec = append(s.dec, rxPacket{i: i, kp: kp, counter: counter, plain: size - keepaliveSize})
		case msgInitiation, msgResponse:
			if (size != initiationSize && messageType(b) == msgInitiation) || (size != responseSize && messageType(b) == msgResponse) {
				t.stats.drop(DropMalformed, 1)
				continue
			}
			if !t.checker.checkMAC1(b) {
				t.stats.drop(DropMAC, 1)
				continue
			}
			t.queueHandshake(b, s.eps[i])
		case msgCookieReply:
			if size != cookieReplySize {
				t.stats.drop(DropMalformed, 1)
				continue
			}
			t.queueHandshake(b, s.eps[i])
		default:
			t.stats.drop(DropMalformed, 1)
		}
	}
}

// deliver checks the decrypted messages of s against replay and allowed
// IPs, writes the packets to the TUN and updates timers, roaming and
// session confirmation.
func (t *Tunnel) deliver(s *rxState, now time.Duration) {
	t.rxMu.Lock()
	for j := range s.dec {
		d := &s.dec[j]
		d.ok = d.kp.replay.ValidateCounter(d.counter, t.lim.RejectAfterMessages)
	}
	t.rxMu.Unlock()

	allowed := t.allowed.Load()
	next := t.pairs.next.Load()
	var (
		lastEP           conn.Endpoint
		confirm          *keypair
		bytes, msgs      int
		data             bool
		replays, badIP   int
		malformed, rekey int
	)
	s.out = s.out[:0]
	for j := range s.dec {
		d := &s.dec[j]
		if !d.ok {
			replays++
			continue
		}
		msgs++
		bytes += d.plain + keepaliveSize
		lastEP = s.eps[d.i]
		if d.kp == next {
			confirm = d.kp
		}
		if d.kp.initiator && now-d.kp.created >= t.lim.RejectAfterTime-t.lim.KeepaliveTimeout-t.lim.RekeyTimeout &&
			!d.kp.rekeyOnRecvRequested.Swap(true) {
			rekey++
		}
		if d.plain == 0 {
			continue // keepalive
		}
		plain := s.bufs[d.i][transportHeaderSize : transportHeaderSize+d.plain]
		l, ok := innerLength(plain)
		if !ok {
			malformed++
			continue
		}
		if !allowed.sourceAllowed(plain) {
			badIP++
			continue
		}
		data = true
		s.out = append(s.out, s.bufs[d.i][:transportHeaderSize+l])
	}
	if replays > 0 {
		t.stats.drop(DropReplay, replays)
	}
	if malformed > 0 {
		t.stats.drop(DropMalformed, malformed)
	}
	if badIP > 0 {
		t.stats.drop(DropAllowedIPs, badIP)
	}
	if msgs == 0 {
		return
	}
	t.stats.rxBytes.Add(uint64(bytes))
	t.stats.rxPackets.Add(uint64(msgs))
	t.receivedAuthenticated(now)
	if data && t.dataRecvUnanswered.Load() == 0 {
		t.dataRecvUnanswered.CompareAndSwap(0, int64(now))
	}
	t.setEndpoint(lastEP)
	if len(s.out) > 0 {
		if _, err := t.tun.Write(s.out, transportHeaderSize); err != nil {
			t.stats.drop(DropIO, len(s.out))
			if !t.closed() {
				t.log.Debug("inline: TUN write failed", "err", err, "packets", len(s.out))
			}
		}
	}
	if confirm != nil {
		t.confirmSession(confirm, now)
	}
	if rekey > 0 {
		t.requestHandshake()
	}
}

// receivedAuthenticated records that an authenticated message arrived at
// now: the peer is alive, so the "no reply to our data" timer stops.
func (t *Tunnel) receivedAuthenticated(now time.Duration) {
	t.lastRecv.Store(int64(now))
	if t.dataSentUnanswered.Load() != 0 {
		t.dataSentUnanswered.Store(0)
	}
}

// queueHandshake hands a copy of handshake message b from ep to the
// control goroutine, or drops it when the queue is full.
func (t *Tunnel) queueHandshake(b []byte, ep conn.Endpoint) {
	m := &hsMessage{data: append([]byte(nil), b...), ep: ep}
	select {
	case t.hsQueue <- m:
	default:
		t.stats.drop(DropQueueFull, 1)
	}
}

// confirmSession makes kp, a session we answered, current now that the
// peer used it, and sends what waited for it.
func (t *Tunnel) confirmSession(kp *keypair, now time.Duration) {
	t.mu.Lock()
	ok := t.pairs.confirm(kp)
	t.mu.Unlock()
	if !ok {
		return
	}
	t.sessionEstablished()
	t.flushStaged(now)
}

// sessionEstablished counts a new usable session.
func (t *Tunnel) sessionEstablished() {
	t.stats.handshakes.Add(1)
	t.lastHandshakeWall.Store(t.clock.Now().UnixNano())
}

// newRxHybrid returns an RX thread's hybrid machinery; nil for a tunnel in
// inline mode.
func (t *Tunnel) newRxHybrid() *hybridSide[rxState] {
	if t.hyb == nil {
		return nil
	}
	return &hybridSide[rxState]{t: t, slots: t.hyb.rxSlots,
		mk: func() rxState { return *t.newRxState() }, work: t.openBatch, commit: t.deliverOpened}
}
