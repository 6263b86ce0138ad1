package inline

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/ratelimiter"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TunnelConfig is one tunnel: its keys, its socket and its single peer.
type TunnelConfig struct {
	// Name names the tunnel in thread names, logs and Stats; it defaults
	// to the TUN device's name.
	Name string
	// PrivateKey is the tunnel's static private key (required).
	PrivateKey wgtypes.Key
	// ListenPort is the UDP port the bind opens; 0 lets it choose.
	ListenPort uint16
	// Peer is the tunnel's only peer.
	Peer PeerConfig
	// Pinned pins the data threads to CPU; otherwise they may run on any
	// core the process may use.
	Pinned bool
	// CPU is the core of the data threads when Pinned.
	CPU int
	// Mode is ModeInline (the zero value) or ModeHybrid, which needs
	// Pinned: the tunnel may then borrow the other cores of CPUs.
	Mode Mode
	// CPUs are the cores a hybrid tunnel may borrow (CPU among them or
	// not); empty means every core the process may use.
	CPUs []int
	// Limits shortens the protocol's timers and counters (tests); the
	// zero value means the whitepaper's constants.
	Limits Limits
	// Log receives the tunnel's log; nil discards it. Keys never reach it.
	Log *slog.Logger
}

// PeerConfig is the tunnel's peer.
type PeerConfig struct {
	// PublicKey is the peer's static public key (required).
	PublicKey wgtypes.Key
	// PresharedKey is mixed into the handshake; the zero key means none.
	PresharedKey wgtypes.Key
	// Endpoint is where to reach the peer; the zero value means we wait
	// for the peer to contact us. Roaming replaces it with the source of
	// the latest authenticated packet.
	Endpoint netip.AddrPort
	// AllowedIPs are the inner addresses the peer may send from and that
	// we send to it.
	AllowedIPs []netip.Prefix
	// PersistentKeepalive sends a keepalive after this long without
	// traffic either way; 0 disables it.
	PersistentKeepalive time.Duration
}

// Tunnel is one running WireGuard tunnel of the inline engine. Its methods
// are safe for concurrent use.
type Tunnel struct {
	name  string
	lim   Limits
	log   *slog.Logger
	clock Clock
	epoch time.Time // tunnel-relative times count from here
	tun   tun.Device
	bind  conn.Bind
	port  uint16
	mtu   int
	cpu   int // -1 when not pinned

	// stdBind is true for wireguard-go's StdNetBind (or a bind wrapping
	// it, see isStdNetBind), whose UDP GSO coalesces a send batch by
	// appending to the first buffer of a run; the TX buffers are laid out
	// for it (see newTxState).
	stdBind bool
	gsoOff  atomic.Bool // the bind fell back from UDP GSO (logged once)

	keys    *noiseKeys     // immutable
	checker *cookieChecker // MAC1 key immutable; the rest is control-only
	pairs   keypairs
	allowed atomic.Pointer[allowedIPs]
	remote  atomic.Pointer[endpoint]
	pkeep   atomic.Int64 // persistent keepalive interval, ns

	// mu guards the handshake state, the cookie generator and the staged
	// packets, and serialises keypair installation.
	mu                sync.Mutex
	generator         *cookieGenerator
	hs                *initiatorState // our initiation in flight, if any
	hsRetryAt         time.Duration
	hsAttempts        int
	lastSentHandshake time.Duration
	lastTimestamp     [tai64nSize]byte // newest initiation timestamp consumed
	lastInitiation    time.Duration    // when it was consumed
	staged            [][]byte         // plaintext at offset 16, waiting for a session

	// rxMu guards the replay filters of the keypairs (several RX threads
	// may serve one tunnel).
	rxMu sync.Mutex

	// Timer inputs, tunnel-relative ns; 0 means unset. See timers.go.
	lastSent           atomic.Int64 // any authenticated message sent
	lastRecv           atomic.Int64 // any authenticated message received
	dataSentUnanswered atomic.Int64 // first data sent since the last authenticated receive
	dataRecvUnanswered atomic.Int64 // first data received since the last send
	sessionDerived     atomic.Int64 // last session derivation (zeroes keys 3×RejectAfterTime later)
	lastHandshakeWall  atomic.Int64 // Unix ns of the last session established

	wantHandshake  atomic.Bool
	kick           chan struct{}
	hsQueue        chan *hsMessage
	underLoadUntil time.Duration // control goroutine only
	forceUnderLoad atomic.Bool   // tests: act as if under load
	rate           ratelimiter.Ratelimiter

	stats counters
	hyb   *hybridState // nil in inline mode

	done      chan struct{}
	failure   atomic.Pointer[error] // why a data thread stopped the tunnel
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// endpoint boxes a conn.Endpoint for atomic replacement.
type endpoint struct{ ep conn.Endpoint }

// hsMessage is a handshake message handed from an RX thread to the control
// goroutine.
type hsMessage struct {
	data []byte
	ep   conn.Endpoint
}

// NoCPU is the CPU value of TunnelStats for unpinned tunnels.
const NoCPU = -1

// NewTunnel starts a tunnel on dev and bind, which it owns from then on:
// it opens bind on cfg.ListenPort, starts the TX thread, one RX thread per
// receive function of the bind, the helper threads of hybrid mode and the
// control goroutine, and closes dev and bind in Close, or before
// returning an error. A nil clock is the system clock.
func NewTunnel(dev tun.Device, bind conn.Bind, cfg TunnelConfig, clock Clock) (_ *Tunnel, err error) {
	if dev == nil || bind == nil {
		return nil, errors.New("inline: NewTunnel needs a TUN device and a bind")
	}
	var (
		t      *Tunnel
		keys   *noiseKeys
		opened bool // the bind is open: Close undoes everything
	)
	defer func() {
		switch {
		case err == nil:
		case opened:
			err = errors.Join(err, t.Close())
		default:
			if keys != nil {
				keys.wipe()
			}
			if cerr := dev.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close TUN: %w", cerr))
			}
		}
	}()
	if clock == nil {
		clock = systemClock{}
	}
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	keys, err = newNoiseKeys(cfg.PrivateKey, cfg.Peer.PublicKey, cfg.Peer.PresharedKey)
	if err != nil {
		return nil, fmt.Errorf("inline: %w", err)
	}
	if t, err = newTunnel(dev, bind, cfg, clock, keys); err != nil {
		return nil, err
	}
	fns, port, err := bind.Open(cfg.ListenPort)
	if err != nil {
		return nil, fmt.Errorf("inline: tunnel %s: open UDP port %d: %w", t.name, cfg.ListenPort, err)
	}
	t.port, opened = port, true
	if ap := cfg.Peer.Endpoint; ap.IsValid() {
		ep, err := bind.ParseEndpoint(ap.String())
		if err != nil {
			return nil, fmt.Errorf("inline: tunnel %s: peer endpoint %s: %w", t.name, ap, err)
		}
		t.remote.Store(&endpoint{ep})
	}
	t.rate.Init()
	if err := t.startThreads(fns, cfg); err != nil {
		return nil, fmt.Errorf("inline: tunnel %s: %w", t.name, err)
	}
	if cfg.Peer.PersistentKeepalive > 0 && t.remote.Load() != nil {
		t.sendKeepalive(t.now()) // stages it and starts the first handshake
	}
	t.log.Debug("inline tunnel up", "listen_port", port, "cpu", t.cpu, "mtu", t.mtu, "receivers", len(fns), "mode", t.mode())
	return t, nil
}

// checkConfig checks what NewTunnel needs of cfg.
func checkConfig(cfg TunnelConfig) error {
	if cfg.PrivateKey == (wgtypes.Key{}) {
		return errors.New("inline: tunnel has no private key")
	}
	if cfg.Peer.PublicKey == (wgtypes.Key{}) {
		return errors.New("inline: tunnel's peer has no public key")
	}
	if cfg.Peer.PersistentKeepalive < 0 {
		return errors.New("inline: negative persistent keepalive")
	}
	if cfg.Pinned && cfg.CPU < 0 {
		return fmt.Errorf("inline: tunnel %s: CPU %d is not a core number", cfg.Name, cfg.CPU)
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return err
	}
	if cfg.Mode == ModeHybrid && !cfg.Pinned {
		return fmt.Errorf("inline: tunnel %s: hybrid mode needs a pinned tunnel: it borrows cores by their load", cfg.Name)
	}
	return nil
}

// newTunnel makes the tunnel's state (not yet running) from a checked cfg.
func newTunnel(dev tun.Device, bind conn.Bind, cfg TunnelConfig, clock Clock, keys *noiseKeys) (*Tunnel, error) {
	name := cfg.Name
	if name == "" {
		var err error
		if name, err = dev.Name(); err != nil || name == "" {
			name = "tun"
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mtu, err := dev.MTU()
	if err != nil || mtu <= 0 {
		mtu = 1420
	}
	t := &Tunnel{
		name:      name,
		lim:       cfg.Limits.withDefaults(),
		log:       log.With("dev", name),
		clock:     clock,
		tun:       dev,
		bind:      bind,
		mtu:       mtu,
		cpu:       NoCPU,
		keys:      keys,
		checker:   newCookieChecker(keys.pub),
		generator: newCookieGenerator(keys.peer),
		kick:      make(chan struct{}, 1),
		hsQueue:   make(chan *hsMessage, handshakeQueueSize),
		done:      make(chan struct{}),
	}
	// Tunnel-relative times start an hour in, so that 0 can mean "unset".
	t.epoch = clock.Now().Add(-time.Hour)
	if cfg.Pinned {
		t.cpu = cfg.CPU
	}
	t.stdBind = isStdNetBind(bind)
	t.allowed.Store(newAllowedIPs(cfg.Peer.AllowedIPs))
	t.pkeep.Store(int64(cfg.Peer.PersistentKeepalive))
	return t, nil
}

// startThreads starts the data threads on receive functions fns, the
// helper threads of hybrid mode and the control goroutine, and waits
// until the pinned threads are pinned.
func (t *Tunnel) startThreads(fns []conn.ReceiveFunc, cfg TunnelConfig) error {
	if cfg.Mode == ModeHybrid {
		allowed := cfg.CPUs
		if len(allowed) == 0 {
			var err error
			if allowed, err = AllowedCPUs(); err != nil {
				return err
			}
		}
		t.hyb = newHybridState(t.cpu, allowed, len(fns))
		if err := sysLoad.check(); err != nil {
			t.log.Warn("inline: hybrid mode cannot see other processes' load on the cores it may borrow; only this process's hybrid tunnels count", "err", err)
		}
		t.hyb.onChange = func(c ModeChange, s loadSample) {
			t.log.Info("inline: mode changed", "to", c.To, "cores", c.Cores, "home_busy", s.busy,
				"full_batches", s.full, "demand_cores", s.demand, "other_loads", s.others)
		}
	}
	threads := 1 + len(fns)
	if t.hyb != nil {
		threads += len(t.hyb.helpers)
	}
	started := make(chan error, threads)
	t.wg.Add(1 + threads)
	go t.txLoop(started)
	for i, fn := range fns {
		go t.rxLoop(fn, 1+i, started)
	}
	if t.hyb != nil {
		for _, hp := range t.hyb.helpers {
			go t.helperLoop(hp, started)
		}
	}
	go t.controlLoop()
	var errs []error
	for range threads {
		if err := <-started; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// mode returns the tunnel's current mode.
func (t *Tunnel) mode() Mode {
	if t.hyb.hybrid() {
		return ModeHybrid
	}
	return ModeInline
}

// now returns the tunnel-relative time.
func (t *Tunnel) now() time.Duration { return t.clock.Now().Sub(t.epoch) }

// Name returns the tunnel's name.
func (t *Tunnel) Name() string { return t.name }

// ListenPort returns the UDP port the tunnel's bind listens on.
func (t *Tunnel) ListenPort() uint16 { return t.port }

// PublicKey returns the tunnel's static public key.
func (t *Tunnel) PublicKey() wgtypes.Key { return t.keys.pub }

// TraceMode makes a hybrid tunnel call fn with every window its mode
// controller decides on (every 20 ms or so while data flows), from a data
// thread, one call at a time: fn must be quick. It is how the switching
// thresholds are checked against real loads (wgbench bench datapath
// --mode-trace). A tunnel in inline mode has no controller and never
// calls fn. Set it right after Up, before data flows.
func (t *Tunnel) TraceMode(fn func(ModeSample)) {
	if t.hyb == nil {
		return
	}
	t.hyb.mu.Lock()
	defer t.hyb.mu.Unlock()
	t.hyb.onSample = fn
}

// Stats returns a snapshot of the tunnel's counters.
func (t *Tunnel) Stats() TunnelStats {
	s := TunnelStats{Name: t.name, Core: t.cpu, ListenPort: int(t.port)}
	if err := t.Err(); err != nil {
		s.Failure = err.Error()
	}
	t.stats.snapshot(&s)
	s.Mode, s.ActiveMode = ModeInline, ModeInline
	if t.hyb != nil {
		s.Mode = ModeHybrid
		s.ActiveMode, s.ModeChanges, s.ModeLog = t.hyb.snapshot()
	}
	if ns := t.lastHandshakeWall.Load(); ns != 0 {
		s.LastHandshake = time.Unix(0, ns)
	}
	return s
}

// Close stops the tunnel: it closes the bind and the TUN device (which
// ends the data threads), stops the control goroutine and forgets the
// session keys. It is safe to call more than once; later calls return the
// first result.
func (t *Tunnel) Close() error {
	t.closeOnce.Do(func() {
		close(t.done)
		var errs []error
		if err := t.bind.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close bind: %w", err))
		}
		if err := t.tun.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close TUN: %w", err))
		}
		t.wg.Wait()
		if t.hyb != nil {
			t.hyb.close()
		}
		t.rate.Close()
		t.mu.Lock()
		t.pairs.clear()
		if t.hs != nil {
			t.hs.wipe()
			t.hs = nil
		}
		t.staged = nil
		t.keys.wipe()
		clear(t.checker.secret[:])
		t.mu.Unlock()
		if len(errs) > 0 {
			t.closeErr = fmt.Errorf("inline: close tunnel %s: %w", t.name, errors.Join(errs...))
		}
	})
	return t.closeErr
}

// Err returns why the tunnel stopped on its own: a data thread hit an
// error it cannot go on after (a TUN read failing, say), so the tunnel
// closed itself rather than stay half-open, answering handshakes but
// carrying no data. It is nil while the tunnel runs and after a plain
// Close.
func (t *Tunnel) Err() error {
	if p := t.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Done returns a channel that is closed when the tunnel stops, by Close
// or on its own (see Err).
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// fail stops the tunnel because a data thread cannot go on: it records
// err for Err, Stats and UAPI, logs it and closes the tunnel from another
// goroutine (Close waits for the data threads, the caller among them).
// After Close started it does nothing: the error is then Close's doing.
func (t *Tunnel) fail(err error) {
	if t.closed() || !t.failure.CompareAndSwap(nil, &err) {
		return
	}
	t.log.Error("inline: tunnel stopped", "err", err)
	go func() {
		if cerr := t.Close(); cerr != nil {
			t.log.Error("inline: close failed tunnel", "err", cerr)
		}
	}()
}

// closed reports whether Close has started.
func (t *Tunnel) closed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// requestHandshake asks the control goroutine for a handshake; it starts
// one unless one was sent less than RekeyTimeout ago.
func (t *Tunnel) requestHandshake() {
	t.wantHandshake.Store(true)
	t.poke()
}

// poke wakes the control goroutine.
func (t *Tunnel) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// newIndex returns a random local index no current session or handshake
// uses. The caller holds t.mu.
func (t *Tunnel) newIndex() uint32 {
	for {
		i := rand.Uint32()
		if t.pairs.lookup(i) == nil && (t.hs == nil || t.hs.localIndex != i) {
			return i
		}
	}
}

// setEndpoint makes ep the peer's endpoint unless it already is (roaming).
func (t *Tunnel) setEndpoint(ep conn.Endpoint) {
	if ep == nil {
		return
	}
	if cur := t.remote.Load(); cur != nil && sameEndpoint(cur.ep, ep) {
		return
	}
	t.remote.Store(&endpoint{ep})
}

// isStdNetBind reports whether b is wireguard-go's StdNetBind, or a bind
// whose Unwrap method returns one (a wrapper that instruments it).
func isStdNetBind(b conn.Bind) bool {
	for {
		switch v := b.(type) {
		case *conn.StdNetBind:
			return true
		case interface{ Unwrap() conn.Bind }:
			b = v.Unwrap()
		default:
			return false
		}
	}
}

// sameEndpoint reports whether a and b are the same destination with the
// same sticky source.
func sameEndpoint(a, b conn.Endpoint) bool {
	if sa, ok := a.(*conn.StdNetEndpoint); ok {
		if sb, ok := b.(*conn.StdNetEndpoint); ok {
			return sa.AddrPort == sb.AddrPort && sa.SrcIP() == sb.SrcIP()
		}
		return false
	}
	return a.DstToString() == b.DstToString() && a.SrcToString() == b.SrcToString()
}
