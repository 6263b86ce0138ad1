package netsetup

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/testbed/local"
)

// inScratch runs fn in a fresh network namespace holding a veth pair a-b
// (both down), as a gateway's two data-plane NICs.
func inScratch(t *testing.T, fn func(t *testing.T, h *netlink.Handle)) {
	t.Helper()
	testutil.RequireRoot(t)
	err := local.InScratchNamespace(func() error {
		h, err := netlink.NewHandle()
		if err != nil {
			return err
		}
		defer h.Close()
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "a"
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "b"}); err != nil {
			return err
		}
		fn(t, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addrs(t *testing.T, h *netlink.Handle, name string) []string {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	as, _ := h.AddrList(l, netlink.FAMILY_V4)
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

func forwarding(t *testing.T) string {
	b, err := os.ReadFile(forwardingPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestIntegrationApplyUndo(t *testing.T) {
	inScratch(t, func(t *testing.T, h *netlink.Handle) {
		a, _ := h.LinkByName("a")
		cfg := Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: a.Attrs().HardwareAddr.String(), WAN: "b", MTU: 1400}
		s, err := Apply(cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := addrs(t, h, "a"); !slices.Equal(got, []string{"198.18.0.1/24"}) {
			t.Errorf("lan (named by MAC) has %v", got)
		}
		if got := addrs(t, h, "b"); !slices.Equal(got, []string{"198.18.255.1/24"}) {
			t.Errorf("wan has %v", got)
		}
		if forwarding(t) != "1" {
			t.Error("forwarding is off")
		}
		rs, _ := h.RouteGet(net.ParseIP("198.18.7.7"))
		if len(rs) != 1 || !rs[0].Gw.Equal(net.ParseIP("198.18.0.2")) {
			t.Errorf("route to the source site: %v", rs)
		}
		if l, _ := h.LinkByName("b"); l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("wan: MTU %d, flags %v", l.Attrs().MTU, l.Attrs().Flags)
		}
		if n := len(s.Changes()); n != 8 { // 2 MTUs, 2 addresses, 2 links up, 1 route, forwarding
			t.Errorf("%d changes recorded: %v", n, s.Changes())
		}
		if err := s.Undo(); err != nil {
			t.Fatal(err)
		}
		if got := append(addrs(t, h, "a"), addrs(t, h, "b")...); len(got) != 0 {
			t.Errorf("left after undo: %v", got)
		}
		if forwarding(t) != "0" {
			t.Error("forwarding left on")
		}
		if l, _ := h.LinkByName("b"); l.Attrs().MTU != 1500 || l.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("wan after undo: MTU %d, flags %v", l.Attrs().MTU, l.Attrs().Flags)
		}
	})
}

func TestIntegrationApplyKeepsWhatWasThere(t *testing.T) {
	inScratch(t, func(t *testing.T, h *netlink.Handle) {
		a, _ := h.LinkByName("a")
		pre, _ := netlink.ParseAddr("198.18.0.1/24")
		if err := h.AddrAdd(a, pre); err != nil {
			t.Fatal(err)
		}
		s, err := Apply(Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a", WAN: "b"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Kept(), "address 198.18.0.1/24 on a") {
			t.Errorf("kept %v", s.Kept())
		}
		if err := s.Undo(); err != nil {
			t.Fatal(err)
		}
		if got := addrs(t, h, "a"); !slices.Equal(got, []string{"198.18.0.1/24"}) {
			t.Errorf("the address that was there before is gone: %v", got)
		}
	})
}

func TestIntegrationApplyConflict(t *testing.T) {
	inScratch(t, func(t *testing.T, h *netlink.Handle) {
		a, _ := h.LinkByName("a")
		// The WAN address sits on the LAN interface: a wrong inventory.
		pre, _ := netlink.ParseAddr("198.18.255.1/24")
		if err := h.AddrAdd(a, pre); err != nil {
			t.Fatal(err)
		}
		_, err := Apply(Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a", WAN: "b"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "198.18.255.1 is already on a") {
			t.Fatalf("Apply = %v; want the conflict named", err)
		}
		if got := addrs(t, h, "a"); !slices.Equal(got, []string{"198.18.255.1/24"}) {
			t.Errorf("a failed Apply left %v", got)
		}
		if _, err := Apply(Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: "nosuch", WAN: "b"}, io.Discard); err == nil || !strings.Contains(err.Error(), "lan interface nosuch") {
			t.Errorf("missing interface: %v", err)
		}
		if _, err := Apply(Config{Role: "gw1", Tunnels: 1, FlowsPerTunnel: 1, LAN: "198.18.255.1", WAN: "a"}, io.Discard); err == nil || !strings.Contains(err.Error(), "same device a") {
			t.Errorf("one device named twice: %v", err)
		}
	})
}

func TestIntegrationServeStdinClose(t *testing.T) {
	inScratch(t, func(t *testing.T, h *netlink.Handle) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ready := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(outR).ReadString('\n')
			ready <- line
			if got := addrs(t, h, "a"); len(got) != 2 { // link and flow address
				t.Errorf("while ready, lan has %v", got)
			}
			inW.Close() // the controller's session is gone
			io.Copy(io.Discard, outR)
		}()
		err := Serve(context.Background(), Config{Role: "source", Tunnels: 1, FlowsPerTunnel: 1, LAN: "a"}, inR, outW, io.Discard)
		outW.Close()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case line := <-ready:
			if !strings.HasPrefix(line, "ready ") {
				t.Errorf("first line %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no ready line")
		}
		if got := addrs(t, h, "a"); len(got) != 0 {
			t.Errorf("after stdin closed, lan has %v", got)
		}
	})
}
