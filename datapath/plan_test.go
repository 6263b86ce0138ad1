package datapath

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/scenarios"
)

// planRequest is a request for engine with n tunnels on a testbed shaped
// like the local one.
func planRequest(t *testing.T, engine string, n int) Request {
	req := Request{Engine: engine, Gateways: [2]Gateway{
		GW1: {WAN: netip.MustParseAddr("10.0.0.1"), TempDir: t.TempDir()},
		GW2: {WAN: netip.MustParseAddr("10.0.0.2"), TempDir: t.TempDir()},
	}}
	for i := range n {
		req.Tunnels = append(req.Tunnels, Tunnel{
			Device: "wgt-" + string(rune('a'+i)), Port: 40000 + i,
			Behind: [2]netip.Prefix{
				GW1: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 24),
				GW2: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24),
			},
		})
	}
	return req
}

// TestEnginesRegistered checks that every datapath a scenario may name is
// a registered engine that can be checked, planned and started, and that
// UsesUDPPorts says which make tunnels.
func TestEnginesRegistered(t *testing.T) {
	var names []string
	for _, dp := range scenarios.Datapaths {
		names = append(names, string(dp))
	}
	slices.Sort(names)
	if got := Engines(); !slices.Equal(got, names) {
		t.Errorf("engines %v, want the scenario datapaths %v", got, names)
	}
	for name, e := range engines {
		if e.check == nil || e.plan == nil || e.start == nil {
			t.Errorf("engine %s: check, plan or start missing", name)
		}
		if want := name != "plain" && name != "ipsec"; UsesUDPPorts(name) != want {
			t.Errorf("UsesUDPPorts(%s) = %v, want %v", name, !want, want)
		}
	}
	if UsesUDPPorts("nope") {
		t.Error("UsesUDPPorts of an unknown engine is true")
	}
}

// TestPlanTunnelFiles checks the wg-quick files a WireGuard engine's plan
// writes: one per tunnel and gateway, in that gateway's folder, with a
// fresh key pair per tunnel, each end's peer the other end, and only gw1
// keeping the tunnel alive.
func TestPlanTunnelFiles(t *testing.T) {
	for _, engine := range []string{"wggo", "kernel", "inline"} {
		t.Run(engine, func(t *testing.T) {
			req := planRequest(t, engine, 2)
			d, err := Plan(req)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"wgt-a", "wgt-b"}; !slices.Equal(d.Devices, want) {
				t.Errorf("devices %v, want %v", d.Devices, want)
			}
			if len(d.Files) != 4 {
				t.Fatalf("%d files, want 4 (2 tunnels × 2 gateways)", len(d.Files))
			}
			conf := map[[2]int]*wgconf.Config{}
			for _, f := range d.Files {
				if filepath.Dir(f.Path) != req.Gateways[f.Gateway].TempDir {
					t.Errorf("file %s is not in gateway %d's folder", f.Path, f.Gateway)
				}
				c, err := wgconf.Parse(strings.TrimSuffix(filepath.Base(f.Path), ".conf"), bytes.NewReader(f.Data))
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				i := slices.IndexFunc(req.Tunnels, func(tn Tunnel) bool { return tn.Device == c.Name })
				if i < 0 {
					t.Fatalf("%s: config of unknown tunnel %s", f.Path, c.Name)
				}
				conf[[2]int{f.Gateway, i}] = c
			}
			keys := map[wgtypes.Key]bool{}
			for i, tn := range req.Tunnels {
				c1, c2 := conf[[2]int{GW1, i}], conf[[2]int{GW2, i}]
				if c1 == nil || c2 == nil {
					t.Fatalf("tunnel %d: config missing on a gateway", i)
				}
				keys[c1.Interface.PrivateKey], keys[c2.Interface.PrivateKey] = true, true
				for _, e := range []struct {
					c, peer    *wgconf.Config
					far        int
					keepalives bool
				}{{c1, c2, GW2, true}, {c2, c1, GW1, false}} {
					p := e.c.Peers[0]
					if e.c.Interface.ListenPort != tn.Port || p.PublicKey != e.peer.Interface.PrivateKey.PublicKey() ||
						!slices.Equal(p.AllowedIPs, []netip.Prefix{tn.Behind[e.far]}) ||
						p.Endpoint == nil || *p.Endpoint != netip.AddrPortFrom(req.Gateways[e.far].WAN, uint16(tn.Port)) ||
						(p.PersistentKeepalive > 0) != e.keepalives {
						t.Errorf("tunnel %d, end facing gateway %d: %+v, peer %+v", i, e.far, e.c.Interface.ListenPort, p)
					}
				}
			}
			if len(keys) != 4 {
				t.Errorf("%d distinct private keys, want 4", len(keys))
			}
		})
	}
}

// TestPlanProcesses checks which processes each engine's plan starts, on
// which gateway, and which keep a journal.
func TestPlanProcesses(t *testing.T) {
	for _, tc := range []struct {
		engine   string
		tuning   scenarios.Tuning
		cpus     []int
		perGW    int // processes per gateway
		journal  bool
		wantArgs []string // in gw2's first process, besides its configs
	}{
		{engine: "plain", perGW: 1, wantArgs: []string{"--route", "192.168.0.0/24=10.0.0.1", "--route", "192.168.1.0/24=10.0.0.1"}},
		{engine: "wggo", perGW: 1},
		{engine: "wggo", tuning: scenarios.Tuning{Pin: true}, cpus: []int{7}, perGW: 2, wantArgs: []string{"--cpus", "7"}},
		{engine: "kernel", tuning: scenarios.Tuning{ThreadedNAPI: true}, perGW: 1, journal: true, wantArgs: []string{"--threaded-napi", "--journal"}},
		{engine: "inline", tuning: scenarios.Tuning{CPUs: scenarios.CPUList("1-2")}, perGW: 1, wantArgs: []string{"--cpus", "1-2"}},
		{engine: "inline", tuning: scenarios.Tuning{CPUs: scenarios.CPUList("0-1"), Mode: "hybrid"}, perGW: 1, wantArgs: []string{"--cpus", "0-1", "--mode", "hybrid"}},
		{engine: "inline", tuning: scenarios.Tuning{Mode: "inline"}, perGW: 1},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			req := planRequest(t, tc.engine, 2)
			req.Tuning, req.CPUs = tc.tuning, tc.cpus
			d, err := Plan(req)
			if err != nil {
				t.Fatal(err)
			}
			var n [2]int
			for _, p := range d.Processes {
				n[p.Gateway]++
				if !slices.Equal(p.Args[:4], []string{"datapath", "up", "--engine", tc.engine}) || p.Engine != tc.engine || p.Stage != "datapath-"+tc.engine {
					t.Errorf("process %+v does not run datapath up --engine %s", p, tc.engine)
				}
				if wantJ := filepath.Join(req.Gateways[p.Gateway].TempDir, "datapath-kernel.journal"); tc.journal && p.Journal != wantJ || !tc.journal && p.Journal != "" {
					t.Errorf("gateway %d: journal %q (want one: %v)", p.Gateway, p.Journal, tc.journal)
				}
				if tc.journal && !slices.Contains(p.Args, p.Journal) {
					t.Errorf("gateway %d: args %q do not name the journal %s", p.Gateway, p.Args, p.Journal)
				}
			}
			if n != [2]int{tc.perGW, tc.perGW} {
				t.Errorf("processes per gateway %v, want %d each", n, tc.perGW)
			}
			var gw2 []string
			for _, p := range d.Processes {
				if p.Gateway == GW2 {
					gw2 = p.Args[4:]
					break
				}
			}
			var rest []string
			for i := 0; i < len(gw2); i++ {
				if gw2[i] == "--config" {
					i++
					continue
				}
				rest = append(rest, gw2[i])
			}
			if tc.journal {
				rest = rest[:len(rest)-1] // the journal's path, checked above
			}
			if !slices.Equal(rest, tc.wantArgs) {
				t.Errorf("gw2 args besides configs %q, want %q", rest, tc.wantArgs)
			}
		})
	}
}

// TestPlanErrors checks that a plan fails, naming the cause, for an
// unknown engine and when a key cannot be made.
func TestPlanErrors(t *testing.T) {
	if _, err := Plan(planRequest(t, "carrier-pigeon", 1)); err == nil || !strings.Contains(err.Error(), `"carrier-pigeon" cannot be deployed`) {
		t.Errorf("unknown engine: %v", err)
	}
	req := planRequest(t, "wggo", 1)
	req.NewKey = func() (wgtypes.Key, error) { return wgtypes.Key{}, errors.New("no entropy") }
	if _, err := Plan(req); err == nil || !strings.Contains(err.Error(), "no entropy") || !strings.Contains(err.Error(), "wgt-a") {
		t.Errorf("key failure: %v", err)
	}
}

// TestPlanPerGatewayTuning checks that each gateway's process gets the
// knobs that gateway runs: the shared ones with its own block applied.
func TestPlanPerGatewayTuning(t *testing.T) {
	sc, err := scenarios.Parse("t.yaml", []byte(`name: t
series:
  - datapath: kernel
    tuning:
      threaded_napi: true
      gw2: {decrypt_cpus: 2-3, napi_cpus: 1}
  - datapath: inline
    tuning:
      cpus: 0-1
      gw1: {cpus: 4}
  - datapath: wggo
    tuning:
      pin: true
      gw2: {cpus: [6, 7]}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		engine string
		tuning scenarios.Tuning
		want   [2][]string // the arguments after the configs, per gateway
	}{
		{"kernel", sc.Series[0].Tuning, [2][]string{
			{"--threaded-napi", "--journal"},
			{"--threaded-napi", "--napi-cpus=1", "--decrypt-cpus=2-3", "--journal"},
		}},
		{"inline", sc.Series[1].Tuning, [2][]string{{"--cpus", "4"}, {"--cpus", "0-1"}}},
		{"wggo", sc.Series[2].Tuning, [2][]string{{"--cpus", "0"}, {"--cpus", "6"}}},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			req := planRequest(t, tt.engine, 1)
			req.Tuning, req.CPUs = tt.tuning, []int{0}
			d, err := Plan(req)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Processes) != 2 {
				t.Fatalf("%d processes, want one per gateway", len(d.Processes))
			}
			for _, p := range d.Processes {
				var got []string
				for i := 0; i < len(p.Args); i++ {
					switch {
					case slices.Contains([]string{"datapath", "up"}, p.Args[i]):
					case p.Args[i] == "--engine" || p.Args[i] == "--config":
						i++
					case p.Args[i] == "--journal":
						got = append(got, p.Args[i])
						i++
					default:
						got = append(got, p.Args[i])
					}
				}
				if diff := cmp.Diff(tt.want[p.Gateway], got); diff != "" {
					t.Errorf("gw%d's arguments (-want +got):\n%s", p.Gateway+1, diff)
				}
			}
			if slices.Equal(d.Processes[0].Args, d.Processes[1].Args) {
				t.Error("gw1 and gw2 run the same arguments")
			}
		})
	}
}
