package facts

import (
	"context"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/probes/facts/fakehost"
)

// cloudlab is a CloudLab-like gateway: the control NIC eno1 (node 0, the
// default route), an idle 100G port on node 0 and the experiment port on
// node 1 that carries the tunnels' subnet.
func cloudlab() *fakehost.Machine {
	return &fakehost.Machine{
		Hostname: "gw2", Kernel: "6.8.0", CPUModel: "x", Sockets: 2, CoresPerSocket: 4, ThreadsPerCore: 1, NUMA: true,
		Links: []fakehost.Link{
			{Name: "eno1", Kind: "physical", MTU: 1500, Driver: "bnxt_en", Bus: "0000:01:00.0", NUMANode: 0, Queues: 2, Speed: 25000},
			{Name: "ens1f0np0", Kind: "physical", MTU: 1500, Driver: "mlx5_core", Bus: "0000:17:00.0", NUMANode: 0, Queues: 2, Speed: 100000},
			{Name: "ens2f0np0", Kind: "physical", MTU: 1500, Driver: "mlx5_core", Bus: "0000:98:00.0", NUMANode: 1, Queues: 2, Speed: 100000},
			{Name: "wg0", Kind: "wireguard", MTU: 1420},
		},
		DefaultRoute: "eno1",
		Routes:       []fakehost.Route{{Dst: "128.110.216.0/22", Dev: "eno1"}, {Dst: "10.10.1.0/24", Dev: "ens2f0np0"}, {Dst: "10.20.0.0/16", Dev: "ens1f0np0", Via: "10.10.1.254"}},
		Endpoints:    []fakehost.Endpoint{{Dev: "wg0", Addr: "10.10.1.1:51820"}},
	}
}

func TestUnderlay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(m *fakehost.Machine)
		wan     *TestbedWAN
		link    string
		how     string
		because string // in the reason
	}{
		{name: "peer endpoint's route", link: "ens2f0np0", how: HowEndpoints, because: "wg0's peer 10.10.1.1:51820"},
		{name: "longest prefix wins", edit: func(m *fakehost.Machine) { m.Endpoints[0].Addr = "10.20.3.4:51820" }, link: "ens1f0np0", how: HowEndpoints},
		{name: "endpoint by the default route", edit: func(m *fakehost.Machine) { m.Endpoints[0].Addr = "192.0.2.9:51820" }, link: "eno1", how: HowEndpoints},
		{name: "most endpoints win", edit: func(m *fakehost.Machine) {
			m.Endpoints = append(m.Endpoints, fakehost.Endpoint{Dev: "wg0", Addr: "192.0.2.9:1"}, fakehost.Endpoint{Dev: "wg1", Addr: "10.10.1.7:2"})
		}, link: "ens2f0np0", how: HowEndpoints, because: "others leave by eno1"},
		{name: "testbed subnet", edit: func(m *fakehost.Machine) { m.Endpoints = nil },
			wan: &TestbedWAN{Subnet: netip.MustParsePrefix("10.10.1.0/24"), Link: "wan", Where: "run.json"}, link: "ens2f0np0", how: HowTestbed, because: "10.10.1.0/24"},
		{name: "testbed link name", edit: func(m *fakehost.Machine) {
			m.Endpoints, m.Routes = nil, nil
			m.Links[2].Name = "wan"
		}, wan: &TestbedWAN{Subnet: netip.MustParsePrefix("198.18.255.0/24"), Link: "wan"}, link: "wan", how: HowTestbed, because: "names wan"},
		{name: "testbed subnet not routed falls through", edit: func(m *fakehost.Machine) { m.Endpoints = nil },
			wan: &TestbedWAN{Subnet: netip.MustParsePrefix("198.18.255.0/24")}, link: "ens1f0np0", how: HowFastest},
		{name: "fastest port, tie off the default route", edit: func(m *fakehost.Machine) { m.Endpoints = nil }, link: "ens1f0np0", how: HowFastest, because: "100 Gbit/s"},
		{name: "fastest port beats the default route", edit: func(m *fakehost.Machine) {
			m.Endpoints = nil
			m.Links[0].Speed = 1000
			m.Links[1].State = "down"
		}, link: "ens2f0np0", how: HowFastest, because: "also up: eno1 1 Gbit/s"},
		{name: "no physical port up", edit: func(m *fakehost.Machine) {
			m.Endpoints = nil
			for i := range 3 {
				m.Links[i].State = "down"
			}
		}, link: "eno1", how: HowDefault},
		{name: "veth only", edit: func(m *fakehost.Machine) {
			m.Endpoints, m.DefaultRoute = nil, ""
			m.Links = []fakehost.Link{{Name: "wg0", Kind: "wireguard", MTU: 1420}, {Name: "lan", Kind: "veth", MTU: 1500}, {Name: "wan", Kind: "veth", MTU: 1420}}
		}, link: "wan", how: HowOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cloudlab()
			if tc.edit != nil {
				tc.edit(m)
			}
			h, err := Read(context.Background(), writeMachine(t, m))
			if err != nil {
				t.Fatal(err)
			}
			u := ChooseUnderlay(h, tc.wan)
			if u == nil {
				t.Fatal("no underlay")
			}
			if u.Link != tc.link || u.How != tc.how || !strings.Contains(u.Reason, tc.because) {
				t.Errorf("underlay = %+v; want %s by %s, reason with %q", u, tc.link, tc.how, tc.because)
			}
			if tc.wan == nil && (h.Underlay == nil || *h.Underlay != *u) {
				t.Errorf("facts' underlay = %+v, want %+v", h.Underlay, u)
			}
		})
	}
}

func TestReadRoutes(t *testing.T) {
	h, err := Read(context.Background(), writeMachine(t, cloudlab()))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{{Dst: "0.0.0.0/0", Dev: "eno1", Gateway: "192.168.0.1"}, {Dst: "128.110.216.0/22", Dev: "eno1"},
		{Dst: "10.10.1.0/24", Dev: "ens2f0np0"}, {Dst: "10.20.0.0/16", Dev: "ens1f0np0", Gateway: "10.10.1.254"}}
	if len(h.Routes) != len(want) {
		t.Fatalf("routes = %+v, want %+v", h.Routes, want)
	}
	for i := range want {
		if h.Routes[i] != want[i] {
			t.Errorf("route %d = %+v, want %+v", i, h.Routes[i], want[i])
		}
	}
	if len(h.Endpoints) != 1 || h.Endpoints[0] != (Endpoint{Device: "wg0", Addr: "10.10.1.1:51820"}) {
		t.Errorf("endpoints = %+v", h.Endpoints)
	}
	// A snapshot of the snapshot keeps the endpoints.
	out := filepath.Join(t.TempDir(), "snap")
	src := writeMachine(t, cloudlab())
	if _, err := snapshot(context.Background(), src, out, false); err != nil {
		t.Fatal(err)
	}
	again, err := Read(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Endpoints) != 1 || again.Underlay == nil || again.Underlay.Link != "ens2f0np0" {
		t.Errorf("snapshot: endpoints %+v, underlay %+v", again.Endpoints, again.Underlay)
	}
}

// TestRouteGetLive asks this host's kernel for a route over netlink.
func TestRouteGetLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("netlink is Linux-only")
	}
	link, err := routeGet(netip.MustParseAddr("127.0.0.1"))
	if err != nil || link != "lo" {
		t.Errorf("routeGet(127.0.0.1) = %q, %v; want lo", link, err)
	}
}
