package kernel

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/internal/cpuset"
)

// The integration tests need root and, except TestIntegrationWANKnobs,
// the kernel's WireGuard module: `make test-kernel` runs them in a Debian
// kernel under QEMU; elsewhere they skip and say why.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, links and mounts")
	}
}

// requireWireGuard skips unless the kernel can make wireguard links.
func requireWireGuard(t *testing.T) {
	t.Helper()
	requireRoot(t)
	ns := nstest.NewNS(t, "wgbkprobe"+nstest.Suffix(t))
	h := nstest.Handle(t, ns)
	err := h.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: "wgprobe"}})
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTSUP):
		t.Skip("the kernel has no WireGuard module; `make test-kernel` runs this test in a Debian kernel under QEMU")
	case err != nil:
		t.Fatalf("probe the WireGuard module: %v", err)
	}
}

// nsHost returns a Host whose /sys is a sysfs mounted from inside ns, so
// that /sys/class/net shows ns's devices, as `ip netns exec` arranges.
func nsHost(t *testing.T, ns netns.NsHandle) Host {
	t.Helper()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "sys")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := nstest.Run(ns, func() error { return unix.Mount("sysfs", mnt, "sysfs", 0, "") }); err != nil {
		t.Fatalf("mount a sysfs for the namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return Host{Files: Tree{Sys: mnt, Proc: "/proc"}, Affinity: schedAffinity{}, NAPILock: filepath.Join(dir, "napi.lock")}
}

// pair is two namespaces joined by a veth: a (192.0.2.1) and b
// (192.0.2.2), with a Host each.
type pair struct {
	a, b         netns.NsHandle
	hostA, hostB Host
	vethA, vethB string
	sfx          string
}

func newPair(t *testing.T) *pair {
	t.Helper()
	sfx := nstest.Suffix(t)
	p := &pair{sfx: sfx, vethA: "wgbva" + sfx, vethB: "wgbvb" + sfx}
	p.a = nstest.NewNS(t, "wgbka"+sfx)
	p.b = nstest.NewNS(t, "wgbkb"+sfx)
	nstest.Veth(t, p.a, p.b, p.vethA, p.vethB, netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24"))
	p.hostA, p.hostB = nsHost(t, p.a), nsHost(t, p.b)
	return p
}

// tunnelAddrs returns the inner addresses of tunnel i: a's and b's.
func tunnelAddrs(i int) (netip.Addr, netip.Addr) {
	return netip.AddrFrom4([4]byte{10, 90, byte(i), 1}), netip.AddrFrom4([4]byte{10, 90, byte(i), 2})
}

// configs returns n tunnels' configs for a and b; device i is
// wgk<sfx>-<i> on both sides, port 51820+i.
func (p *pair) configs(t *testing.T, n int) (a, b []*wgconf.Config) {
	t.Helper()
	for i := range n {
		ka, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := wgtypes.GeneratePrivateKey()
		psk, _ := wgtypes.GenerateKey()
		inA, inB := tunnelAddrs(i)
		port := 51820 + i
		epA := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(port))
		epB := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(port))
		name := fmt.Sprintf("wgk%s-%d", p.sfx, i)
		a = append(a, &wgconf.Config{Name: name,
			Interface: wgconf.Interface{PrivateKey: ka, ListenPort: port, Addresses: []netip.Prefix{netip.PrefixFrom(inA, 32)}},
			Peers: []wgconf.Peer{{PublicKey: kb.PublicKey(), PresharedKey: &psk, Endpoint: &epB,
				AllowedIPs: []netip.Prefix{netip.PrefixFrom(inB, 32)}, PersistentKeepalive: 25 * time.Second}}})
		b = append(b, &wgconf.Config{Name: name,
			Interface: wgconf.Interface{PrivateKey: kb, ListenPort: port, Addresses: []netip.Prefix{netip.PrefixFrom(inB, 32)}, MTU: 1400},
			Peers: []wgconf.Peer{{PublicKey: ka.PublicKey(), PresharedKey: &psk, Endpoint: &epA,
				AllowedIPs: []netip.Prefix{netip.PrefixFrom(inA, 32)}}}})
	}
	return a, b
}

// up starts an engine in ns and closes it in t.Cleanup.
func up(t *testing.T, ns netns.NsHandle, cfgs []*wgconf.Config, tu Tuning, host Host) *Engine {
	t.Helper()
	var e *Engine
	err := nstest.Run(ns, func() error {
		var err error
		e, err = UpOn(context.Background(), cfgs, tu, host, nil)
		return err
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// transfer sends size random bytes over TCP from a to b's inner address
// of tunnel i and fails unless all of them arrive.
func transfer(t *testing.T, p *pair, i, size int) {
	t.Helper()
	inA, inB := tunnelAddrs(i)
	var ln net.Listener
	if err := nstest.Run(p.b, func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(inB, 5001).String())
		return err
	}); err != nil {
		t.Fatalf("listen in b: %v", err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	var c net.Conn
	if err := nstest.Run(p.a, func() error {
		var err error
		d := net.Dialer{Timeout: 20 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(inA, 0))}
		c, err = d.Dial("tcp4", netip.AddrPortFrom(inB, 5001).String())
		return err
	}); err != nil {
		t.Fatalf("tunnel %d: dial through the tunnel: %v", i, err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.CopyN(c, rand.Reader, int64(size)); err != nil {
		t.Fatalf("tunnel %d: send: %v", i, err)
	}
	c.Close()
	select {
	case n := <-got:
		if n != int64(size) {
			t.Fatalf("tunnel %d: %d bytes arrived, want %d", i, n, size)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("tunnel %d: transfer did not finish", i)
	}
}

// device reads a WireGuard device through wgctrl in ns.
func device(t *testing.T, ns netns.NsHandle, name string) *wgtypes.Device {
	t.Helper()
	var d *wgtypes.Device
	if err := nstest.Run(ns, func() error {
		c, err := wgctrl.New()
		if err != nil {
			return err
		}
		defer c.Close()
		d, err = c.Device(name)
		return err
	}); err != nil {
		t.Fatalf("wgctrl device %s: %v", name, err)
	}
	return d
}

func TestIntegrationTunnelsCarryTraffic(t *testing.T) {
	requireWireGuard(t)
	p := newPair(t)
	cfgA, cfgB := p.configs(t, 2)
	ea := up(t, p.a, cfgA, Tuning{}, p.hostA)
	eb := up(t, p.b, cfgB, Tuning{}, p.hostB)
	if got, want := ea.Devices(), []string{cfgA[0].Name, cfgA[1].Name}; !slices.Equal(got, want) {
		t.Fatalf("Devices = %v, want %v", got, want)
	}
	if r := ea.Report(); len(r.Changes) != 0 {
		t.Errorf("vanilla engine changed knobs: %+v", r.Changes)
	}
	// Configuration as written: kernel type, port, MTU, peer.
	d := device(t, p.b, cfgB[1].Name)
	if d.Type != wgtypes.LinuxKernel || d.ListenPort != 51821 || len(d.Peers) != 1 || d.Peers[0].PublicKey != cfgB[1].Peers[0].PublicKey {
		t.Fatalf("device %s = type %v port %d peers %d, want the kernel's, port 51821, one peer", d.Name, d.Type, d.ListenPort, len(d.Peers))
	}
	if mtu, _ := p.hostB.Files.Read("/sys/class/net/" + cfgB[0].Name + "/mtu"); mtu != "1400" {
		t.Errorf("MTU of %s = %q, want 1400 from the config", cfgB[0].Name, mtu)
	}
	const size = 4 << 20
	for i := range cfgA {
		transfer(t, p, i, size)
	}
	for i := range cfgA {
		da, db := device(t, p.a, cfgA[i].Name), device(t, p.b, cfgB[i].Name)
		pa, pb := da.Peers[0], db.Peers[0]
		if pa.TransmitBytes < size || pb.ReceiveBytes < size {
			t.Errorf("tunnel %d counters: a sent %d, b received %d; want at least %d each", i, pa.TransmitBytes, pb.ReceiveBytes, size)
		}
		if pa.LastHandshakeTime.IsZero() || pb.LastHandshakeTime.IsZero() {
			t.Errorf("tunnel %d: no handshake recorded", i)
		}
	}
	if err := eb.Close(); err != nil {
		t.Fatal(err)
	}
	h := nstest.Handle(t, p.b)
	for _, c := range cfgB {
		if _, err := h.LinkByName(c.Name); err == nil {
			t.Errorf("%s still exists after Close", c.Name)
		}
	}
}

// cpusAllowed reads a thread's affinity from /proc/<pid>/status, apart from
// sched_getaffinity.
func cpusAllowed(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			l, err := cpuset.Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%d/status", pid)
	return nil
}

func TestIntegrationThreadedNAPI(t *testing.T) {
	requireWireGuard(t)
	online, err := LocalTree().Read("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := cpuset.Parse(online)
	if len(all) < 2 {
		t.Skipf("needs 2 CPUs to tell pinning apart, has %s", online)
	}
	p := newPair(t)
	cfgA, cfgB := p.configs(t, 2)

	// Through the engine: threaded NAPI and pinning on a, traffic flows.
	ea := up(t, p.a, cfgA, Tuning{ThreadedNAPI: true, NAPICPUs: []int{1, 0}}, p.hostA)
	eb := up(t, p.b, cfgB, Tuning{}, p.hostB)
	rep := ea.Report()
	for i, c := range cfgA {
		if v, _ := p.hostA.Files.Read("/sys/class/net/" + c.Name + "/threaded"); v != "1" {
			t.Errorf("%s threaded = %q, want 1", c.Name, v)
		}
		threads := rep.NAPIThreads[c.Name]
		if len(threads) != 1 {
			t.Fatalf("NAPI threads of %s = %+v, want one (one peer)", c.Name, threads)
		}
		th := threads[0]
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", th.PID)); err != nil || !NAPICommMatches(strings.TrimSpace(string(comm)), c.Name) {
			t.Errorf("thread %d: comm %q (%v), want napi/%s-*", th.PID, comm, err, c.Name)
		}
		want := []int{[]int{1, 0}[i]}
		if got := cpusAllowed(t, th.PID); !slices.Equal(got, want) {
			t.Errorf("%s's NAPI thread %d may run on %v, want %v", c.Name, th.PID, got, want)
		}
	}
	if len(rep.Changes) != 4 {
		t.Errorf("changes = %+v, want 2 threaded + 2 affinities", rep.Changes)
	}
	for i := range cfgA {
		transfer(t, p, i, 1<<20)
	}
	threadsA := rep.NAPIThreads

	// Through a Tuner on b's vanilla devices: on, then restored to off.
	devsB := eb.Devices()
	tun := NewTuner(p.hostB, nil)
	var before []string
	for _, d := range devsB {
		v, _ := p.hostB.Files.Read("/sys/class/net/" + d + "/threaded")
		before = append(before, v)
	}
	if err := nstest.Run(p.b, func() error { return tun.Apply(devsB, "", Tuning{ThreadedNAPI: true, NAPICPUs: []int{0}}) }); err != nil {
		t.Fatalf("Apply on b: %v", err)
	}
	var pids []int
	for _, d := range devsB {
		ths := tun.Report().NAPIThreads[d]
		if len(ths) != 1 {
			t.Fatalf("NAPI threads of b's %s = %+v, want one", d, ths)
		}
		// Same names as a's devices, other threads: told apart.
		if slices.ContainsFunc(threadsA[d], func(x NAPIThread) bool { return x.PID == ths[0].PID }) {
			t.Errorf("b's %s got a's NAPI thread %d", d, ths[0].PID)
		}
		if got := cpusAllowed(t, ths[0].PID); !slices.Equal(got, []int{0}) {
			t.Errorf("b's %s NAPI thread on %v, want [0]", d, got)
		}
		pids = append(pids, ths[0].PID)
	}
	transfer(t, p, 0, 1<<20)
	if err := tun.Restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for i, d := range devsB {
		if v, _ := p.hostB.Files.Read("/sys/class/net/" + d + "/threaded"); v != before[i] {
			t.Errorf("b's %s threaded = %q after Restore, want %q", d, v, before[i])
		}
	}
	for _, pid := range pids {
		// The kernel keeps a device's NAPI threads until the device goes.
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			continue
		}
		if got := cpusAllowed(t, pid); !slices.Equal(got, all) {
			t.Errorf("NAPI thread %d on %v after Restore, want every CPU %v", pid, got, all)
		}
	}
	// Closing a: its devices, and with them their NAPI threads, go.
	if err := ea.Close(); err != nil {
		t.Fatal(err)
	}
	for d, ths := range threadsA {
		for _, th := range ths {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", th.PID)); err == nil {
				t.Errorf("NAPI thread %d of %s outlived its device", th.PID, d)
			}
		}
	}
}

func TestIntegrationStockModuleRefusesPatchedKnobs(t *testing.T) {
	requireWireGuard(t)
	p := newPair(t)
	cfgA, _ := p.configs(t, 1)
	for _, tu := range []Tuning{{InlineKernel: true}, {EncryptCPUs: []int{0}}, {ThreadedNAPI: true, DecryptCPUs: []int{0}}} {
		err := nstest.Run(p.a, func() error {
			_, err := UpOn(context.Background(), cfgA, tu, p.hostA, nil)
			return err
		})
		if !errors.Is(err, ErrNeedsPatchedModule) || !strings.Contains(err.Error(), "needs the patched inline module") {
			t.Errorf("Up with %v: %v, want needs the patched inline module", tu.Set(), err)
		}
		// Nothing is left: the device is gone, so a retry can make it.
		if _, err := nstest.Handle(t, p.a).LinkByName(cfgA[0].Name); err == nil {
			t.Fatalf("%s left behind by a failed Up", cfgA[0].Name)
		}
	}
}

// TestIntegrationWANKnobs applies the WAN NIC's knobs to a veth; it needs
// root only, not WireGuard.
func TestIntegrationWANKnobs(t *testing.T) {
	requireRoot(t)
	p := newPair(t)
	f := p.hostA.Files
	rps := "/sys/class/net/" + p.vethA + "/queues/rx-0/rps_cpus"
	rpsBefore, err := f.Read(rps)
	if err != nil {
		t.Skipf("no RPS on this kernel: %v", err)
	}
	var ethBefore Feature
	readGRO := func() Feature {
		var ft Feature
		if err := nstest.Run(p.a, func() error {
			e, err := OpenEthtool()
			if err != nil {
				return err
			}
			defer e.Close()
			ft, err = e.Feature(p.vethA, featUDPGROForwarding)
			return err
		}); err != nil {
			t.Fatalf("read %s: %v", featUDPGROForwarding, err)
		}
		return ft
	}
	ethBefore = readGRO()
	if ethBefore.Active {
		t.Fatalf("%s on already on a new veth", featUDPGROForwarding)
	}
	tun := NewTuner(p.hostA, nil)
	xps := "/sys/class/net/" + p.vethA + "/queues/tx-0/xps_cpus"
	xpsBefore, err := f.Read(xps)
	if err != nil {
		t.Fatal(err)
	}
	tu := Tuning{RPSCPUs: []int{0}, XPSCPUs: []int{0}, UDPGROForwarding: true, Steering: true, ThreadedNAPI: true, NUMANode: intp(-1),
		Optional: []string{KnobSteering, KnobNUMANode, KnobThreadedNAPI}}
	if err := nstest.Run(p.a, func() error { return tun.Apply(nil, p.vethA, tu) }); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rep := tun.Report()
	if rep.WANDevice != p.vethA {
		t.Errorf("WAN device %q, want %s", rep.WANDevice, p.vethA)
	}
	if v, _ := f.Read(rps); !maskIs(v, []int{0}) {
		t.Errorf("rps_cpus = %q, want CPU 0", v)
	}
	if v, _ := f.Read(xps); !maskIs(v, []int{0}) {
		t.Errorf("xps_cpus = %q, want CPU 0", v)
	}
	if !readGRO().Active {
		t.Errorf("%s still off", featUDPGROForwarding)
	}
	var skipped []string
	for _, s := range rep.Skipped {
		skipped = append(skipped, s.Knob)
		if !strings.Contains(s.Reason, "not supported on this host") {
			t.Errorf("skip reason %q", s.Reason)
		}
	}
	if !slices.Equal(skipped, []string{KnobNUMANode, KnobSteering}) {
		t.Errorf("skipped %v, want numa_node (no NUMA node on a veth) and steering (no ntuple filters)", skipped)
	}
	if err := tun.Restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if v, _ := f.Read(rps); v != rpsBefore {
		t.Errorf("rps_cpus = %q after Restore, want %q", v, rpsBefore)
	}
	if v, _ := f.Read(xps); v != xpsBefore {
		t.Errorf("xps_cpus = %q after Restore, want %q", v, xpsBefore)
	}
	if got := readGRO(); got != ethBefore {
		t.Errorf("%s = %+v after Restore, want %+v", featUDPGROForwarding, got, ethBefore)
	}
}

func maskIs(v string, cpus []int) bool {
	got, err := cpuset.ParseMask(v)
	return err == nil && slices.Equal(got, cpus)
}
