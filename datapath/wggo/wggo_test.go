package wggo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/datapath/wggo"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func genKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeConfig writes c to dir/<name>.conf and parses it back, so the test
// exercises the file path the datapath command takes.
func writeConfig(t testing.TB, dir string, c *wgconf.Config) *wgconf.Config {
	t.Helper()
	path := filepath.Join(dir, c.Name+".conf")
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := wgconf.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// upIn runs wggo.Up on a thread inside ns; Close is registered for cleanup.
func upIn(t testing.TB, ns netns.NsHandle, log *slog.Logger, cfgs ...*wgconf.Config) *wggo.Engine {
	t.Helper()
	var e *wggo.Engine
	err := nstest.Run(ns, func() error {
		var err error
		e, err = wggo.Up(context.Background(), cfgs, log)
		return err
	})
	if err != nil {
		t.Fatalf("wggo.Up: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestIntegrationWggoTunnel(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	nsA := nstest.NewNS(t, "wgbtest-"+sfx+"-a")
	nsB := nstest.NewNS(t, "wgbtest-"+sfx+"-b")
	nstest.Veth(t, nsA, nsB, "vetha", "vethb",
		netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))

	privA, privB, psk := genKey(t), genKey(t), genKey(t)
	epA, epB := netip.MustParseAddrPort("198.18.255.1:51820"), netip.MustParseAddrPort("198.18.255.2:51821")
	tunA, tunB := netip.MustParsePrefix("198.19.0.1/32"), netip.MustParsePrefix("198.19.0.2/32")
	devA, devB := "wgbA"+sfx, "wgbB"+sfx
	dir := t.TempDir()
	cfgA := writeConfig(t, dir, &wgconf.Config{Name: devA,
		Interface: wgconf.Interface{PrivateKey: privA, ListenPort: int(epA.Port()), Addresses: []netip.Prefix{tunA}},
		Peers:     []wgconf.Peer{{PublicKey: privB.PublicKey(), PresharedKey: &psk, AllowedIPs: []netip.Prefix{tunB}, Endpoint: &epB}}})
	cfgB := writeConfig(t, dir, &wgconf.Config{Name: devB,
		Interface: wgconf.Interface{PrivateKey: privB, ListenPort: int(epB.Port()), Addresses: []netip.Prefix{tunB}},
		Peers:     []wgconf.Peer{{PublicKey: privA.PublicKey(), PresharedKey: &psk, AllowedIPs: []netip.Prefix{tunA}, Endpoint: &epA}}})

	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	engA := upIn(t, nsA, log, cfgA)
	engB := upIn(t, nsB, log, cfgB)
	if got := engA.Devices(); len(got) != 1 || got[0] != devA {
		t.Errorf("Devices() = %v, want [%s]", got, devA)
	}

	const size = 1 << 20
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := nstest.Transfer(t, nsA, nsB, tunB.Addr(), payload)
	elapsed := time.Since(start)
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), size)
	}
	t.Logf("1 MiB through the tunnel in %v", elapsed)

	st, err := datapath.Status([]string{devA, devB})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(st) != 2 || len(st[0].Peers) != 1 || len(st[1].Peers) != 1 {
		t.Fatalf("Status = %+v, want two devices with one peer each", st)
	}
	a, b := st[0], st[1]
	pa, pb := a.Peers[0], b.Peers[0]
	checks := []struct {
		what string
		ok   bool
	}{
		{"A is userspace", a.Type == "userspace"},
		{"A listen port", a.ListenPort == int(epA.Port())},
		{"A public key", a.PublicKey == privA.PublicKey().String()},
		{"A's peer is B", pa.PublicKey == privB.PublicKey().String()},
		{"A's peer endpoint", pa.Endpoint == epB},
		{"B's peer endpoint learnt", pb.Endpoint == epA},
		{"A's peer allowed IPs", len(pa.AllowedIPs) == 1 && pa.AllowedIPs[0] == tunB},
		{"A tx >= 1 MiB", pa.TxBytes >= size},
		{"B rx >= 1 MiB", pb.RxBytes >= size},
		{"handshake on A", time.Since(pa.LastHandshake) < time.Minute},
		{"handshake on B", time.Since(pb.LastHandshake) < time.Minute},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: no; status A %+v, B %+v", c.what, a, b)
		}
	}

	// wireguard-go rebinds its UDP socket from its own goroutines on link
	// events; a rebind from this (host namespace) goroutine must still
	// land in nsA, so traffic keeps flowing.
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	if err := engA.RebindFromHere(0); err != nil {
		t.Fatalf("rebind: %v", err)
	}
	if got := nstest.Transfer(t, nsA, nsB, tunB.Addr(), payload[:64<<10]); len(got) != 64<<10 {
		t.Fatalf("after rebind: received %d bytes, want %d", len(got), 64<<10)
	}

	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]wgtypes.Key{"A private": privA, "B private": privB, "preshared": psk} {
		for _, enc := range []string{k.String(), hex.EncodeToString(k[:])} {
			if strings.Contains(string(js), enc) {
				t.Errorf("status JSON contains the %s key", name)
			}
			if strings.Contains(logs.String(), enc) {
				t.Errorf("log contains the %s key", name)
			}
		}
	}
	if !strings.Contains(logs.String(), "source=wireguard-go") {
		t.Error("no wireguard-go output reached the slog logger")
	}

	for _, side := range []struct {
		eng *wggo.Engine
		ns  netns.NsHandle
		dev string
	}{{engA, nsA, devA}, {engB, nsB, devB}} {
		if err := side.eng.Close(); err != nil {
			t.Errorf("Close %s: %v", side.dev, err)
		}
		assertGone(t, side.ns, side.dev)
	}
}

// assertGone checks that device dev and its UAPI socket no longer exist.
func assertGone(t *testing.T, ns netns.NsHandle, dev string) {
	t.Helper()
	h := nstest.Handle(t, ns)
	if _, err := h.LinkByName(dev); !errors.As(err, new(netlink.LinkNotFoundError)) {
		t.Errorf("link %s after Close: err = %v, want not found", dev, err)
	}
	if _, err := os.Stat(wggo.SocketPath(dev)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("UAPI socket of %s after Close: %v, want it removed", dev, err)
	}
}

func TestIntegrationWggoUpRollsBack(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	ns := nstest.NewNS(t, "wgbtest-"+sfx+"-r")
	other := nstest.NewNS(t, "wgbtest-"+sfx+"-o")
	cfg := func(name string, port int) *wgconf.Config {
		return &wgconf.Config{Name: name, Interface: wgconf.Interface{PrivateKey: genKey(t), ListenPort: port,
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.19.7.1/32")}}}
	}
	taken := cfg("wgbT"+sfx, 0)
	upIn(t, other, nil, taken) // holds the machine-wide UAPI socket name

	tests := []struct {
		name   string
		cfgs   []*wgconf.Config
		failed string
		want   string
	}{
		{"port in use", []*wgconf.Config{cfg("wgbR1"+sfx, 51830), cfg("wgbR2"+sfx, 51830)}, "wgbR2" + sfx, "address already in use"},
		{"name used in another namespace", []*wgconf.Config{cfg("wgbR3"+sfx, 0), cfg(taken.Name, 0)}, taken.Name, "unique"},
		{"default route", []*wgconf.Config{{Name: "wgbR4" + sfx, Interface: wgconf.Interface{PrivateKey: genKey(t)},
			Peers: []wgconf.Peer{{PublicKey: genKey(t).PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}}},
			"wgbR4" + sfx, "Table = off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nstest.Run(ns, func() error {
				e, err := wggo.Up(context.Background(), tt.cfgs, nil)
				if err == nil {
					e.Close()
				}
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tt.failed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Up error = %v, want one naming %s and saying %q", err, tt.failed, tt.want)
			}
			for _, c := range tt.cfgs[:len(tt.cfgs)-1] {
				assertGone(t, ns, c.Name)
			}
		})
	}
	// The device in the other namespace must have survived.
	if _, err := datapath.Status([]string{taken.Name}); err != nil {
		t.Errorf("device %s in the other namespace: %v", taken.Name, err)
	}
}

func TestUpRejectsBadInput(t *testing.T) {
	k := genKey(t)
	good := &wgconf.Config{Name: "wgbX0", Interface: wgconf.Interface{PrivateKey: k}}
	tests := []struct {
		name string
		cfgs []*wgconf.Config
		want string
	}{
		{"none", nil, "no WireGuard configs"},
		{"nil config", []*wgconf.Config{nil}, "nil WireGuard config"},
		{"invalid", []*wgconf.Config{{Name: "wgbX0"}}, "no PrivateKey"},
		{"duplicate names", []*wgconf.Config{good, good}, "two configs for device wgbX0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wggo.Up(context.Background(), tt.cfgs, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Up error = %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkWggoUp measures Up followed by Close of 1, 16 and 64 devices in
// one namespace; up-ms/op and close-ms/op split the time.
func BenchmarkWggoUp(b *testing.B) {
	nstest.RequireRoot(b)
	sfx := nstest.Suffix(b)[:4]
	ns := nstest.NewNS(b, "wgbtest-"+sfx+"-bench")
	for _, n := range []int{1, 16, 64} {
		cfgs := make([]*wgconf.Config, n)
		for i := range cfgs {
			ep := netip.AddrPortFrom(netip.MustParseAddr("198.18.255.2"), uint16(51820+i))
			cfgs[i] = &wgconf.Config{Name: fmt.Sprintf("wgb%s-%d", sfx, i),
				Interface: wgconf.Interface{PrivateKey: genKey(b),
					Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 1, byte(i + 1)}), 32)}},
				Peers: []wgconf.Peer{{PublicKey: genKey(b).PublicKey(), Endpoint: &ep,
					AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 128, byte(i)}), 32)}}}}
		}
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			var up, down time.Duration
			for b.Loop() {
				err := nstest.Run(ns, func() error {
					start := time.Now()
					e, err := wggo.Up(context.Background(), cfgs, nil)
					if err != nil {
						return err
					}
					up += time.Since(start)
					start = time.Now()
					err = e.Close()
					down += time.Since(start)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(up.Seconds()*1000/float64(b.N), "up-ms/op")
			b.ReportMetric(down.Seconds()*1000/float64(b.N), "close-ms/op")
		})
	}
}
