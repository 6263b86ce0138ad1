package openvpn_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/openvpn"
)

// pair makes the two ends of one tunnel between a (client) and b (server).
func pair(t *testing.T, devA, devB string, a, b netip.AddrPort, behindA, behindB netip.Prefix, cipher string) (*openvpn.Tunnel, *openvpn.Tunnel) {
	t.Helper()
	ia, err := openvpn.NewIdentity(devA)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := openvpn.NewIdentity(devB)
	if err != nil {
		t.Fatal(err)
	}
	ta := &openvpn.Tunnel{Device: devA, Local: a, Remote: b, Route: behindB, Cipher: cipher, Cert: ia.Cert, Key: ia.Key, PeerFingerprint: ib.Fingerprint}
	tb := &openvpn.Tunnel{Device: devB, Local: b, Remote: a, Route: behindA, Cipher: cipher, Server: true, Cert: ib.Cert, Key: ib.Key, PeerFingerprint: ia.Fingerprint}
	return ta, tb
}

func upIn(t *testing.T, ns netns.NsHandle, dir string, tun *openvpn.Tunnel) *openvpn.Engine {
	t.Helper()
	var e *openvpn.Engine
	if err := nstest.Run(ns, func() error {
		var err error
		e, err = openvpn.Up(context.Background(), []*openvpn.Tunnel{tun}, dir, nil, nil)
		return err
	}); err != nil {
		t.Fatalf("openvpn.Up: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestIntegrationOpenVPNTunnel(t *testing.T) {
	nstest.RequireRoot(t)
	if _, err := exec.LookPath("openvpn"); err != nil {
		t.Skip("openvpn is not installed")
	}
	for _, cipher := range openvpn.Ciphers {
		t.Run(cipher, func(t *testing.T) {
			sfx := nstest.Suffix(t)
			nsA := nstest.NewNS(t, "wgbtest-"+sfx+"-a")
			nsB := nstest.NewNS(t, "wgbtest-"+sfx+"-b")
			nstest.Veth(t, nsA, nsB, "vetha", "vethb", netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))
			behindA, behindB := netip.MustParsePrefix("198.19.1.0/24"), netip.MustParsePrefix("198.19.2.0/24")
			target := netip.MustParseAddr("198.19.2.1")
			if err := nstest.Handle(t, nsB).AddrAdd(mustLink(t, nsB, "lo"), &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(target, 32))}); err != nil {
				t.Fatal(err)
			}
			// Both ends named alike, as on the testbed's gateways.
			devA, devB := "ovp"+sfx, "ovp"+sfx
			ta, tb := pair(t, devA, devB, netip.MustParseAddrPort("198.18.255.1:51900"), netip.MustParseAddrPort("198.18.255.2:51900"), behindA, behindB, cipher)
			dirA, dirB := t.TempDir(), t.TempDir()
			eb := upIn(t, nsB, dirB, tb)
			ea := upIn(t, nsA, dirA, ta)
			if got := ea.Devices(); len(got) != 1 || got[0] != devA {
				t.Errorf("Devices() = %v, want [%s]", got, devA)
			}
			for _, d := range []string{dirA, dirB} {
				ents, _ := os.ReadDir(d)
				if len(ents) != 1 {
					t.Fatalf("%s holds %d entries, want one private folder", d, len(ents))
				}
				fi, err := os.Stat(filepath.Join(d, ents[0].Name()))
				if err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("private folder %s: mode %v, %v; want 0700", ents[0].Name(), fi.Mode().Perm(), err)
				}
			}

			payload := make([]byte, 256<<10)
			rand.Read(payload)
			got := nstest.Transfer(t, nsA, nsB, target, payload)
			if !bytes.Equal(got, payload) {
				t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(payload))
			}
			var st openvpn.Stats
			if err := nstest.Run(nsB, func() (err error) { st, err = openvpn.ReadStats(devB); return }); err != nil {
				t.Fatal(err)
			}
			var sa openvpn.Stats
			if err := nstest.Run(nsA, func() (err error) { sa, err = openvpn.ReadStats(devA); return }); err != nil {
				t.Fatal(err)
			}
			if sa.TunRead < int64(len(payload)) || sa.TunWrite >= int64(len(payload)) {
				t.Errorf("client stats %+v: want ≥ %d bytes read from tun and fewer written (each end its own socket)", sa, len(payload))
			}
			if !st.Connected || st.TunWrite < int64(len(payload)) || st.UDPRead <= st.TunWrite {
				t.Errorf("server stats %+v: want connected, ≥ %d bytes written to tun, more read from UDP", st, len(payload))
			}

			if err := eb.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := ea.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if ents, _ := os.ReadDir(openvpn.SocketDir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.Contains(e.Name(), devA) }) {
				t.Errorf("management sockets left in %s", openvpn.SocketDir)
			}
			for _, c := range []struct {
				ns  netns.NsHandle
				dev string
				dir string
			}{{nsA, devA, dirA}, {nsB, devB, dirB}} {
				if _, err := nstest.Handle(t, c.ns).LinkByName(c.dev); err == nil {
					t.Errorf("device %s still exists after Close", c.dev)
				}
				if ents, _ := os.ReadDir(c.dir); len(ents) != 0 {
					t.Errorf("%s still holds %d entries after Close", c.dir, len(ents))
				}
			}
			if out, _ := exec.Command("pgrep", "-f", "openvpn-ovp"+sfx).Output(); strings.TrimSpace(string(out)) != "" {
				t.Errorf("openvpn processes left: %s", out)
			}
		})
	}
}

func mustLink(t *testing.T, ns netns.NsHandle, name string) netlink.Link {
	t.Helper()
	l, err := nstest.Handle(t, ns).LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
