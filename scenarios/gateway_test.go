package scenarios

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/internal/knobs"
)

// TestGatewayTuning parses per-gateway blocks and checks what each
// gateway runs, that --set reaches into a block, and that the scenario
// writes back and parses to the same.
func TestGatewayTuning(t *testing.T) {
	const doc = `name: t
series:
  - datapath: kernel
    tuning:
      threaded_napi: true
      napi_cpus: 0-1
      optional: [napi_cpus, decrypt_cpus]
      gw2:
        napi_cpus: [2, 3]
        decrypt_cpus: 4
`
	s, err := Parse("t.yaml", []byte(doc), []string{"series[0].tuning.gw1.steering=true"})
	if err != nil {
		t.Fatal(err)
	}
	tu := s.Series[0].Tuning
	want := map[int]Tuning{
		1: {ThreadedNAPI: true, NAPICPUs: CPUList("0-1"), Steering: true, Optional: []string{"napi_cpus"}},
		2: {ThreadedNAPI: true, NAPICPUs: CPUList("2-3"), DecryptCPUs: CPUList("4"), Optional: []string{"napi_cpus", "decrypt_cpus"}},
	}
	for n, w := range want {
		if diff := cmp.Diff(w, tu.Gateway(n)); diff != "" {
			t.Errorf("Gateway(%d) (-want +got):\n%s", n, diff)
		}
	}
	if got := tu.Set(); !cmp.Equal(got, []string{"threaded_napi", "napi_cpus"}) {
		t.Errorf("Set() = %q, want the shared knobs alone", got)
	}
	plain := Tuning{RPSCPUs: CPUList("1")}
	if diff := cmp.Diff(plain, plain.Gateway(2)); diff != "" {
		t.Errorf("Gateway of a tuning without blocks (-want +got):\n%s", diff)
	}
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("back.yaml", out, nil)
	if err != nil {
		t.Fatalf("parse written scenario: %v\n%s", err, out)
	}
	if diff := cmp.Diff(s.Series[0].Tuning, back.Series[0].Tuning); diff != "" {
		t.Errorf("written and parsed back (-want +got):\n%s", diff)
	}
}

// TestPlacementsMatchTable checks that validation's placement names are
// the knobs table's.
func TestPlacementsMatchTable(t *testing.T) {
	if diff := cmp.Diff(knobs.Placements, Placements); diff != "" {
		t.Errorf("placements (-table +scenarios):\n%s", diff)
	}
}

// Summary lists the shared knobs, then each block's.
func TestTuningSummary(t *testing.T) {
	tests := []struct {
		name string
		tu   Tuning
		want string
	}{
		{"none", Tuning{}, ""},
		{"shared", Tuning{ThreadedNAPI: true, Steering: true}, "threaded_napi, steering"},
		{"block alone", Tuning{GW2: &Tuning{DecryptCPUs: "nic-node"}}, "gw2: decrypt_cpus"},
		{"both", Tuning{Steering: true, GW1: &Tuning{EncryptCPUs: "0"}, GW2: &Tuning{DecryptCPUs: "1"}}, "steering; gw1: encrypt_cpus; gw2: decrypt_cpus"},
		{"empty block", Tuning{Steering: true, GW2: &Tuning{}}, "steering"},
	}
	for _, tt := range tests {
		if got := tt.tu.Summary(); got != tt.want {
			t.Errorf("%s: Summary() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
