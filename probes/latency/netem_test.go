package latency

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/testutil"
)

// TestIntegrationNetemDelay checks the UDP probe against a delay the
// kernel adds: two namespaces joined by a veth pair with a netem qdisc on
// each end, 20 ms added on one of them. The probe runs in short windows
// alternating (ABBA) between the baseline and the added delay, so that
// both see the same load: the QEMU guest's round trips wander by
// milliseconds with its host's load. The p50 with the delay must be the
// baseline's p50 plus the added delay, within 10 % of the added delay.
// It needs sch_netem, which this machine may lack; the QEMU guest of
// `make test-kernel` has it and requires the test to pass there.
func TestIntegrationNetemDelay(t *testing.T) {
	testutil.RequireRoot(t)
	a, b := newNS(t), newNS(t)
	addrA, addrB := netip.MustParseAddr("10.78.0.1"), netip.MustParseAddr("10.78.0.2")
	if err := vethPair(a, b, "va", "vb", addrA, addrB); err != nil {
		t.Fatal(err)
	}
	ends := []struct {
		ns   netns.NsHandle
		link string
	}{{a, "va"}, {b, "vb"}}
	// Without netem there is nothing to check: learn that first. The
	// qdiscs stay, with no delay when none is asked for, so that the
	// baseline takes the same path.
	for _, e := range ends {
		err := setNetem(e.ns, e.link, 0)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("no netem in this kernel (sch_netem): %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	var target netip.AddrPort
	if err := inNS(b, func() error {
		target = echo(t, "udp4", netip.AddrPortFrom(addrB, 0).String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	probe := func(d time.Duration) Report {
		t.Helper()
		var rep Report
		err := inNS(a, func() (err error) {
			rep, err = Probe(context.Background(), Options{Target: target, Bind: addrA, Rate: 50, Duration: d, Timeout: 250 * time.Millisecond})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// A veth passes packets only once the kernel's link watch has
	// activated its queues, up to a second after it came up: wait for
	// every probe of a short burst to come back.
	for start := time.Now(); ; {
		if r := probe(200 * time.Millisecond); r.Sent > 0 && r.Received == r.Sent {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the veth carried no probe for 10 s")
		}
	}

	// The bare path, for the log. Under QEMU's TCG a packet netem holds
	// costs the guest a timer wakeup from idle, which a loaded host
	// serves milliseconds late (and later after a short sleep than after
	// a long one), so every delay shows up longer than asked for. The
	// probe is right to count that; so the baseline holds the packets
	// for hold already, paying the same wakeup, and the difference is
	// the added delay alone.
	bare := Summarize(probe(1500 * time.Millisecond))
	t.Logf("bare path: p50 %.3f ms, p90 %.3f ms, %d/%d answered", bare.P50, bare.P90, bare.Received, bare.Sent)

	const rounds, window, hold = 6, 300 * time.Millisecond, 10 * time.Millisecond
	tests := []struct {
		name       string
		aOut, bOut time.Duration // delay netem adds on va's and vb's egress
		added      time.Duration // what the round trip gains
	}{
		{"20 ms on the way out", 20 * time.Millisecond, 0, 20 * time.Millisecond},
		{"20 ms on the way back", 0, 20 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := func(on bool) {
				t.Helper()
				for i, d := range []time.Duration{tt.aOut, tt.bOut} {
					switch {
					case d == 0: // this end delays nothing
					case on:
						d += hold
					default:
						d = hold
					}
					if err := setNetem(ends[i].ns, ends[i].link, d); err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Cleanup(func() {
				for _, e := range ends {
					if err := setNetem(e.ns, e.link, 0); err != nil {
						t.Error(err)
					}
				}
			})
			// ABBA order, so that a drift in the load biases neither.
			var base, delayed Report
			for r := 0; r < rounds; r++ {
				for _, on := range [][]bool{{false, true}, {true, false}}[r%2] {
					set(on)
					rep := probe(window)
					into := &base
					if on {
						into = &delayed
					}
					into.Sent += rep.Sent
					into.RTTMs = append(into.RTTMs, rep.RTTMs...)
				}
			}
			bs, ds := Summarize(base), Summarize(delayed)
			for _, s := range []Stats{bs, ds} {
				if s.Received < s.Sent/2 {
					t.Fatalf("%d of %d probes answered: too few for a p50", s.Received, s.Sent)
				}
			}
			added := float64(tt.added) / float64(time.Millisecond)
			want := bs.P50 + added
			t.Logf("baseline (netem holding %v) p50 %.3f ms (p10 %.3f, p90 %.3f, %d/%d answered); with %v more: p50 %.3f ms (p10 %.3f, p90 %.3f, %d/%d answered); want %.3f ms, error %+.1f %% of the added delay (%+.1f %% against the bare path plus the hold)",
				hold, bs.P50, Percentile(sorted(base.RTTMs), 10), bs.P90, bs.Received, bs.Sent,
				tt.added, ds.P50, Percentile(sorted(delayed.RTTMs), 10), ds.P90, ds.Received, ds.Sent, want,
				100*(ds.P50-want)/added, 100*(ds.P50-bare.P50-float64(hold)/float64(time.Millisecond)-added)/added)
			if math.Abs(ds.P50-want) > 0.1*added {
				t.Errorf("p50 %.3f ms with %v more netem delay: want %.3f ms ± %.1f ms (the baseline p50 plus the delay, within 10 %% of it)", ds.P50, tt.added, want, 0.1*added)
			}
		})
	}
}

// sorted returns a sorted copy of v.
func sorted(v []float64) []float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// newNS makes an unnamed network namespace with its loopback up, closed
// (and so removed, with its links) when t ends.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	errc := make(chan error, 1)
	var h netns.NsHandle
	go func() {
		// The thread ends up in the new namespace: it is never
		// unlocked, so the runtime discards it when the goroutine ends.
		runtime.LockOSThread()
		var err error
		if h, err = netns.New(); err != nil {
			errc <- fmt.Errorf("new netns: %w", err)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		if h.IsOpen() {
			h.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// inNS calls fn on a thread that has entered ns. Sockets fn opens stay
// in ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// vethPair joins a and b by a veth pair nameA–nameB with addrA/24 and
// addrB/24, both up.
func vethPair(a, b netns.NsHandle, nameA, nameB string, addrA, addrB netip.Addr) error {
	ha, err := netlink.NewHandleAt(a)
	if err != nil {
		return err
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b)
	if err != nil {
		return err
	}
	defer hb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(b)}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s–%s: %w", nameA, nameB, err)
	}
	for _, end := range []struct {
		h    *netlink.Handle
		name string
		addr netip.Addr
	}{{ha, nameA, addrA}, {hb, nameB, addrB}} {
		l, err := end.h.LinkByName(end.name)
		if err != nil {
			return err
		}
		ipn := &net.IPNet{IP: end.addr.AsSlice(), Mask: net.CIDRMask(24, 32)}
		if err := end.h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
			return fmt.Errorf("address %s on %s: %w", end.addr, end.name, err)
		}
		if err := end.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("up %s: %w", end.name, err)
		}
	}
	return nil
}

// setNetem makes link's root qdisc in ns a netem delaying every packet
// by delay (0: none), replacing what was there. The qdisc goes with the
// namespace.
func setNetem(ns netns.NsHandle, link string, delay time.Duration) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(link)
	if err != nil {
		return err
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: uint32(delay / time.Microsecond)})
	if err := h.QdiscReplace(q); err != nil {
		return fmt.Errorf("netem delay %v on %s: %w", delay, link, err)
	}
	return nil
}
