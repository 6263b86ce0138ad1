package ipsec

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
)

var (
	wanA, wanB       = netip.MustParseAddr("198.18.255.1"), netip.MustParseAddr("198.18.255.2")
	behindA, behindB = netip.MustParsePrefix("198.19.1.0/24"), netip.MustParsePrefix("198.19.2.0/24")
)

func TestNewPairMirrors(t *testing.T) {
	for _, cipher := range []string{"", "AES-256-GCM", "CHACHA20-POLY1305", "rfc4106(gcm(aes))"} {
		a, b, err := NewPair("t0", 1, wanA, wanB, behindA, behindB, cipher)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*Tunnel{a, b} {
			if err := e.Validate(); err != nil {
				t.Errorf("cipher %q: %v", cipher, err)
			}
		}
		if a.Out.SPI != b.In.SPI || a.In.SPI != b.Out.SPI || !bytes.Equal(a.Out.Key, b.In.Key) || !bytes.Equal(a.In.Key, b.Out.Key) {
			t.Errorf("cipher %q: one end's outbound SA is not the other's inbound", cipher)
		}
		if a.Out.SPI == a.In.SPI || bytes.Equal(a.Out.Key, a.In.Key) {
			t.Errorf("cipher %q: both directions share an SPI or a key", cipher)
		}
		if a.Route != b.Behind || b.Route != a.Behind || a.Local != b.Remote {
			t.Errorf("cipher %q: ends do not cross: %+v / %+v", cipher, a.Behind, b.Behind)
		}
	}
	bad := []struct {
		name string
		edit func(*Tunnel)
		want string
	}{
		{"unknown cipher", func(t *Tunnel) { t.Cipher = "DES" }, `cipher "DES"`},
		{"short key", func(t *Tunnel) { t.Out.Key = t.Out.Key[:16] }, "keys must be 36 bytes"},
		{"same SPIs", func(t *Tunnel) { t.In.SPI = t.Out.SPI }, "SPIs must be distinct"},
		{"no route", func(t *Tunnel) { t.Route = netip.Prefix{} }, "required"},
	}
	for _, tt := range bad {
		a, _, _ := NewPair("t0", 1, wanA, wanB, behindA, behindB, "")
		tt.edit(a)
		if err := a.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestIntegrationUndoJournal installs policies and a route as a killed
// engine would have left them (ESP SAs need esp4, which the guest test
// covers), with a journal naming a dead process, and checks that
// UndoJournal removes them all and the journal.
func TestIntegrationUndoJournal(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	nsA := nstest.NewNS(t, "wgbtest-"+sfx+"-a")
	nsB := nstest.NewNS(t, "wgbtest-"+sfx+"-b")
	nstest.Veth(t, nsA, nsB, "vetha", "vethb", netip.PrefixFrom(wanA, 24), netip.PrefixFrom(wanB, 24))
	path := filepath.Join(t.TempDir(), "j")
	err := nstest.Run(nsA, func() error {
		j, err := CreateJournal(path)
		if err != nil {
			return err
		}
		pol := &netlink.XfrmPolicy{Src: ipNet(behindA), Dst: ipNet(behindB), Dir: netlink.XFRM_DIR_OUT,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: wanA.AsSlice(), Dst: wanB.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL}}}
		j.Add(entry{Kind: kindPolicy, SrcNet: behindA, DstNet: behindB, Dir: int(netlink.XFRM_DIR_OUT)})
		if err := netlink.XfrmPolicyAdd(pol); err != nil {
			return err
		}
		j.Add(entry{Kind: kindRoute, DstNet: behindB, Via: wanB})
		if err := netlink.RouteAdd(&netlink.Route{Dst: ipNet(behindB), Gw: wanB.AsSlice()}); err != nil {
			return err
		}
		// An SA that was being added when the engine was killed.
		j.Add(entry{Kind: kindState, Src: wanA, Dst: wanB, SPI: 0x1234})
		return j.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UndoJournal(path); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("UndoJournal while its writer runs = %v, want a refusal", err)
	}
	// The engine is gone: a header naming no process.
	b, _ := os.ReadFile(path)
	lines := strings.SplitN(string(b), "\n", 2)
	os.WriteFile(path, []byte(`{"kind":"ipsec","pid":999999999,"start":1}`+"\n"+lines[1]), 0o600)
	if !IsJournal(path) {
		t.Fatal("IsJournal = false for an ipsec journal")
	}
	var done []string
	err = nstest.Run(nsA, func() error {
		var err error
		done, err = UndoJournal(path)
		return err
	})
	if err != nil {
		t.Fatalf("UndoJournal: %v (done %q)", err, done)
	}
	if len(done) != 3 || !strings.Contains(done[0], "(gone already)") {
		t.Errorf("UndoJournal did %q; want the SA gone already, then the route and the policy", done)
	}
	h := nstest.Handle(t, nsA)
	if pols, _ := h.XfrmPolicyList(netlink.FAMILY_ALL); len(pols) != 0 {
		t.Errorf("%d policies left", len(pols))
	}
	if rs, _ := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(behindB)}, netlink.RT_FILTER_DST); len(rs) != 0 {
		t.Errorf("route to %s left", behindB)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("journal kept after a full undo: %v", err)
	}
}

// TestIntegrationIPsecTunnel carries TCP through an ESP tunnel with each
// AEAD, reads the SA counters and checks nothing is left after Close. It
// needs ESP in the kernel (esp4): the QEMU guest runs it.
func TestIntegrationIPsecTunnel(t *testing.T) {
	nstest.RequireRoot(t)
	if err := nstest.Run(nstest.NewNS(t, "wgbtest-"+nstest.Suffix(t)+"-check"), Check); err != nil {
		t.Skipf("no ESP here: %v; /proc/crypto has: %s", err, cryptoNames())
	}
	for _, cipher := range []string{"AES-256-GCM", "CHACHA20-POLY1305"} {
		t.Run(cipher, func(t *testing.T) {
			sfx := nstest.Suffix(t)
			nsA := nstest.NewNS(t, "wgbtest-"+sfx+"-a")
			nsB := nstest.NewNS(t, "wgbtest-"+sfx+"-b")
			nstest.Veth(t, nsA, nsB, "vetha", "vethb", netip.PrefixFrom(wanA, 24), netip.PrefixFrom(wanB, 24))
			addrA, addrB := netip.MustParseAddr("198.19.1.1"), netip.MustParseAddr("198.19.2.1")
			for ns, a := range map[netns.NsHandle]netip.Addr{nsA: addrA, nsB: addrB} {
				h := nstest.Handle(t, ns)
				lo, _ := h.LinkByName("lo")
				if err := h.AddrAdd(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, 32))}); err != nil {
					t.Fatal(err)
				}
			}
			ta, tb, err := NewPair("ipt"+sfx, 1, wanA, wanB, behindA, behindB, cipher)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var ea, eb *Engine
			if err := nstest.Run(nsA, func() (err error) { ea, err = Up([]*Tunnel{ta}, filepath.Join(dir, "a"), nil); return }); err != nil {
				t.Fatal(err)
			}
			if err := nstest.Run(nsB, func() (err error) { eb, err = Up([]*Tunnel{tb}, filepath.Join(dir, "b"), nil); return }); err != nil {
				ea.Close()
				t.Fatal(err)
			}
			// Source addresses inside the prefixes, so both ways go
			// through ESP.
			payload := make([]byte, 256<<10)
			rand.Read(payload)
			got := transferFrom(t, nsA, nsB, addrA, addrB, payload)
			if !bytes.Equal(got, payload) {
				t.Errorf("received %d bytes, want the %d sent", len(got), len(payload))
			}
			var st Stats
			nstest.Run(nsB, func() (err error) { st, err = ReadStats(tb.Name); return })
			if st.InBytes < uint64(len(payload)) || st.Added.IsZero() {
				t.Errorf("gw B SA stats %+v: want ≥ %d bytes decrypted", st, len(payload))
			}
			for ns, e := range map[netns.NsHandle]*Engine{nsA: ea, nsB: eb} {
				if err := nstest.Run(ns, e.Close); err != nil {
					t.Errorf("Close: %v", err)
				}
				h := nstest.Handle(t, ns)
				sts, _ := h.XfrmStateList(netlink.FAMILY_ALL)
				pols, _ := h.XfrmPolicyList(netlink.FAMILY_ALL)
				if len(sts)+len(pols) != 0 {
					t.Errorf("%d SAs and %d policies left after Close", len(sts), len(pols))
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("journals left after Close: %d", len(ents))
			}
		})
	}
}

// transferFrom sends payload over TCP from src in namespace from to dst
// in namespace to and returns what arrived.
func transferFrom(t *testing.T, from, to netns.NsHandle, src, dst netip.Addr, payload []byte) []byte {
	t.Helper()
	var ln net.Listener
	if err := nstest.Run(to, func() (err error) { ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String()); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := readAll(c)
		got <- b
	}()
	err := nstest.Run(from, func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
	if err != nil {
		t.Fatalf("send through the tunnel: %v", err)
	}
	return <-got
}

func readAll(c net.Conn) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(c)
	return buf.Bytes(), err
}

// cryptoNames lists the ESP AEADs /proc/crypto shows, with their driver
// and self-test state, for a skip message that says what the kernel has.
func cryptoNames() string {
	b, _ := os.ReadFile("/proc/crypto")
	var out []string
	for _, blk := range strings.Split(string(b), "\n\n") {
		var name, driver, test string
		for _, l := range strings.Split(blk, "\n") {
			k, v, _ := strings.Cut(l, ":")
			switch strings.TrimSpace(k) {
			case "name":
				name = strings.TrimSpace(v)
			case "driver":
				driver = strings.TrimSpace(v)
			case "selftest":
				test = strings.TrimSpace(v)
			}
		}
		if strings.Contains(name, "rfc4106") || strings.Contains(name, "rfc7539esp") || name == "gcm(aes)" {
			out = append(out, fmt.Sprintf("%s [%s, selftest %s]", name, driver, test))
		}
	}
	return strings.Join(out, ", ")
}
