// Package memnet is an in-memory, batched UDP network and TUN device for
// running WireGuard implementations against each other in one process,
// without root: the inline engine's tests and the datapath benchmark
// (package inlinebench) both run on it.
//
// Unlike wireguard-go's bindtest, binds have real addresses, so a bind can
// move (roaming), and tests can watch, drop and inject datagrams. A full
// receive queue blocks the sender instead of dropping, so benchmarks
// measure capacity rather than loss.
package memnet

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// Net is an in-memory UDP network: binds addressed by IP:port exchange
// datagram batches over channels.
type Net struct {
	mu    sync.Mutex
	binds map[netip.AddrPort]*Bind
	// tap, when set, sees every datagram and says whether to deliver it.
	tap func(from, to netip.AddrPort, b []byte) bool
}

// New returns an empty network.
func New() *Net { return &Net{binds: map[netip.AddrPort]*Bind{}} }

// SetTap installs f as the network's tap (nil removes it): it sees every
// datagram sent from then on and says whether to deliver it.
func (n *Net) SetTap(f func(from, to netip.AddrPort, b []byte) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tap = f
}

// Inject delivers b to the bind at to as if from sent it.
func (n *Net) Inject(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	dst := n.binds[to]
	n.mu.Unlock()
	if dst != nil {
		dst.deliver(&dgBatch{dgs: []datagram{{b: append([]byte(nil), b...), from: from}}}, nil)
	}
}

// Endpoint is a Net address.
type Endpoint netip.AddrPort

var _ conn.Endpoint = Endpoint{}

func (e Endpoint) ClearSrc()           {}
func (e Endpoint) SrcToString() string { return "" }
func (e Endpoint) DstToString() string { return netip.AddrPort(e).String() }
func (e Endpoint) DstToBytes() []byte  { b, _ := netip.AddrPort(e).MarshalBinary(); return b }
func (e Endpoint) DstIP() netip.Addr   { return netip.AddrPort(e).Addr() }
func (e Endpoint) SrcIP() netip.Addr   { return netip.Addr{} }

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// dgBatch is one Send's datagrams, copied into one arena that goes back
// to the sender for reuse once the receiver has read it all.
type dgBatch struct {
	dgs   []datagram
	next  int // the receiver's next datagram (dgs keeps its capacity for reuse)
	arena []byte
	home  chan *dgBatch // the sender's free list
}

// Bind is a conn.Bind on a Net.
type Bind struct {
	net   *Net
	batch int
	rx    chan *dgBatch
	free  chan *dgBatch

	mu      sync.Mutex
	addr    netip.AddrPort
	closed  chan struct{}
	pending *dgBatch // receiver only
	lastEP  conn.Endpoint
}

var _ conn.Bind = (*Bind)(nil)

// NewBind makes a bind that will listen at addr (its port is used when
// Open is given port 0) and move up to batch datagrams per call.
func (n *Net) NewBind(addr netip.AddrPort, batch int) *Bind {
	return &Bind{net: n, batch: batch, rx: make(chan *dgBatch, 1024), free: make(chan *dgBatch, 1024), addr: addr}
}

func (b *Bind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if port != 0 {
		b.addr = netip.AddrPortFrom(b.addr.Addr(), port)
	}
	b.net.mu.Lock()
	defer b.net.mu.Unlock()
	if _, taken := b.net.binds[b.addr]; taken {
		return nil, 0, errors.New("memnet: address in use")
	}
	b.net.binds[b.addr] = b
	b.closed = make(chan struct{})
	return []conn.ReceiveFunc{b.receive}, b.addr.Port(), nil
}

// MoveTo re-addresses an open bind: the peer sees its packets come from
// addr from now on.
func (b *Bind) MoveTo(addr netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.net.mu.Lock()
	defer b.net.mu.Unlock()
	delete(b.net.binds, b.addr)
	b.addr = addr
	b.net.binds[addr] = b
}

func (b *Bind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.net.mu.Lock()
	if b.net.binds[b.addr] == b {
		delete(b.net.binds, b.addr)
	}
	b.net.mu.Unlock()
	if b.closed != nil {
		select {
		case <-b.closed:
		default:
			close(b.closed)
		}
	}
	return nil
}

func (b *Bind) SetMark(uint32) error { return nil }
func (b *Bind) BatchSize() int       { return b.batch }

func (b *Bind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	return Endpoint(ap), nil
}

func (b *Bind) closedCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Bind) Send(bufs [][]byte, ep conn.Endpoint) error {
	closed := b.closedCh()
	if closed == nil {
		return net.ErrClosed
	}
	to := netip.AddrPort(ep.(Endpoint))
	b.mu.Lock()
	from := b.addr
	b.mu.Unlock()
	b.net.mu.Lock()
	dst, tap := b.net.binds[to], b.net.tap
	b.net.mu.Unlock()
	var batch *dgBatch
	select {
	case batch = <-b.free:
		batch.dgs, batch.next, batch.arena = batch.dgs[:0], 0, batch.arena[:0]
	default:
		batch = &dgBatch{home: b.free}
	}
	for _, p := range bufs {
		if tap != nil && !tap(from, to, p) {
			continue
		}
		off := len(batch.arena)
		batch.arena = append(batch.arena, p...)
		batch.dgs = append(batch.dgs, datagram{from: from})
		batch.dgs[len(batch.dgs)-1].b = batch.arena[off:len(batch.arena):len(batch.arena)]
	}
	// The arena may have moved while growing: re-slice every datagram.
	off := 0
	for i := range batch.dgs {
		n := len(batch.dgs[i].b)
		batch.dgs[i].b = batch.arena[off : off+n : off+n]
		off += n
	}
	if dst == nil || len(batch.dgs) == 0 {
		if batch.home != nil {
			select {
			case batch.home <- batch: // reused by the next Send
			default:
			}
		}
		return nil // like UDP: nobody listening, the datagrams vanish
	}
	return dst.deliver(batch, closed)
}

// deliver queues a batch for the receiver, blocking while its queue is
// full (back-pressure instead of loss, so benchmarks measure capacity).
func (b *Bind) deliver(batch *dgBatch, senderClosed chan struct{}) error {
	closed := b.closedCh()
	select {
	case b.rx <- batch:
		return nil
	case <-closed:
		return nil
	case <-senderClosed:
		return net.ErrClosed
	}
}

func (b *Bind) receive(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
	closed := b.closedCh()
	n := 0
	for n < len(bufs) {
		if b.pending == nil || b.pending.next == len(b.pending.dgs) {
			if b.pending != nil && b.pending.home != nil {
				select {
				case b.pending.home <- b.pending:
				default:
				}
			}
			b.pending = nil
			if n > 0 {
				select {
				case b.pending = <-b.rx:
				default:
					return n, nil
				}
			} else {
				select {
				case b.pending = <-b.rx:
				case <-closed:
					return 0, net.ErrClosed
				}
			}
			continue
		}
		d := b.pending.dgs[b.pending.next]
		b.pending.next++
		sizes[n] = copy(bufs[n], d.b)
		if b.lastEP == nil || b.lastEP.(Endpoint) != Endpoint(d.from) {
			b.lastEP = Endpoint(d.from) // box once per sender, not per packet
		}
		eps[n] = b.lastEP
		n++
	}
	return n, nil
}

// TUN is a batched in-memory TUN device. A plain one (NewTUN) reads the
// batches sent on In and writes every packet to Out. A generator
// (NewGenerator) and a sink (NewSink) are for benchmarks: they cost no
// channel operation per packet.
type TUN struct {
	// In feeds batches of packets to the device's reader (plain TUN).
	In chan [][]byte
	// Out receives a copy of every packet written (plain TUN).
	Out chan []byte

	batch  int
	mtu    int
	events chan tun.Event
	closed chan struct{}
	once   sync.Once

	pending [][]byte // reader only

	// Generator: when gen is set, Read fills every buffer with it while
	// genLeft packets remain to be produced, and waits for Generate
	// otherwise. When paceSink is set, it also waits while window packets
	// are in flight (see Pace).
	gen        []byte
	genLeft    atomic.Int64
	genMore    chan struct{}
	generated  atomic.Int64
	paceSink   *TUN
	window     int64
	writtenOff int64       // reader only: packets given up on as lost
	paceTimer  *time.Timer // reader only
	// Sink: when sink is set, Write counts instead of forwarding, and
	// signals wrote (if a generator paces on it).
	sink        bool
	sinkPackets atomic.Int64
	sinkBytes   atomic.Int64
	wrote       chan struct{}
}

// paceStall is how long a paced generator waits for its sink to make
// progress before it counts what is in flight as lost and goes on.
const paceStall = 100 * time.Millisecond

var _ tun.Device = (*TUN)(nil)

// NewTUN returns a plain TUN of MTU mtu that moves up to batch packets
// per call.
func NewTUN(batch, mtu int) *TUN {
	t := &TUN{
		In: make(chan [][]byte, 64), Out: make(chan []byte, 4096), batch: batch, mtu: mtu,
		events: make(chan tun.Event, 1), closed: make(chan struct{}),
		genMore: make(chan struct{}, 1),
	}
	t.events <- tun.EventUp
	return t
}

// NewGenerator returns a TUN whose reads return copies of packet, as many
// as Generate asked for.
func NewGenerator(batch, mtu int, packet []byte) *TUN {
	t := NewTUN(batch, mtu)
	t.gen = packet
	return t
}

// Pace makes generator t keep at most window packets in flight: made
// but not yet written to sink (a sink in the same process). Without it an
// implementation slower than its source queues whatever its queues hold
// (wireguard-go: gigabytes), and measures its memory rather than its
// datapath. The generator then produces full batches only (unless fewer
// are asked for); if the sink stalls for paceStall, what is in flight
// counts as lost. Call Pace before the device is used.
func (t *TUN) Pace(sink *TUN, window int) {
	t.paceSink, t.window = sink, int64(max(window, t.batch))
	t.paceTimer = time.NewTimer(paceStall)
	t.paceTimer.Stop()
	sink.wrote = make(chan struct{}, 1)
}

// NewSink returns a TUN that counts the packets written to it (see
// SinkPackets) and drops them.
func NewSink(batch, mtu int) *TUN {
	t := NewTUN(batch, mtu)
	t.sink = true
	return t
}

func (t *TUN) File() *os.File           { return nil }
func (t *TUN) MTU() (int, error)        { return t.mtu, nil }
func (t *TUN) Name() (string, error)    { return "memtun", nil }
func (t *TUN) Events() <-chan tun.Event { return t.events }
func (t *TUN) BatchSize() int           { return t.batch }

func (t *TUN) Close() error {
	t.once.Do(func() {
		close(t.closed)
		close(t.events)
	})
	return nil
}

func (t *TUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if t.gen != nil {
		for {
			select {
			case <-t.closed:
				return 0, os.ErrClosed
			default:
			}
			left := t.genLeft.Load()
			if left > 0 {
				n := int(min(int64(len(bufs)), left))
				if !t.credit(n) {
					continue
				}
				if !t.genLeft.CompareAndSwap(left, left-int64(n)) {
					continue // Stop (or Generate) raced with us
				}
				for i := range n {
					sizes[i] = copy(bufs[i][offset:], t.gen)
				}
				t.generated.Add(int64(n))
				return n, nil
			}
			select {
			case <-t.genMore:
			case <-t.closed:
				return 0, os.ErrClosed
			}
		}
	}
	if len(t.pending) == 0 {
		select {
		case t.pending = <-t.In:
		case <-t.closed:
			return 0, os.ErrClosed
		}
	}
	n := 0
	for n < len(bufs) && len(t.pending) > 0 {
		sizes[n] = copy(bufs[n][offset:], t.pending[0])
		t.pending = t.pending[1:]
		n++
	}
	return n, nil
}

// credit says whether a paced generator may make n packets now; when it
// may not, it waits a while (for the sink to write, the device to close
// or paceStall) and the caller checks again.
func (t *TUN) credit(n int) bool {
	s := t.paceSink
	if s == nil {
		return true
	}
	delivered := s.sinkPackets.Load()
	inFlight := t.generated.Load() - delivered
	// Packets written off may arrive after all.
	t.writtenOff = min(t.writtenOff, inFlight)
	if t.window-(inFlight-t.writtenOff) >= int64(n) {
		return true
	}
	t.paceTimer.Reset(paceStall)
	defer t.paceTimer.Stop()
	select {
	case <-s.wrote:
	case <-t.closed:
	case <-t.paceTimer.C:
		if s.sinkPackets.Load() == delivered {
			t.writtenOff = t.generated.Load() - delivered
		}
	}
	return false
}

// Generate makes a generator produce n more packets.
func (t *TUN) Generate(n int64) {
	t.genLeft.Add(n)
	select {
	case t.genMore <- struct{}{}:
	default:
	}
}

// Stop makes a generator produce no more packets than it has already.
func (t *TUN) Stop() { t.genLeft.Store(0) }

// Generated is how many packets a generator has produced.
func (t *TUN) Generated() int64 { return t.generated.Load() }

// SinkPackets is how many packets were written to a sink.
func (t *TUN) SinkPackets() int64 { return t.sinkPackets.Load() }

// SinkBytes is how many bytes of packets were written to a sink.
func (t *TUN) SinkBytes() int64 { return t.sinkBytes.Load() }

// Count counts n packets of bytes in all as written to a sink, as Write
// would (a sink that is not a TUN's, such as a tap on the network).
func (t *TUN) Count(n int, bytes int64) {
	t.sinkBytes.Add(bytes)
	t.sinkPackets.Add(int64(n))
	if t.wrote != nil {
		select {
		case t.wrote <- struct{}{}:
		default:
		}
	}
}

func (t *TUN) Write(bufs [][]byte, offset int) (int, error) {
	if t.sink {
		var bytes int64
		for _, b := range bufs {
			bytes += int64(len(b) - offset)
		}
		t.Count(len(bufs), bytes)
		return len(bufs), nil
	}
	for i, b := range bufs {
		select {
		case t.Out <- append([]byte(nil), b[offset:]...):
		case <-t.closed:
			return i, os.ErrClosed
		}
	}
	return len(bufs), nil
}

// UDPPacket is an IPv4/UDP packet of size bytes (at least 28) from src to
// dst, ports 4242 to 4243, zero payload and checksums.
func UDPPacket(size int, src, dst netip.Addr) []byte {
	p := make([]byte, size)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(size))
	p[8], p[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], 4242)
	binary.BigEndian.PutUint16(p[22:], 4243)
	binary.BigEndian.PutUint16(p[24:], uint16(size-20))
	return p
}
