package tuner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/tuner/internal/fixtures"
)

// TestNUMAAdviceFollowsTunnels: on a CloudLab gateway whose default route
// is the control NIC on node 0, the NUMA advice is about the port the
// tunnels' peers are routed through, on node 1. Without the endpoints the
// tuner falls back to the fastest port that is up (an idle one on node 0)
// and says so.
func TestNUMAAdviceFollowsTunnels(t *testing.T) {
	for _, tc := range []struct {
		name      string
		forget    bool // drop the endpoints and the facts' choice
		nic, cpus string
		node      string
		because   string
	}{
		{name: "peer endpoints", nic: "ens2f0np0", cpus: "8-15", node: "node 1", because: "WireGuard peers' endpoints"},
		{name: "no endpoint known", forget: true, nic: "ens1f0np0", cpus: "0-7", node: "node 0", because: "fastest physical port that is up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := machine(t, fixtures.CloudLabControl)
			if h.DefaultRoute != "eno1" {
				t.Fatalf("fixture's default route = %q, want the control NIC eno1", h.DefaultRoute)
			}
			if tc.forget {
				h.Endpoints, h.Underlay = nil, nil
			}
			rep := Analyze(Hosts{AnyHost: h}, nil)
			i := slices.IndexFunc(rep.Suggestions, func(s Suggestion) bool { return s.ID == "numa-local" })
			if i < 0 {
				t.Fatalf("no numa-local suggestion in %v", ids(rep.Suggestions))
			}
			s := rep.Suggestions[i]
			if !strings.Contains(s.Fact, tc.nic) || !strings.Contains(s.Fact, tc.node) || strings.Contains(s.Fact, "eno1") {
				t.Errorf("fact = %q, want it about %s on %s", s.Fact, tc.nic, tc.node)
			}
			for _, a := range s.Apply {
				if strings.HasPrefix(a, "echo ") && !strings.HasPrefix(a, "echo "+tc.cpus+" ") {
					t.Errorf("apply %q pins off %s's node (want CPUs %s)", a, tc.nic, tc.cpus)
				}
			}
			j := slices.IndexFunc(rep.Checks, func(c Check) bool { return c.ID == "underlay" })
			if j < 0 || !strings.Contains(rep.Checks[j].Fact, "NIC is "+tc.nic) || !strings.Contains(rep.Checks[j].Fact, tc.because) {
				t.Errorf("underlay check = %+v, want %s chosen by %q", rep.Checks[max(j, 0)], tc.nic, tc.because)
			}
		})
	}
}

// TestLoadRunUnderlay: the gateways' facts in a run folder were read
// before any tunnel was up; the tuner takes the WAN the testbed used, by
// the route to the run's WAN subnet or, in facts without routes, by the
// name the local testbed gives the port ("wan").
func TestLoadRunUnderlay(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(h *facts.Host)
		want string
	}{
		{name: "route to the WAN subnet", edit: func(h *facts.Host) {
			h.Routes = append(h.Routes, facts.Route{Dst: "198.18.255.0/24", Dev: "ens2f0np0"})
		}, want: "ens2f0np0"},
		{name: "the local testbed's wan port", edit: func(h *facts.Host) {
			h.Routes = nil
			for i := range h.Links {
				if h.Links[i].Name == "ens2f0np0" {
					h.Links[i].Name = "wan"
				}
			}
		}, want: "wan"},
		{name: "no WAN known", edit: func(h *facts.Host) { h.Routes = nil }, want: "ens1f0np0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(testdata, "runs", fixtures.RunBlackHole)
			for _, f := range []string{"run.json", "points.csv"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			folder, run, err := results.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			run.Testbed.Addressing = map[string]string{"wan": "198.18.255.0/24"}
			if err := folder.Save(run); err != nil {
				t.Fatal(err)
			}
			h := machine(t, fixtures.CloudLabControl)
			h.Endpoints = nil // read before the tunnels were up
			h.Underlay = facts.ChooseUnderlay(h, nil)
			tc.edit(h)
			b, _ := json.Marshal(h)
			if err := os.WriteFile(filepath.Join(dir, facts.RunFile("gw2")), b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, hosts, err := LoadRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			u := hosts["gw2"].Underlay
			if u == nil || u.Link != tc.want {
				t.Fatalf("underlay = %+v, want %s", u, tc.want)
			}
			if nic, ok := underlay(hosts["gw2"]); !ok || nic.Name != tc.want {
				t.Errorf("tuner's underlay = %s, want %s", nic.Name, tc.want)
			}
		})
	}
}
