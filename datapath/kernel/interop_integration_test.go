package kernel

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/inline"
	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/internal/shell"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// inlineRekeyAfter is the inline engine's shortened RekeyAfterTime when
// it initiates, so that a rekey happens within the test.
const inlineRekeyAfter = 2 * time.Second

// inlineSide is the inline engine's running tunnel: through inline.Up (the
// engine wgbench runs), or through the same shell and inline.NewTunnel
// with shortened protocol limits, since the Engine takes none.
type inlineSide interface {
	Stats() []inline.TunnelStats
	Close() error
}

// limitedTunnel is an inline.Tunnel as the engine shell runs it.
type limitedTunnel struct{ *inline.Tunnel }

// ServeUAPI answers one UAPI client.
func (t limitedTunnel) ServeUAPI(c net.Conn) error { return t.Tunnel.ServeUAPI(c) }

// limitedEngine is the shell of tunnels with shortened limits.
type limitedEngine struct{ sh *shell.Engine[limitedTunnel] }

func (e limitedEngine) Stats() []inline.TunnelStats {
	var out []inline.TunnelStats
	for _, t := range e.sh.Each() {
		out = append(out, t.Stats())
	}
	return out
}

func (e limitedEngine) Close() error { return e.sh.Close() }

// upInline brings the inline tunnels of cfgs up in ns: with inline.Up when
// lim is nil, else with lim as the protocol's limits. Close runs in ns in
// t.Cleanup.
func upInline(t *testing.T, ns netns.NsHandle, cfgs []*wgconf.Config, lim *inline.Limits) inlineSide {
	t.Helper()
	var e inlineSide
	err := nstest.Run(ns, func() error {
		if lim == nil {
			en, err := inline.Up(context.Background(), cfgs, inline.Options{})
			if err != nil {
				return err
			}
			e = en
			return nil
		}
		sh, err := shell.Up(context.Background(), cfgs, shell.Spec[limitedTunnel]{
			Engine:     "inline",
			DefaultMTU: inline.DefaultMTU,
			Open: func(_ int, c *wgconf.Config, dev tun.Device, _ int) (limitedTunnel, error) {
				tc, err := inline.TunnelConfigFrom(c)
				if err != nil {
					dev.Close()
					return limitedTunnel{}, err
				}
				tc.Limits = *lim
				tn, err := inline.NewTunnel(dev, conn.NewStdNetBind(), tc, nil)
				return limitedTunnel{tn}, err
			},
		})
		if err != nil {
			return err
		}
		e = limitedEngine{sh}
		return nil
	})
	if err != nil {
		t.Fatalf("inline up: %v", err)
	}
	t.Cleanup(func() {
		if err := nstest.Run(ns, e.Close); err != nil {
			t.Errorf("inline Close: %v", err)
		}
	})
	return e
}

// carry sends size random bytes through the tunnel from one namespace to
// the other's inner address and fails unless they all arrive intact.
func carry(t *testing.T, what string, from, to netns.NsHandle, addr netip.Addr, size int) {
	t.Helper()
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	if got := nstest.Transfer(t, from, to, addr, payload); !bytes.Equal(got, payload) {
		t.Fatalf("%s: %d of %d bytes arrived intact", what, len(got), size)
	}
}

// waitFor polls cond every 100ms for up to d and says whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// TestIntegrationInteropInline runs the inline engine on one gateway (a)
// against kernel WireGuard on the other (b): either side initiating, with
// and without a preshared key. Traffic goes both ways, wgctrl (what wg(8)
// and `wgbench agent wg-stats` use) reads both devices, and traffic goes
// on across a new handshake: when inline initiated, its own rekey after
// a shortened RekeyAfterTime; when the kernel initiated, a handshake the
// kernel starts afresh after its peer is reset.
func TestIntegrationInteropInline(t *testing.T) {
	requireWireGuard(t)
	tests := []struct {
		name            string
		inlineInitiates bool
		psk             bool
	}{
		{"inline initiates", true, false},
		{"inline initiates with psk", true, true},
		{"kernel initiates", false, false},
		{"kernel initiates with psk", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t)
			cfgA, cfgB := p.configs(t, 1)
			a, b := cfgA[0], cfgB[0]
			a.Name = "wgi" + p.sfx + "-0" // UAPI sockets are machine-wide: no clash with b's name
			a.Peers[0].PersistentKeepalive = 0
			if !tt.psk {
				a.Peers[0].PresharedKey, b.Peers[0].PresharedKey = nil, nil
			}
			// Only the initiator knows where its peer is.
			var lim *inline.Limits
			if tt.inlineInitiates {
				b.Peers[0].Endpoint = nil
				lim = &inline.Limits{RekeyAfterTime: inlineRekeyAfter}
			} else {
				a.Peers[0].Endpoint = nil
			}
			up(t, p.b, cfgB, Tuning{}, p.hostB)
			ea := upInline(t, p.a, cfgA, lim)
			inA, inB := tunnelAddrs(0)
			const size = 256 << 10
			if tt.inlineInitiates {
				carry(t, "inline to kernel (first)", p.a, p.b, inB, size)
				carry(t, "kernel to inline", p.b, p.a, inA, size)
			} else {
				carry(t, "kernel to inline (first)", p.b, p.a, inA, size)
				carry(t, "inline to kernel", p.a, p.b, inB, size)
			}

			// wgctrl reads both: the inline device through its UAPI
			// socket, the kernel's through netlink.
			da, db := device(t, p.a, a.Name), device(t, p.b, b.Name)
			if da.Type != wgtypes.Userspace || db.Type != wgtypes.LinuxKernel {
				t.Errorf("device types: inline %v, kernel %v; want userspace and Linux kernel", da.Type, db.Type)
			}
			var psk wgtypes.Key
			if tt.psk {
				psk = *b.Peers[0].PresharedKey
			}
			for _, side := range []struct {
				what string
				d    *wgtypes.Device
				peer wgtypes.Key
			}{{"inline", da, b.Interface.PrivateKey.PublicKey()}, {"kernel", db, a.Interface.PrivateKey.PublicKey()}} {
				if len(side.d.Peers) != 1 {
					t.Fatalf("%s device %s has %d peers, want 1", side.what, side.d.Name, len(side.d.Peers))
				}
				pr := side.d.Peers[0]
				if pr.PublicKey != side.peer || pr.PresharedKey != psk {
					t.Errorf("%s device %s: peer %s, psk set %v; want %s, psk set %v", side.what, side.d.Name,
						pr.PublicKey, pr.PresharedKey != wgtypes.Key{}, side.peer, tt.psk)
				}
				if pr.ReceiveBytes < size || pr.TransmitBytes < size || pr.LastHandshakeTime.IsZero() {
					t.Errorf("%s device %s: rx %d tx %d bytes, last handshake %v; want at least %d each way and a handshake",
						side.what, side.d.Name, pr.ReceiveBytes, pr.TransmitBytes, pr.LastHandshakeTime, size)
				}
			}

			// wg(8) reads both as well.
			checkWGShow(t, "inline", p.a, a.Name, b.Interface.PrivateKey.PublicKey(), b.Peers[0].PresharedKey, size)
			checkWGShow(t, "kernel", p.b, b.Name, a.Interface.PrivateKey.PublicKey(), b.Peers[0].PresharedKey, size)

			// A new handshake, and traffic goes on.
			before := ea.Stats()[0]
			kernelBefore := db.Peers[0].LastHandshakeTime
			if tt.inlineInitiates {
				// The session inline initiated gets older than its
				// RekeyAfterTime; its next send starts a rekey.
				time.Sleep(inlineRekeyAfter + 100*time.Millisecond)
				carry(t, "inline to kernel (rekey due)", p.a, p.b, inB, 16<<10)
			} else {
				resetKernelPeer(t, p.b, b)
				carry(t, "kernel to inline (after the kernel's peer reset)", p.b, p.a, inA, 16<<10)
			}
			if !waitFor(15*time.Second, func() bool { return ea.Stats()[0].Handshakes > before.Handshakes }) {
				t.Fatalf("inline handshakes stayed at %d: no new handshake", before.Handshakes)
			}
			carry(t, "inline to kernel (after the new handshake)", p.a, p.b, inB, size)
			carry(t, "kernel to inline (after the new handshake)", p.b, p.a, inA, size)
			if kh := device(t, p.b, b.Name).Peers[0].LastHandshakeTime; !kh.After(kernelBefore) {
				t.Errorf("kernel's last handshake %v, not after %v: it saw no new handshake", kh, kernelBefore)
			}
			after := ea.Stats()[0]
			if after.Failure != "" {
				t.Errorf("inline tunnel failed: %s", after.Failure)
			}
			for _, r := range []inline.DropReason{inline.DropAuth, inline.DropMalformed, inline.DropMAC, inline.DropUnknownKey, inline.DropAllowedIPs} {
				if n := after.Drops[r]; n != 0 {
					t.Errorf("inline dropped %d packets as %s", n, r)
				}
			}
			t.Logf("inline: %d handshakes, rx/tx %d/%d packets", after.Handshakes, after.RxPackets, after.TxPackets)
		})
	}
}

// resetKernelPeer replaces the kernel device's peer with itself, which
// drops its sessions: its next send starts a fresh handshake.
func resetKernelPeer(t *testing.T, ns netns.NsHandle, c *wgconf.Config) {
	t.Helper()
	p := c.Peers[0]
	pc := wgtypes.PeerConfig{PublicKey: p.PublicKey, PresharedKey: p.PresharedKey, ReplaceAllowedIPs: true}
	if p.Endpoint != nil {
		pc.Endpoint = net.UDPAddrFromAddrPort(*p.Endpoint)
	}
	for _, a := range p.AllowedIPs {
		pc.AllowedIPs = append(pc.AllowedIPs, net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())})
	}
	if err := nstest.Run(ns, func() error {
		wg, err := wgctrl.New()
		if err != nil {
			return err
		}
		defer wg.Close()
		return wg.ConfigureDevice(c.Name, wgtypes.Config{ReplacePeers: true, Peers: []wgtypes.PeerConfig{pc}})
	}); err != nil {
		t.Fatalf("reset the kernel's peer on %s: %v", c.Name, fmt.Errorf("wgctrl: %w", err))
	}
}

// wgPeer is a peer line of `wg show DEV dump`.
type wgPeer struct {
	publicKey, presharedKey string
	lastHandshake           int64 // Unix seconds, 0 for none
	rx, tx                  int64
}

// parseWGDump parses `wg show DEV dump`: the device's line, then a line
// per peer (public key, preshared key or "(none)", endpoint, allowed IPs,
// latest handshake, bytes received, bytes sent, keepalive).
func parseWGDump(out string) ([]wgPeer, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || len(strings.Fields(lines[0])) != 4 {
		return nil, fmt.Errorf("no device line in %q", out)
	}
	var peers []wgPeer
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 8 {
			return nil, fmt.Errorf("peer line %q has %d fields, want 8", l, len(f))
		}
		var p wgPeer
		p.publicKey, p.presharedKey = f[0], f[1]
		for i, v := range []*int64{&p.lastHandshake, &p.rx, &p.tx} {
			n, err := strconv.ParseInt(f[4+i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("peer line %q: field %d: %w", l, 5+i, err)
			}
			*v = n
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// wgShow runs `wg show dev dump` in ns and returns its peers. It returns
// nil when there is no wg(8), which fails t in the QEMU guest (run.sh puts
// one there).
func wgShow(t *testing.T, ns netns.NsHandle, dev string) []wgPeer {
	t.Helper()
	wg, err := exec.LookPath("wg")
	if err != nil {
		if os.Getenv(guestEnv) != "" {
			t.Fatalf("no wg(8) in the guest: %v", err)
		}
		t.Logf("no wg(8) here (%v): the devices were read with wgctrl only", err)
		return nil
	}
	var out []byte
	if err := nstest.Run(ns, func() error {
		var err error
		out, err = exec.Command(wg, "show", dev, "dump").CombinedOutput()
		return err
	}); err != nil {
		t.Fatalf("wg show %s dump: %v: %s", dev, err, out)
	}
	peers, err := parseWGDump(string(out))
	if err != nil {
		t.Fatalf("wg show %s dump: %v", dev, err)
	}
	return peers
}

// checkWGShow checks what `wg show` says of one side's only peer.
func checkWGShow(t *testing.T, what string, ns netns.NsHandle, dev string, peer wgtypes.Key, psk *wgtypes.Key, size int64) {
	t.Helper()
	peers := wgShow(t, ns, dev)
	if peers == nil {
		return
	}
	wantPSK := "(none)"
	if psk != nil {
		wantPSK = psk.String()
	}
	if len(peers) != 1 {
		t.Fatalf("wg show %s (%s): %d peers, want 1", dev, what, len(peers))
	}
	p := peers[0]
	if p.publicKey != peer.String() || p.presharedKey != wantPSK {
		t.Errorf("wg show %s (%s): peer %s, preshared key %s; want %s, %s", dev, what, p.publicKey,
			map[bool]string{true: "(none)", false: "set"}[p.presharedKey == "(none)"], peer, map[bool]string{true: "(none)", false: "set"}[psk == nil])
	}
	if p.lastHandshake == 0 || p.rx < size || p.tx < size {
		t.Errorf("wg show %s (%s): latest handshake %d, received %d, sent %d; want a handshake and at least %d bytes each way",
			dev, what, p.lastHandshake, p.rx, p.tx, size)
	}
}

func TestParseWGDump(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []wgPeer
		err  string
	}{
		{"kernel device with psk", "cHJpdg== cHVi 51820 off\nUEVFUg== UFNL 192.0.2.2:51820 10.90.0.2/32 1700000000 300000 290000 off\n",
			[]wgPeer{{"UEVFUg==", "UFNL", 1700000000, 300000, 290000}}, ""},
		{"no peers", "cHJpdg== cHVi 51820 off\n", nil, ""},
		{"no psk, no handshake", "a b 1 off\nP (none) (none) (none) 0 0 0 25\n", []wgPeer{{"P", "(none)", 0, 0, 0}}, ""},
		{"empty", "", nil, "no device line"},
		{"short peer line", "a b 1 off\nP (none) 0 0\n", nil, "has 4 fields"},
		{"bad number", "a b 1 off\nP (none) e ip x 0 0 0\n", nil, "field 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWGDump(tt.out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("peers = %+v, want %+v", got, tt.want)
			}
		})
	}
}
