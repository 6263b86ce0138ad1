package shell_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/internal/shell"
	"github.com/wgbench/wgbench/datapath/uapi"
	"github.com/wgbench/wgbench/datapath/wgconf"
)

// fakeDevice stands for an engine's device on a real TUN: it answers UAPI
// clients with its name and takes closeDelay to close.
type fakeDevice struct {
	name string
	tun  tun.Device
	r    *recorder
}

func (d *fakeDevice) ServeUAPI(c net.Conn) error {
	_, err := fmt.Fprintf(c, "device=%s\n", d.name)
	return err
}

func (d *fakeDevice) Close() error {
	d.r.closing(d.name)
	return d.tun.Close()
}

// recorder counts what the shell did with the devices.
type recorder struct {
	closeDelay time.Duration
	mu         sync.Mutex
	closed     []string
	busy, most atomic.Int32
}

func (r *recorder) closing(name string) {
	n := r.busy.Add(1)
	for m := r.most.Load(); n > m && !r.most.CompareAndSwap(m, n); m = r.most.Load() {
	}
	time.Sleep(r.closeDelay)
	r.busy.Add(-1)
	r.mu.Lock()
	r.closed = append(r.closed, name)
	r.mu.Unlock()
}

func configs(t *testing.T, n int) []*wgconf.Config {
	t.Helper()
	sfx := nstest.Suffix(t)
	var cfgs []*wgconf.Config
	for i := range n {
		priv, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		peer, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, &wgconf.Config{
			Name: fmt.Sprintf("sh%s%d", sfx, i),
			Interface: wgconf.Interface{
				PrivateKey: priv,
				ListenPort: 40000 + i,
				Addresses:  []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(i), 1}), 24)},
			},
			Peers: []wgconf.Peer{{
				PublicKey:  peer.PublicKey(),
				AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 78, byte(i), 0}), 24)},
			}},
		})
	}
	return cfgs
}

func spec(r *recorder, teardowns *int) shell.Spec[*fakeDevice] {
	return shell.Spec[*fakeDevice]{
		Engine:     "fake",
		DefaultMTU: 1400,
		Open: func(_ int, c *wgconf.Config, td tun.Device, _ int) (*fakeDevice, error) {
			return &fakeDevice{name: c.Name, tun: td, r: r}, nil
		},
		Teardown: func() { *teardowns++ },
	}
}

// linkExists reports whether device name is in the current namespace.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func TestUpServesAndClosesInParallel(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.NewNS(t, "shell-"+nstest.Suffix(t))
	cfgs := configs(t, 8)
	r := &recorder{closeDelay: 100 * time.Millisecond}
	teardowns := 0
	err := nstest.Run(ns, func() error {
		e, err := shell.Up(context.Background(), cfgs, spec(r, &teardowns))
		if err != nil {
			return err
		}
		if got, want := strings.Join(e.Devices(), ","), names(cfgs); got != want {
			t.Errorf("Devices() = %s, want %s", got, want)
		}
		for _, c := range cfgs {
			if !linkExists(c.Name) {
				t.Errorf("%s: no interface while up", c.Name)
			}
			conn, err := net.Dial("unix", uapi.SocketPath(c.Name))
			if err != nil {
				t.Errorf("%s: dial UAPI: %v", c.Name, err)
				continue
			}
			buf := make([]byte, 64)
			n, _ := conn.Read(buf)
			conn.Close()
			if want := "device=" + c.Name + "\n"; string(buf[:n]) != want {
				t.Errorf("%s: UAPI answered %q, want %q", c.Name, buf[:n], want)
			}
		}
		if err := e.Close(); err != nil {
			return err
		}
		if err := e.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		for _, c := range cfgs {
			if linkExists(c.Name) {
				t.Errorf("%s: interface left after Close", c.Name)
			}
			if _, err := os.Stat(uapi.SocketPath(c.Name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: UAPI socket left after Close (%v)", c.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.closed) != len(cfgs) || teardowns != 1 {
		t.Errorf("closed %d devices and ran Teardown %d times, want %d and 1", len(r.closed), teardowns, len(cfgs))
	}
	if r.most.Load() < 2 {
		t.Errorf("at most %d devices closed at once: Close is not parallel", r.most.Load())
	}
}

func TestUpFailureTearsDown(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.NewNS(t, "shell-"+nstest.Suffix(t))
	tests := []struct {
		name    string
		prepare error
		openErr int // index whose Open fails; -1 none
		cancel  bool
		want    string
	}{
		{name: "prepare fails", prepare: errors.New("no cores"), openErr: -1, want: "fake: no cores"},
		{name: "second open fails", openErr: 1, want: "fake: bring up %s: boom"},
		{name: "cancelled", openErr: -1, cancel: true, want: "fake: bring up %s: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs := configs(t, 3)
			r := &recorder{}
			teardowns := 0
			sp := spec(r, &teardowns)
			open := sp.Open
			opened := 0
			sp.Open = func(i int, c *wgconf.Config, td tun.Device, mtu int) (*fakeDevice, error) {
				opened++
				if i == tt.openErr {
					td.Close()
					return nil, errors.New("boom")
				}
				return open(i, c, td, mtu)
			}
			if tt.prepare != nil {
				sp.Prepare = func() error { return tt.prepare }
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			err := nstest.Run(ns, func() error {
				_, err := shell.Up(ctx, cfgs, sp)
				for _, c := range cfgs {
					if linkExists(c.Name) {
						t.Errorf("%s: interface left after a failed Up", c.Name)
					}
					if _, err := os.Stat(uapi.SocketPath(c.Name)); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s: UAPI socket left after a failed Up (%v)", c.Name, err)
					}
				}
				return err
			})
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, cfgs[max(tt.openErr, 0)].Name)
			}
			if err == nil || err.Error() != want {
				t.Errorf("Up error %v, want %q", err, want)
			}
			if teardowns != 1 {
				t.Errorf("Teardown ran %d times, want 1", teardowns)
			}
			if tt.prepare != nil && opened > 0 {
				t.Errorf("Open called %d times after Prepare failed", opened)
			}
		})
	}
}

func names(cfgs []*wgconf.Config) string {
	var s []string
	for _, c := range cfgs {
		s = append(s, c.Name)
	}
	return strings.Join(s, ",")
}
