package inline_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/inline"
	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/datapath/wggo"
)

func genKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// closer is what both engines offer for cleanup.
type closer interface{ Close() error }

// upInline runs inline.Up on a thread inside ns; Close is registered for
// cleanup.
func upInline(t testing.TB, ns netns.NsHandle, opts inline.Options, cfgs ...*wgconf.Config) *inline.Engine {
	t.Helper()
	var e *inline.Engine
	err := nstest.Run(ns, func() error {
		var err error
		e, err = inline.Up(context.Background(), cfgs, opts)
		return err
	})
	if err != nil {
		t.Fatalf("inline.Up: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// upWggo runs the wireguard-go engine inside ns.
func upWggo(t testing.TB, ns netns.NsHandle, cfgs ...*wgconf.Config) *wggo.Engine {
	t.Helper()
	var e *wggo.Engine
	err := nstest.Run(ns, func() error {
		var err error
		e, err = wggo.Up(context.Background(), cfgs, nil)
		return err
	})
	if err != nil {
		t.Fatalf("wggo.Up: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// threadCores returns the Cpus_allowed_list of each thread named name.
func threadCores(t *testing.T, name string) []string {
	t.Helper()
	comms, _ := filepath.Glob("/proc/self/task/*/comm")
	var out []string
	for _, f := range comms {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		st, err := os.ReadFile(filepath.Join(filepath.Dir(f), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

// TestIntegrationInlineTunnel runs the inline engine in one namespace
// against wireguard-go (and against itself) in another, over a veth pair:
// real TUN devices, real UDP, TCP through the tunnel both ways, status
// read through wgctrl.
func TestIntegrationInlineTunnel(t *testing.T) {
	nstest.RequireRoot(t)
	for _, peerEngine := range []string{"wggo", "inline"} {
		t.Run("peer="+peerEngine, func(t *testing.T) {
			sfx := nstest.Suffix(t)
			nsA := nstest.NewNS(t, "wgbtest-"+sfx+"-a")
			nsB := nstest.NewNS(t, "wgbtest-"+sfx+"-b")
			nstest.Veth(t, nsA, nsB, "vetha", "vethb",
				netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))
			privA, privB, psk := genKey(t), genKey(t), genKey(t)
			epA, epB := netip.MustParseAddrPort("198.18.255.1:51820"), netip.MustParseAddrPort("198.18.255.2:51821")
			tunA, tunB := netip.MustParsePrefix("198.19.0.1/32"), netip.MustParsePrefix("198.19.0.2/32")
			devA, devB := "wgbI"+sfx, "wgbP"+sfx
			cfgA := &wgconf.Config{Name: devA,
				Interface: wgconf.Interface{PrivateKey: privA, ListenPort: int(epA.Port()), Addresses: []netip.Prefix{tunA}},
				Peers:     []wgconf.Peer{{PublicKey: privB.PublicKey(), PresharedKey: &psk, AllowedIPs: []netip.Prefix{tunB}, Endpoint: &epB}}}
			cfgB := &wgconf.Config{Name: devB,
				Interface: wgconf.Interface{PrivateKey: privB, ListenPort: int(epB.Port()), Addresses: []netip.Prefix{tunB}},
				Peers:     []wgconf.Peer{{PublicKey: privA.PublicKey(), PresharedKey: &psk, AllowedIPs: []netip.Prefix{tunA}}}}

			coreA := runtime.NumCPU() - 1 // NumCPU follows the process's affinity
			engA := upInline(t, nsA, inline.Options{CPUs: []int{coreA}}, cfgA)
			var engB closer
			if peerEngine == "wggo" {
				engB = upWggo(t, nsB, cfgB)
			} else {
				engB = upInline(t, nsB, inline.Options{CPUs: []int{0}}, cfgB)
			}
			if got := engA.Devices(); len(got) != 1 || got[0] != devA {
				t.Errorf("Devices() = %v, want [%s]", got, devA)
			}

			const size = 4 << 20
			payload := make([]byte, size)
			if _, err := rand.Read(payload); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if got := nstest.Transfer(t, nsA, nsB, tunB.Addr(), payload); sha256.Sum256(got) != sha256.Sum256(payload) {
				t.Fatalf("A to B: received %d bytes that differ from the %d sent", len(got), size)
			}
			t.Logf("4 MiB inline -> %s in %v", peerEngine, time.Since(start))
			start = time.Now()
			if got := nstest.Transfer(t, nsB, nsA, tunA.Addr(), payload); sha256.Sum256(got) != sha256.Sum256(payload) {
				t.Fatalf("B to A: received %d bytes that differ from the %d sent", len(got), size)
			}
			t.Logf("4 MiB %s -> inline in %v", peerEngine, time.Since(start))

			st, err := datapath.Status([]string{devA, devB})
			if err != nil {
				t.Fatalf("Status through wgctrl: %v", err)
			}
			a, b := st[0], st[1]
			if len(a.Peers) != 1 || len(b.Peers) != 1 {
				t.Fatalf("Status = %+v, want one peer each", st)
			}
			pa, pb := a.Peers[0], b.Peers[0]
			checks := []struct {
				what string
				ok   bool
			}{
				{"A is userspace", a.Type == "userspace"},
				{"A public key", a.PublicKey == privA.PublicKey().String()},
				{"A listen port", a.ListenPort == int(epA.Port())},
				{"A's peer", pa.PublicKey == privB.PublicKey().String()},
				{"A's peer endpoint", pa.Endpoint == epB},
				{"B learnt A's endpoint", pb.Endpoint == epA},
				{"A's allowed IPs", len(pa.AllowedIPs) == 1 && pa.AllowedIPs[0] == tunB},
				{"A tx >= 4 MiB", pa.TxBytes >= size},
				{"A rx >= 4 MiB", pa.RxBytes >= size},
				{"handshake on A", time.Since(pa.LastHandshake) < time.Minute},
			}
			for _, c := range checks {
				if !c.ok {
					t.Errorf("%s: no; status A %+v, B %+v", c.what, a, b)
				}
			}
			stats := engA.Stats()[0]
			for _, r := range []inline.DropReason{inline.DropAuth, inline.DropReplay, inline.DropAllowedIPs, inline.DropMAC, inline.DropUnknownKey} {
				if stats.Drops[r] != 0 {
					t.Errorf("inline drops[%s] = %d, want 0 on a clean link", r, stats.Drops[r])
				}
			}
			want := strconv.Itoa(coreA)
			comm := ("inline/" + devA)[:15] // thread names hold 15 bytes
			cores := threadCores(t, comm)
			if len(cores) < 2 {
				t.Errorf("threads named %s: %d, want TX and RX", comm, len(cores))
			}
			for _, c := range cores {
				if c != want {
					t.Errorf("a %s thread may run on %s, want %s", comm, c, want)
				}
			}

			if err := engA.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := engB.Close(); err != nil {
				t.Errorf("Close peer: %v", err)
			}
			h := nstest.Handle(t, nsA)
			if _, err := h.LinkByName(devA); !errors.As(err, new(netlink.LinkNotFoundError)) {
				t.Errorf("link %s after Close: err = %v, want not found", devA, err)
			}
			if _, err := os.Stat(inline.SocketPath(devA)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("UAPI socket after Close: %v, want it removed", err)
			}
			eventually(t, "inline threads gone", func() bool { return len(threadCores(t, comm)) == 0 })
		})
	}
}

func TestUpRejectsBadInput(t *testing.T) {
	k := genKey(t)
	peer := wgconf.Peer{PublicKey: genKey(t).PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.19.0.2/32")}}
	one := &wgconf.Config{Name: "wgbX0", Interface: wgconf.Interface{PrivateKey: k}, Peers: []wgconf.Peer{peer}}
	tests := []struct {
		name string
		cfgs []*wgconf.Config
		opts inline.Options
		want string
	}{
		{"none", nil, inline.Options{}, "no WireGuard configs"},
		{"nil config", []*wgconf.Config{nil}, inline.Options{}, "nil WireGuard config"},
		{"no peer", []*wgconf.Config{{Name: "wgbX1", Interface: wgconf.Interface{PrivateKey: k}}}, inline.Options{}, "exactly one peer per tunnel"},
		{"two peers", []*wgconf.Config{{Name: "wgbX2", Interface: wgconf.Interface{PrivateKey: k},
			Peers: []wgconf.Peer{peer, {PublicKey: genKey(t).PublicKey()}}}}, inline.Options{}, "exactly one peer per tunnel"},
		{"duplicate names", []*wgconf.Config{one, one}, inline.Options{}, "two configs for device wgbX0"},
		{"default route", []*wgconf.Config{{Name: "wgbX3", Interface: wgconf.Interface{PrivateKey: k},
			Peers: []wgconf.Peer{{PublicKey: peer.PublicKey, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}}},
			inline.Options{}, "Table = off"},
		{"negative CPU", []*wgconf.Config{one}, inline.Options{CPUs: []int{-1}}, "not a core number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inline.Up(context.Background(), tt.cfgs, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Up error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIntegrationUpRollsBack(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	ns := nstest.NewNS(t, "wgbtest-"+sfx+"-r")
	cfg := func(name string, port int) *wgconf.Config {
		return &wgconf.Config{Name: name, Interface: wgconf.Interface{PrivateKey: genKey(t), ListenPort: port,
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.19.7.1/32")}},
			Peers: []wgconf.Peer{{PublicKey: genKey(t).PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.19.7.2/32")}}}}
	}
	first, second := cfg("wgbR1"+sfx, 51830), cfg("wgbR2"+sfx, 51830) // same port: the second fails
	err := nstest.Run(ns, func() error {
		e, err := inline.Up(context.Background(), []*wgconf.Config{first, second}, inline.Options{})
		if err == nil {
			e.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), second.Name) || !strings.Contains(err.Error(), "UDP port") {
		t.Fatalf("Up error = %v, want one naming %s and its UDP port", err, second.Name)
	}
	h := nstest.Handle(t, ns)
	for _, c := range []*wgconf.Config{first, second} {
		if _, err := h.LinkByName(c.Name); !errors.As(err, new(netlink.LinkNotFoundError)) {
			t.Errorf("link %s after a failed Up: err = %v, want not found", c.Name, err)
		}
		if _, err := os.Stat(inline.SocketPath(c.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("UAPI socket of %s after a failed Up: %v", c.Name, err)
		}
	}
}

// eventually polls cond until it holds or 5s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkIntegrationTCP pushes 64 MiB of TCP per iteration through a
// real tunnel between two namespaces (real TUN, UDP over veth, the kernel's
// offloads), for an inline pair and a wireguard-go pair in the same run.
// Both gateways share this machine's cores with the TCP endpoints, so the
// figure is end-to-end, not per core.
func BenchmarkIntegrationTCP(b *testing.B) {
	nstest.RequireRoot(b)
	for _, engine := range []string{"wireguard-go", "inline"} {
		b.Run("impl="+engine, func(b *testing.B) {
			sfx := nstest.Suffix(b)
			nsA := nstest.NewNS(b, "wgbbench-"+sfx+"-a")
			nsB := nstest.NewNS(b, "wgbbench-"+sfx+"-b")
			nstest.Veth(b, nsA, nsB, "vetha", "vethb",
				netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))
			privA, privB := genKey(b), genKey(b)
			epB := netip.MustParseAddrPort("198.18.255.2:51821")
			tunA, tunB := netip.MustParsePrefix("198.19.0.1/32"), netip.MustParsePrefix("198.19.0.2/32")
			cfgA := &wgconf.Config{Name: "wgbA" + sfx,
				Interface: wgconf.Interface{PrivateKey: privA, ListenPort: 51820, Addresses: []netip.Prefix{tunA}},
				Peers:     []wgconf.Peer{{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{tunB}, Endpoint: &epB}}}
			cfgB := &wgconf.Config{Name: "wgbB" + sfx,
				Interface: wgconf.Interface{PrivateKey: privB, ListenPort: int(epB.Port()), Addresses: []netip.Prefix{tunB}},
				Peers:     []wgconf.Peer{{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{tunA}}}}
			if engine == "inline" {
				upInline(b, nsA, inline.Options{CPUs: []int{0}}, cfgA)
				upInline(b, nsB, inline.Options{CPUs: []int{runtime.NumCPU() - 1}}, cfgB)
			} else {
				upWggo(b, nsA, cfgA)
				upWggo(b, nsB, cfgB)
			}
			payload := make([]byte, 64<<20)
			nstest.Transfer(b, nsA, nsB, tunB.Addr(), payload[:1<<20]) // handshake, warm up
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if got := nstest.Transfer(b, nsA, nsB, tunB.Addr(), payload); len(got) != len(payload) {
					b.Fatalf("received %d of %d bytes", len(got), len(payload))
				}
			}
			b.ReportMetric(float64(b.N*len(payload)*8)/time.Since(start).Seconds()/1e9, "Gbit/s")
		})
	}
}
