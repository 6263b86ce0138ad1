package datapath

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/datapath/wggo"
)

func TestServeRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "wgbad0.conf")
	if err := os.WriteFile(bad, []byte("[Interface]\nPrivateKey = nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no engine", Options{}, "choose one of: inline, ipsec, kernel, openvpn, plain, wggo"},
		{"unknown engine", Options{Engine: "ebpf"}, `unknown datapath engine "ebpf"; choose one of: inline, ipsec, kernel, openvpn, plain, wggo`},
		{"kernel without configs", Options{Engine: "kernel"}, "kernel needs at least one WireGuard config"},
		{"kernel with --cpus", Options{Engine: "kernel", CPUs: []int{0}}, "kernel takes no --cpus"},
		{"kernel bad CPU list", Options{Engine: "kernel", Configs: []string{bad}, Kernel: parseKernelFlags(t, "--threaded-napi", "--napi-cpus=3-1")}, "--napi-cpus: \"3-1\" is not a CPU list: range 3-1 runs backwards; write e.g. 0-3,8"},
		{"kernel pin without threaded NAPI", Options{Engine: "kernel", Configs: []string{bad}, Kernel: parseKernelFlags(t, "--napi-cpus=0")}, "needs threaded_napi: true"},
		{"kernel flags on wggo", Options{Engine: "wggo", Kernel: parseKernelFlags(t, "--threaded-napi")}, "wggo takes no kernel tuning flags"},
		{"inline without configs", Options{Engine: "inline"}, "at least one WireGuard config"},
		{"plain with configs", Options{Engine: "plain", Configs: []string{bad}}, "plain takes no WireGuard configs"},
		{"plain bad route", Options{Engine: "plain", Routes: []string{"198.18.2.0/24"}}, "want DST=VIA"},
		{"wggo without configs", Options{Engine: "wggo"}, "at least one WireGuard config"},
		{"wggo with routes", Options{Engine: "wggo", Configs: []string{bad}, Routes: []string{"198.18.2.0/24=198.18.255.2"}}, "takes no DST=VIA routes"},
		{"wggo missing file", Options{Engine: "wggo", Configs: []string{filepath.Join(dir, "nope.conf")}}, "no such file"},
		{"wggo bad file", Options{Engine: "wggo", Configs: []string{bad}}, bad + ":2: PrivateKey decodes to 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ready strings.Builder
			err := Serve(context.Background(), tt.opts, &ready, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve error = %v, want %q", err, tt.want)
			}
			if ready.Len() != 0 {
				t.Errorf("ready line %q written despite the error", ready.String())
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	if _, err := Status(nil); err == nil {
		t.Error("Status(nil) succeeded, want error")
	}
	_, err := Status([]string{"wgbnosuch0"})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "wgbnosuch0") {
		t.Errorf("Status of a missing device: %v, want os.ErrNotExist naming it", err)
	}
}

// serveIn runs Serve on a thread in ns and returns the ready line, a cancel
// func and a func waiting for Serve's result.
func serveIn(t *testing.T, ns netns.NsHandle, opts Options) (string, context.CancelFunc, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	finished := make(chan struct{})
	var serveErr error
	go func() {
		serveErr = nstest.Run(ns, func() error { return Serve(ctx, opts, pw, nil) })
		pw.CloseWithError(errors.New("Serve returned"))
		close(finished)
	}()
	wait := func() error {
		<-finished
		return serveErr
	}
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-lines:
		if line == "" {
			t.Fatalf("Serve ended before the ready line: %v", wait())
		}
		return line, cancel, wait
	case <-time.After(10 * time.Second):
		t.Fatal("no ready line within 10s")
		return "", nil, nil
	}
}

func TestIntegrationServePlain(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	a := nstest.NewNS(t, "wgbtest-"+sfx+"-sa")
	b := nstest.NewNS(t, "wgbtest-"+sfx+"-sb")
	nstest.Veth(t, a, b, "vetha", "vethb", netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))
	h := nstest.Handle(t, a)
	routed := func() bool {
		rs, err := h.RouteGet(netip.MustParseAddr("198.18.2.1").AsSlice())
		return err == nil && len(rs) == 1 && rs[0].Gw != nil
	}

	line, cancel, wait := serveIn(t, a, Options{Engine: "plain", Routes: []string{"198.18.2.0/24=198.18.255.2"}})
	if line != "ready\n" {
		t.Errorf("ready line = %q, want %q", line, "ready\n")
	}
	if !routed() {
		t.Error("route missing while serving")
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if routed() {
		t.Error("route left after Serve returned")
	}
}

func TestIntegrationServeWggo(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	ns := nstest.NewNS(t, "wgbtest-"+sfx+"-sw")
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer, psk := priv, priv
	if peer, err = wgtypes.GeneratePrivateKey(); err != nil {
		t.Fatal(err)
	}
	if psk, err = wgtypes.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	var names []string
	for i, n := range []string{"wgbS" + sfx + "a", "wgbS" + sfx + "b"} {
		c := &wgconf.Config{Name: n, Interface: wgconf.Interface{PrivateKey: priv, ListenPort: 51840 + i,
			Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 0, byte(1 + i)}), 32)}},
			Peers: []wgconf.Peer{{PublicKey: peer.PublicKey(), PresharedKey: &psk,
				AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 2, byte(i)}), 32)}}}}
		path := filepath.Join(dir, n+".conf")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths, names = append(paths, path), append(names, n)
	}

	line, cancel, wait := serveIn(t, ns, Options{Engine: "wggo", Configs: paths})
	if want := "ready " + strings.Join(names, " ") + "\n"; line != want {
		t.Errorf("ready line = %q, want %q", line, want)
	}
	st, err := Status(names)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for i, s := range st {
		if s.Name != names[i] || s.Type != "userspace" || s.ListenPort != 51840+i || len(s.Peers) != 1 ||
			s.Peers[0].PublicKey != peer.PublicKey().String() || !s.Peers[0].LastHandshake.IsZero() {
			t.Errorf("status %d = %+v", i, s)
		}
	}
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{priv.String(), psk.String()} {
		if strings.Contains(string(js), secret) {
			t.Errorf("status JSON contains a secret key: %s", js)
		}
	}
	if strings.Contains(string(js), "last_handshake") || strings.Contains(string(js), "endpoint") {
		t.Errorf("status JSON has a handshake time or endpoint for a silent peer: %s", js)
	}

	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	h := nstest.Handle(t, ns)
	for _, n := range names {
		if _, err := h.LinkByName(n); !errors.As(err, new(netlink.LinkNotFoundError)) {
			t.Errorf("link %s after Serve: %v, want gone", n, err)
		}
		if _, err := os.Stat(wggo.SocketPath(n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket of %s after Serve: %v, want gone", n, err)
		}
	}
}
