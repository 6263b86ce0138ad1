package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// TestStoppedStatus checks what run.json says of a run its context
// stopped: a plain cancel or a signal is an interrupt, a lost host a
// failure naming the host.
func TestStoppedStatus(t *testing.T) {
	sc, err := scenarios.Parse("s.yaml", []byte("name: s\nseries:\n  - datapath: plain\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	lost := fmt.Errorf("gw2 (192.0.2.2:22): %w (EOF): the host went away", testbed.ErrHostLost)
	tests := []struct {
		name       string
		cause      error // nil: a plain cancel
		status     string
		error      string // the whole of run.Error
		hostLostIs bool   // the returned error is a testbed.ErrHostLost
	}{
		{"cancel", nil, results.StatusInterrupted, "interrupted: context canceled", false},
		{"signal", errors.New("interrupt signal received"), results.StatusInterrupted, "interrupted: interrupt signal received", false},
		{"host lost", lost, results.StatusFailed, lost.Error(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			run, err := Run(ctx, Options{Scenario: sc, Dir: dir, Provision: func(ctx context.Context, _, _ int) (Testbed, error) {
				cancel(tt.cause)
				return nil, ctx.Err()
			}})
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if errors.Is(err, testbed.ErrHostLost) != tt.hostLostIs {
				t.Errorf("error %v: errors.Is(ErrHostLost) = %v, want %v", err, !tt.hostLostIs, tt.hostLostIs)
			}
			_, saved, oerr := results.Open(dir)
			if oerr != nil {
				t.Fatal(oerr)
			}
			for _, r := range []*results.Run{run, saved} {
				if r.Status != tt.status || r.Error != tt.error {
					t.Errorf("status %q, error %q; want %q, %q", r.Status, r.Error, tt.status, tt.error)
				}
			}
		})
	}
}

func TestLostHostError(t *testing.T) {
	cause := fmt.Errorf("gw2 (h:22): %w", testbed.ErrHostLost)
	teardown := fmt.Errorf("teardown: %w; its net-setup undoes the addressing", cause)
	for _, tt := range []struct {
		err  error
		want string
	}{
		{context.Canceled, cause.Error()},
		{cause, cause.Error()},
		{errors.Join(context.Canceled, teardown), cause.Error() + "\n" + teardown.Error()},
		{errors.New("iperf3 said no"), cause.Error() + "\niperf3 said no"},
	} {
		got := lostHost(cause, tt.err)
		if got.Error() != tt.want || !errors.Is(got, testbed.ErrHostLost) {
			t.Errorf("lostHost(%q) = %q, want %q", tt.err, got, tt.want)
		}
		if strings.Contains(got.Error(), "context canceled") {
			t.Errorf("lostHost(%q) keeps the bare cancellation: %q", tt.err, got)
		}
	}
}

func TestUsableCPUs(t *testing.T) {
	tests := []struct {
		name string
		h    results.HostFacts
		want []int
	}{
		{"unknown host", results.HostFacts{}, nil},
		{"all cores", results.HostFacts{Machine: results.Machine{Cores: 4}}, []int{0, 1, 2, 3}},
		{"confined by the inventory", results.HostFacts{Machine: results.Machine{Cores: 32}, AllowedCPUs: "2-3,8"}, []int{2, 3, 8}},
	}
	for _, tt := range tests {
		if got := usableCPUs(tt.h); !slices.Equal(got, tt.want) {
			t.Errorf("%s: usableCPUs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSeriesStatusTuning checks that run.json records the tuning each
// gateway runs, and nothing for an untuned series.
func TestSeriesStatusTuning(t *testing.T) {
	s := scenarios.Series{Name: "gw2-decrypt", Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{
		ThreadedNAPI: true, GW2: &scenarios.Tuning{DecryptCPUs: scenarios.CPUList("2")}}}
	data, err := json.Marshal(seriesStatus(s))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"gw2-decrypt","datapath":"kernel","tuning":{"gw1":{"threaded_napi":true},"gw2":{"threaded_napi":true,"decrypt_cpus":[2]}}}`
	if string(data) != want {
		t.Errorf("series status\n got %s\nwant %s", data, want)
	}
	if st := seriesStatus(scenarios.Series{Name: "v", Datapath: scenarios.Kernel}); st.Tuning != nil {
		t.Errorf("untuned series records tuning %v", st.Tuning)
	}
}
