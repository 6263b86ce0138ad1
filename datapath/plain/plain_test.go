package plain

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/wgbench/wgbench/datapath/internal/nstest"
)

func TestParseRoute(t *testing.T) {
	tests := []struct {
		in      string
		want    Route
		wantErr string
	}{
		{in: "198.18.2.0/24=198.18.255.2", want: Route{netip.MustParsePrefix("198.18.2.0/24"), netip.MustParseAddr("198.18.255.2")}},
		{in: "198.18.2.9/24 = 198.18.255.2", want: Route{netip.MustParsePrefix("198.18.2.0/24"), netip.MustParseAddr("198.18.255.2")}},
		{in: "198.18.2.9=198.18.255.2", want: Route{netip.MustParsePrefix("198.18.2.9/32"), netip.MustParseAddr("198.18.255.2")}},
		{in: "2001:db8::/64=2001:db8:1::1", want: Route{netip.MustParsePrefix("2001:db8::/64"), netip.MustParseAddr("2001:db8:1::1")}},
		{in: "198.18.2.0/24", wantErr: "want DST=VIA"},
		{in: "198.18.2.0/33=198.18.255.2", wantErr: "not an IP prefix"},
		{in: "198.18.2.0/24=gw2", wantErr: "not an IP address"},
		{in: "2001:db8::/64=198.18.255.2", wantErr: "different IP families"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoute(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRoute(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRoute(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if back, err := ParseRoute(got.String()); err != nil || back != got {
				t.Errorf("ParseRoute(String()) = %v, %v; want %v", back, err, got)
			}
		})
	}
}

func TestIntegrationPlain(t *testing.T) {
	nstest.RequireRoot(t)
	sfx := nstest.Suffix(t)
	a := nstest.NewNS(t, "wgbtest-"+sfx+"-pa")
	b := nstest.NewNS(t, "wgbtest-"+sfx+"-pb")
	nstest.Veth(t, a, b, "vetha", "vethb", netip.MustParsePrefix("198.18.255.1/24"), netip.MustParsePrefix("198.18.255.2/24"))
	h := nstest.Handle(t, a)
	routes := []Route{
		{netip.MustParsePrefix("198.18.2.0/24"), netip.MustParseAddr("198.18.255.2")},
		{netip.MustParsePrefix("198.18.3.0/24"), netip.MustParseAddr("198.18.255.2")},
	}
	count := func() int {
		t.Helper()
		n := 0
		for _, r := range routes {
			rs, err := h.RouteGet(r.Dst.Addr().AsSlice())
			if err == nil && len(rs) == 1 && rs[0].Gw != nil && rs[0].Gw.Equal(r.Via.AsSlice()) {
				n++
			}
		}
		return n
	}

	var e *Engine
	if err := nstest.Run(a, func() (err error) { e, err = Up(routes); return err }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != len(routes) {
		t.Fatalf("%d of %d routes in place after Up", n, len(routes))
	}
	if len(e.Devices()) != 0 {
		t.Errorf("Devices() = %v, want none", e.Devices())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d routes left after Close", n)
	}

	// A failing route rolls back the ones before it.
	bad := append(routes[:1:1], Route{netip.MustParsePrefix("198.18.4.0/24"), netip.MustParseAddr("198.18.99.1")})
	err := nstest.Run(a, func() error { _, err := Up(bad); return err })
	if err == nil || !strings.Contains(err.Error(), "198.18.4.0/24 via 198.18.99.1") {
		t.Fatalf("Up with unreachable next hop: err = %v", err)
	}
	all, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Gw != nil {
			t.Errorf("route %v left behind after failed Up", r)
		}
	}
}
