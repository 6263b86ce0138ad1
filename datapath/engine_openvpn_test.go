package datapath

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/datapath/openvpn"
	"github.com/wgbench/wgbench/scenarios"
)

// TestPlanOpenVPN checks the ends of each tunnel: GW2 the server, each
// accepting only the other's certificate, routes crossed, the cipher and
// pinning of the series, every key shown to Secret and only in files.
func TestPlanOpenVPN(t *testing.T) {
	tests := []struct {
		name    string
		tuning  scenarios.Tuning
		cpus    []int
		wantCPU []int // per tunnel; nil: unpinned
	}{
		{"default", scenarios.Tuning{}, []int{0, 1}, nil},
		{"chacha pinned to the gateway's cores", scenarios.Tuning{Cipher: "CHACHA20-POLY1305", Pin: true}, []int{2, 3}, []int{2, 3, 2}},
		{"pinned to the series' cpus", scenarios.Tuning{Pin: true, CPUs: scenarios.CPUList("5")}, []int{0, 1}, []int{5, 5, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := planRequest(t, "openvpn", 3)
			req.Tuning, req.CPUs = tt.tuning, tt.cpus
			var secrets [][]byte
			req.Secret = func(b []byte) { secrets = append(secrets, b) }
			d, err := Plan(req)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Processes) != 2 || len(d.Files) != 6 || len(d.Devices) != 3 {
				t.Fatalf("plan: %d processes, %d files, %d devices; want 2, 6, 3", len(d.Processes), len(d.Files), len(d.Devices))
			}
			if len(secrets) != 2*2*3 {
				t.Errorf("Secret saw %d secrets, want 12 (DER and PEM of 6 keys)", len(secrets))
			}
			ends := map[string][2]*openvpn.Tunnel{}
			for _, f := range d.Files {
				var e openvpn.Tunnel
				if err := json.Unmarshal(f.Data, &e); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(f.Path, req.Gateways[f.Gateway].TempDir) {
					t.Errorf("file %s outside gateway %d's temp folder", f.Path, f.Gateway)
				}
				pair := ends[e.Device]
				pair[f.Gateway] = &e
				ends[e.Device] = pair
			}
			for i, tun := range req.Tunnels {
				c, s := ends[tun.Device][GW1], ends[tun.Device][GW2]
				if c == nil || s == nil {
					t.Fatalf("tunnel %s: an end is missing", tun.Device)
				}
				if c.Server || !s.Server {
					t.Errorf("tunnel %s: server flags %v/%v, want GW2 the server", tun.Device, c.Server, s.Server)
				}
				if c.Route != tun.Behind[GW2] || s.Route != tun.Behind[GW1] {
					t.Errorf("tunnel %s: routes %s/%s, want %s/%s", tun.Device, c.Route, s.Route, tun.Behind[GW2], tun.Behind[GW1])
				}
				if c.Local != s.Remote || s.Local != c.Remote || int(c.Local.Port()) != tun.Port {
					t.Errorf("tunnel %s: endpoints %s→%s and %s→%s do not cross on port %d", tun.Device, c.Local, c.Remote, s.Local, s.Remote, tun.Port)
				}
				ic := fingerprintOf(t, c.Cert)
				is := fingerprintOf(t, s.Cert)
				if s.PeerFingerprint != ic || c.PeerFingerprint != is || ic == is {
					t.Errorf("tunnel %s: each end must accept only the other's certificate", tun.Device)
				}
				if c.Cipher != tt.tuning.Cipher {
					t.Errorf("tunnel %s: cipher %q, want %q", tun.Device, c.Cipher, tt.tuning.Cipher)
				}
				for _, e := range []*openvpn.Tunnel{c, s} {
					switch {
					case tt.wantCPU == nil && e.CPU != nil:
						t.Errorf("tunnel %s: pinned to %d unasked", tun.Device, *e.CPU)
					case tt.wantCPU != nil && (e.CPU == nil || *e.CPU != tt.wantCPU[i]):
						t.Errorf("tunnel %s: CPU %v, want %d", tun.Device, e.CPU, tt.wantCPU[i])
					}
				}
			}
		})
	}
}

// fingerprintOf is the --peer-fingerprint of a PEM certificate, found by
// making the identity's fingerprint the way openvpn does.
func fingerprintOf(t *testing.T, cert string) string {
	t.Helper()
	fp, err := openvpn.Fingerprint(cert)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
