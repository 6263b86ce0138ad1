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
		dst.deliver([]datagram{{b: append([]byte(nil), b...), from: from}}, nil)
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

// memBind is a conn.Bind on a memNet.
type memBind struct {
	net   *memNet
	batch int
	rx    chan []datagram

	mu      sync.Mutex
	addr    netip.AddrPort
	closed  chan struct{}
	pending []datagram // receiver only

	sent atomic.Uint64
}

var _ conn.Bind = (*memBind)(nil)

// newBind makes a bind that will listen at addr (its port is used when
// Open is given port 0).
func (n *memNet) newBind(addr netip.AddrPort, batch int) *memBind {
	return &memBind{net: n, batch: batch, rx: make(chan []datagram, 4096), addr: addr}
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
	batch := make([]datagram, 0, len(bufs))
	for _, p := range bufs {
		if tap != nil && !tap(from, to, p) {
			continue
		}
		batch = append(batch, datagram{b: append(getBuf(), p...), from: from})
	}
	b.sent.Add(uint64(len(bufs)))
	if dst == nil || len(batch) == 0 {
		return nil // like UDP: nobody listening, the datagrams vanish
	}
	return dst.deliver(batch, closed)
}

// deliver queues a batch for the receiver, blocking while its queue is
// full (back-pressure instead of loss, so benchmarks measure capacity).
func (b *memBind) deliver(batch []datagram, senderClosed chan struct{}) error {
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
	if len(b.pending) == 0 {
		select {
		case b.pending = <-b.rx:
		case <-closed:
			return 0, net.ErrClosed
		}
	}
	n := 0
	for n < len(bufs) {
		if len(b.pending) == 0 {
			select {
			case b.pending = <-b.rx:
				continue
			default:
			}
			break
		}
		d := b.pending[0]
		b.pending = b.pending[1:]
		sizes[n] = copy(bufs[n], d.b)
		eps[n] = memEndpoint(d.from)
		putBuf(d.b)
		n++
	}
	return n, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) >= 2048 {
		b = b[:0]
		bufPool.Put(&b)
	}
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

	// Generator: when gen is set, Read fills every buffer with it until
	// genLeft packets have been produced, then blocks until Close.
	gen     []byte
	genLeft atomic.Int64
	// Sink: when sink is set, Write counts instead of forwarding, and
	// closes sinkDone when sinkWant packets arrived.
	sink         bool
	sinkPackets  atomic.Int64
	sinkBytes    atomic.Int64
	sinkWant     int64
	sinkDone     chan struct{}
	sinkDoneOnce sync.Once
}

var _ tun.Device = (*memTUN)(nil)

func newMemTUN(batch, mtu int) *memTUN {
	t := &memTUN{
		in: make(chan [][]byte, 64), out: make(chan []byte, 4096), batch: batch, mtu: mtu,
		events: make(chan tun.Event, 1), closed: make(chan struct{}), sinkDone: make(chan struct{}),
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
		left := t.genLeft.Load()
		if left <= 0 {
			<-t.closed
			return 0, os.ErrClosed
		}
		n := int(min(int64(len(bufs)), left))
		t.genLeft.Add(-int64(n))
		for i := range n {
			sizes[i] = copy(bufs[i][offset:], t.gen)
		}
		return n, nil
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

func (t *memTUN) Write(bufs [][]byte, offset int) (int, error) {
	if t.sink {
		var bytes int64
		for _, b := range bufs {
			bytes += int64(len(b) - offset)
		}
		t.sinkBytes.Add(bytes)
		if t.sinkPackets.Add(int64(len(bufs))) >= t.sinkWant && t.sinkWant > 0 {
			t.sinkDoneOnce.Do(func() { close(t.sinkDone) })
		}
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
