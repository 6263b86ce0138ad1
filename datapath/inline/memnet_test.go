package inline

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// memNet is an in-memory UDP network: binds addressed by IP:port exchange
// datagram batches over channels. Unlike bindtest it has real addresses,
// so a bind can move (roaming), and tests can watch, drop and inject
// datagrams.
type memNet struct {
	mu    sync.Mutex
	binds map[netip.AddrPort]*memBind
	// tap, when set, sees every datagram and says whether to deliver it.
	tap func(from, to netip.AddrPort, b []byte) bool
}

func newMemNet() *memNet { return &memNet{binds: map[netip.AddrPort]*memBind{}} }

// setTap installs f as the network's tap (nil removes it).
func (n *memNet) setTap(f func(from, to netip.AddrPort, b []byte) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tap = f
}

// inject delivers b to the bind at to as if from sent it.
func (n *memNet) inject(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	dst := n.binds[to]
	n.mu.Unlock()
	if dst != nil {
		dst.deliver(&dgBatch{dgs: []datagram{{b: append([]byte(nil), b...), from: from}}}, nil)
	}
}

// memEndpoint is a memNet address.
type memEndpoint netip.AddrPort

var _ conn.Endpoint = memEndpoint{}

func (e memEndpoint) ClearSrc()           {}
func (e memEndpoint) SrcToString() string { return "" }
func (e memEndpoint) DstToString() string { return netip.AddrPort(e).String() }
func (e memEndpoint) DstToBytes() []byte  { b, _ := netip.AddrPort(e).MarshalBinary(); return b }
func (e memEndpoint) DstIP() netip.Addr   { return netip.AddrPort(e).Addr() }
func (e memEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// dgBatch is one Send's datagrams, copied into one arena that goes back
// to the sender for reuse once the receiver has read it all.
type dgBatch struct {
	dgs   []datagram
	arena []byte
	home  chan *dgBatch // the sender's free list
}

// memBind is a conn.Bind on a memNet.
type memBind struct {
	net   *memNet
	batch int
	rx    chan *dgBatch
	free  chan *dgBatch

	mu      sync.Mutex
	addr    netip.AddrPort
	closed  chan struct{}
	pending *dgBatch // receiver only
	lastEP  conn.Endpoint

	sent atomic.Uint64
}

var _ conn.Bind = (*memBind)(nil)

// newBind makes a bind that will listen at addr (its port is used when
// Open is given port 0).
func (n *memNet) newBind(addr netip.AddrPort, batch int) *memBind {
	return &memBind{net: n, batch: batch, rx: make(chan *dgBatch, 1024), free: make(chan *dgBatch, 1024), addr: addr}
}

func (b *memBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
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

// moveTo re-addresses an open bind: the peer sees its packets come from
// addr from now on.
func (b *memBind) moveTo(addr netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.net.mu.Lock()
	defer b.net.mu.Unlock()
	delete(b.net.binds, b.addr)
	b.addr = addr
	b.net.binds[addr] = b
}

func (b *memBind) Close() error {
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

func (b *memBind) SetMark(uint32) error { return nil }
func (b *memBind) BatchSize() int       { return b.batch }

func (b *memBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	return memEndpoint(ap), nil
}

func (b *memBind) closedCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *memBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	closed := b.closedCh()
	if closed == nil {
		return net.ErrClosed
	}
	to := netip.AddrPort(ep.(memEndpoint))
	b.mu.Lock()
	from := b.addr
	b.mu.Unlock()
	b.net.mu.Lock()
	dst, tap := b.net.binds[to], b.net.tap
	b.net.mu.Unlock()
	var batch *dgBatch
	select {
	case batch = <-b.free:
		batch.dgs, batch.arena = batch.dgs[:0], batch.arena[:0]
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
	b.sent.Add(uint64(len(bufs)))
	if dst == nil || len(batch.dgs) == 0 {
		return nil // like UDP: nobody listening, the datagrams vanish
	}
	return dst.deliver(batch, closed)
}

// deliver queues a batch for the receiver, blocking while its queue is
// full (back-pressure instead of loss, so benchmarks measure capacity).
func (b *memBind) deliver(batch *dgBatch, senderClosed chan struct{}) error {
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

func (b *memBind) receive(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
	closed := b.closedCh()
	n := 0
	for n < len(bufs) {
		if b.pending == nil || len(b.pending.dgs) == 0 {
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
		d := b.pending.dgs[0]
		b.pending.dgs = b.pending.dgs[1:]
		sizes[n] = copy(bufs[n], d.b)
		if b.lastEP == nil || b.lastEP.(memEndpoint) != memEndpoint(d.from) {
			b.lastEP = memEndpoint(d.from) // box once per sender, not per packet
		}
		eps[n] = b.lastEP
		n++
	}
	return n, nil
}

// memTUN is a batched in-memory TUN. Tests feed it batches on in and read
// what the engine wrote from out; benchmarks use its generator and sink
// instead, which cost no channel operation per packet.
type memTUN struct {
	in     chan [][]byte
	out    chan []byte
	batch  int
	mtu    int
	events chan tun.Event
	closed chan struct{}
	once   sync.Once

	pending [][]byte // reader only

	// Generator: when gen is set, Read fills every buffer with it while
	// genLeft packets remain to be produced, and waits for generate
	// otherwise.
	gen     []byte
	genLeft atomic.Int64
	genMore chan struct{}
	// Sink: when sink is set, Write counts instead of forwarding.
	sink        bool
	sinkPackets atomic.Int64
	sinkBytes   atomic.Int64
}

var _ tun.Device = (*memTUN)(nil)

func newMemTUN(batch, mtu int) *memTUN {
	t := &memTUN{
		in: make(chan [][]byte, 64), out: make(chan []byte, 4096), batch: batch, mtu: mtu,
		events: make(chan tun.Event, 1), closed: make(chan struct{}),
		genMore: make(chan struct{}, 1),
	}
	t.events <- tun.EventUp
	return t
}

func (t *memTUN) File() *os.File           { return nil }
func (t *memTUN) MTU() (int, error)        { return t.mtu, nil }
func (t *memTUN) Name() (string, error)    { return "memtun", nil }
func (t *memTUN) Events() <-chan tun.Event { return t.events }
func (t *memTUN) BatchSize() int           { return t.batch }

func (t *memTUN) Close() error {
	t.once.Do(func() {
		close(t.closed)
		close(t.events)
	})
	return nil
}

func (t *memTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if t.gen != nil {
		for {
			left := t.genLeft.Load()
			if left > 0 {
				n := int(min(int64(len(bufs)), left))
				t.genLeft.Add(-int64(n))
				for i := range n {
					sizes[i] = copy(bufs[i][offset:], t.gen)
				}
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
		case t.pending = <-t.in:
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

// generate makes the generator produce n more packets.
func (t *memTUN) generate(n int64) {
	t.genLeft.Add(n)
	select {
	case t.genMore <- struct{}{}:
	default:
	}
}

func (t *memTUN) Write(bufs [][]byte, offset int) (int, error) {
	if t.sink {
		var bytes int64
		for _, b := range bufs {
			bytes += int64(len(b) - offset)
		}
		t.sinkBytes.Add(bytes)
		t.sinkPackets.Add(int64(len(bufs)))
		return len(bufs), nil
	}
	for i, b := range bufs {
		select {
		case t.out <- append([]byte(nil), b[offset:]...):
		case <-t.closed:
			return i, os.ErrClosed
		}
	}
	return len(bufs), nil
}
