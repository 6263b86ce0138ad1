package inlinebench

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/inline"
	"github.com/wgbench/wgbench/datapath/inline/internal/memnet"
)

// Addresses of the two ends: outer (on the in-memory network) and inner.
var (
	underA = netip.MustParseAddrPort("198.18.0.1:51820")
	underB = netip.MustParseAddrPort("198.18.0.2:51820")
	addrA  = netip.MustParseAddr("198.19.0.1")
	addrB  = netip.MustParseAddr("198.19.0.2")
	pfxA   = netip.PrefixFrom(addrA, 32)
	pfxB   = netip.PrefixFrom(addrB, 32)
)

const (
	// handshakeTimeout bounds the wait for the first packet.
	handshakeTimeout = 10 * time.Second
	// stallTimeout ends a packet-count measurement that stopped making
	// progress (packets were lost).
	stallTimeout = 2 * time.Second
)

// pair is a sender A whose TUN generates packets and a receiver B whose
// TUN counts them, over a fresh in-memory network.
type pair struct {
	c      Case
	pinned []int
	gen    *memnet.TUN // A's
	sink   *memnet.TUN // B's
	closeA func()
	closeB func()
	// tunnelA is A's inline tunnel (for its mode changes); lastTunnel
	// is the one startInline started last.
	tunnelA, lastTunnel *inline.Tunnel
}

// startPair brings up c's pair, B first so that A's handshake finds it
// listening. An inline pair's threads are pinned round-robin over cpus
// (none when cpus is empty).
func startPair(c Case, cpus []int) (*pair, error) {
	n := memnet.New()
	p := &pair{
		c:    c,
		gen:  memnet.NewGenerator(Batch, MTU, memnet.UDPPacket(c.Size, addrA, addrB)),
		sink: memnet.NewSink(Batch, MTU),
	}
	p.gen.Pace(p.sink, Window)
	var bindA, bindB conn.Bind = n.NewBind(underA, Batch), n.NewBind(underB, Batch)
	if c.dir() == TX {
		// B answers handshakes; the data stops as it leaves A.
		n.SetTap(sinkTap(p.sink))
	}
	privA, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	privB, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	impl := c.Impl
	if c.dir() == TX && impl == WireGuardGo {
		impl = "wireguard-go to inline" // B is the same for every row
	}
	switch impl {
	case WireGuardGo:
		if p.closeB, err = startWireGuardGo(p.sink, bindB, privB, privA.PublicKey(), pfxA, netip.AddrPort{}); err != nil {
			return nil, err
		}
		if p.closeA, err = startWireGuardGo(p.gen, bindA, privA, privB.PublicKey(), pfxB, underB); err != nil {
			p.closeB()
			return nil, err
		}
	case Inline, Hybrid, "wireguard-go to inline":
		cb := inline.TunnelConfig{Name: "benchB", PrivateKey: privB,
			Peer: inline.PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}
		ca := inline.TunnelConfig{Name: "benchA", PrivateKey: privA,
			Peer: inline.PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB}, Endpoint: underB}}
		if len(cpus) > 0 {
			ca.Pinned, ca.CPU = true, cpus[0]
			cb.Pinned, cb.CPU = true, cpus[len(cpus)-1]
			p.pinned = []int{ca.CPU, cb.CPU}
		}
		if c.Impl == Hybrid && len(cpus) > 0 {
			ca.Mode, ca.CPUs = inline.ModeHybrid, cpus
			if c.dir() == Both {
				cb.Mode, cb.CPUs = inline.ModeHybrid, cpus
			}
		}
		if p.closeB, err = p.startInline(p.sink, bindB, cb); err != nil {
			return nil, err
		}
		if impl == "wireguard-go to inline" {
			p.pinned = nil
			p.closeA, err = startWireGuardGo(p.gen, bindA, privA, privB.PublicKey(), pfxB, underB)
		} else {
			p.closeA, err = p.startInline(p.gen, bindA, ca)
			p.tunnelA = p.lastTunnel
		}
		if err != nil {
			p.closeB()
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no pair for %q", c.Impl)
	}
	return p, nil
}

func (p *pair) startInline(dev tun.Device, bind conn.Bind, cfg inline.TunnelConfig) (func(), error) {
	t, err := inline.NewTunnel(dev, bind, cfg, nil)
	if err != nil {
		return nil, err
	}
	p.lastTunnel = t
	return func() { _ = t.Close() }, nil
}

// sinkTap is the UDP sink of direction TX, a tap on the in-memory
// network: the data messages A sends (type 4, longer than a keepalive)
// are counted as the sink TUN's packets and dropped as they leave A's
// bind, on the sending thread; handshakes go on to B. So B does no work
// per packet, and what is measured is A's transmit side alone.
func sinkTap(sink *memnet.TUN) func(from, to netip.AddrPort, b []byte) bool {
	return func(from, _ netip.AddrPort, b []byte) bool {
		if from != underA || len(b) <= 32 || b[0] != 4 {
			return true
		}
		sink.Count(1, int64(len(b)))
		return false
	}
}

// startWireGuardGo runs a wireguard-go device with one peer; it logs
// nothing, so that a benchmark's output stays clean.
func startWireGuardGo(dev tun.Device, bind conn.Bind, priv, peer wgtypes.Key, allowed netip.Prefix, endpoint netip.AddrPort) (func(), error) {
	d := device.NewDevice(dev, bind, device.NewLogger(device.LogLevelSilent, ""))
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%x\npublic_key=%x\nallowed_ip=%s\n", priv[:], peer[:], allowed)
	if endpoint.IsValid() {
		fmt.Fprintf(&b, "endpoint=%s\n", endpoint)
	}
	if err := d.IpcSet(b.String()); err != nil {
		d.Close()
		return nil, fmt.Errorf("configure wireguard-go: %w", err)
	}
	if err := d.Up(); err != nil {
		d.Close()
		return nil, fmt.Errorf("wireguard-go up: %w", err)
	}
	return d.Close, nil
}

// close tears the pair down, the sender first.
func (p *pair) close() {
	p.gen.Stop()
	p.closeA()
	p.closeB()
}

// measure makes the session with a first packet, warms the pair up
// (wireguard-go fills its buffer pools, the Go heap finds its size), then
// sends as a says.
func (p *pair) measure(ctx context.Context, a Amount) (Result, error) {
	p.gen.Generate(1)
	deadline := time.Now().Add(handshakeTimeout)
	for p.sink.SinkPackets() < 1 {
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("no session within %v", handshakeTimeout)
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return Result{}, err
		}
	}
	runtime.GC()
	p.gen.Generate(math.MaxInt64 / 2) // until Stop
	warmUp := countWarmUp
	if a.Packets <= 0 {
		warmUp = min(max(a.Duration/5, 50*time.Millisecond), 400*time.Millisecond)
	}
	if err := sleep(ctx, warmUp); err != nil {
		return Result{}, err
	}
	var r Result
	var err error
	if a.Packets > 0 {
		p.gen.Stop()
		p.drain()
		r, err = p.sendCount(ctx, a)
	} else {
		r, err = p.sendFor(ctx, a)
	}
	r.Pinned = p.pinned
	return r, err
}

// countWarmUp is the warm-up before a packet-count measurement.
const countWarmUp = 100 * time.Millisecond

// drain waits until what A's TUN made has arrived at B's, or arrivals
// stopped for 100 ms (packets were lost), at most stallTimeout, and
// returns the packets B's TUN received in all.
func (p *pair) drain() int64 {
	last, lastChange, giveUp := p.sink.SinkPackets(), time.Now(), time.Now().Add(stallTimeout)
	for last < p.gen.Generated() && time.Since(lastChange) < 100*time.Millisecond && time.Now().Before(giveUp) {
		time.Sleep(time.Millisecond)
		if got := p.sink.SinkPackets(); got != last {
			last, lastChange = got, time.Now()
		}
	}
	return last
}

// sendCount sends exactly a.Packets packets and measures until the last
// arrives, or until arrivals stall for stallTimeout (then the rest count
// as lost and the time ends at the last arrival).
func (p *pair) sendCount(ctx context.Context, a Amount) (Result, error) {
	base := p.sink.SinkPackets()
	want := base + a.Packets
	if a.Started != nil {
		a.Started()
	}
	cpu0, t0 := cpuTime(), time.Now()
	p.gen.Generate(a.Packets)
	last, lastChange := base, t0
	end := time.Time{}
	for {
		got := p.sink.SinkPackets()
		if got >= want {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > stallTimeout {
			end = lastChange // packets were lost; report what arrived
			break
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		time.Sleep(50 * time.Microsecond)
	}
	if end.IsZero() {
		end = time.Now()
	}
	cpu := cpuTime() - cpu0
	if a.Stopped != nil {
		a.Stopped()
	}
	delivered := min(p.sink.SinkPackets()-base, a.Packets)
	r := result(p.c, delivered, end.Sub(t0), cpu)
	r.Lost = a.Packets - delivered
	return r, nil
}

// sendFor counts what arrives at B's TUN in a.Duration while A's keeps
// generating. Lost is what never arrived once the generator stopped and
// the pair drained.
func (p *pair) sendFor(ctx context.Context, a Amount) (Result, error) {
	if a.Started != nil {
		a.Started()
	}
	th0 := readThreadCPU()
	n0, cpu0, t0 := p.sink.SinkPackets(), cpuTime(), time.Now()
	err := sleep(ctx, a.Duration)
	// A window shorter than one batch's trip (a slow machine, the race
	// detector, a GC pause) may see no arrival yet: the window then
	// stretches until the first one, up to stallTimeout, and the figures
	// use the time it really lasted.
	for giveUp := time.Now().Add(stallTimeout); err == nil && p.sink.SinkPackets() == n0 && time.Now().Before(giveUp); {
		err = sleep(ctx, time.Millisecond)
	}
	n1, cpu1, t1 := p.sink.SinkPackets(), cpuTime(), time.Now()
	th1 := readThreadCPU()
	if a.Stopped != nil {
		a.Stopped()
	}
	p.gen.Stop()
	if err != nil {
		return Result{}, err
	}
	if n1 == n0 {
		return Result{}, fmt.Errorf("no packet arrived in %v", t1.Sub(t0).Round(time.Millisecond))
	}
	r := result(p.c, n1-n0, t1.Sub(t0), cpu1-cpu0)
	r.Threads = threadShares(th0, th1, t1.Sub(t0))
	r.Lost = max(p.gen.Generated()-p.drain(), 0)
	return r, nil
}
