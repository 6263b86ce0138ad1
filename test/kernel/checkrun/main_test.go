package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
)

func TestCheck(t *testing.T) {
	good := results.Repetition{Index: 0, AggregateBps: 1e8}
	tests := []struct {
		name string
		run  results.Run
		want string // a problem, or "" for none
	}{
		{"complete", results.Run{Status: results.StatusComplete, Points: []results.Point{
			{Series: "a", Tunnels: 1, FlowsPerTunnel: 1, Complete: true, Repetitions: []results.Repetition{good}},
			{Series: "b", Tunnels: 1, FlowsPerTunnel: 1, Complete: true, Repetitions: []results.Repetition{good},
				Knobs: []results.KnobChange{{Host: "gw1", Knob: "napi_cpus"}, {Host: "gw2", Knob: "napi_cpus"}}},
		}}, ""},
		{"failed run", results.Run{Status: results.StatusFailed, Error: "boom"}, `run status "failed" (boom)`},
		{"series skipped", results.Run{Status: results.StatusComplete, Series: []results.SeriesStatus{{Name: "b", Skipped: "no module"}},
			Points: []results.Point{{Series: "a", Complete: true, Repetitions: []results.Repetition{good}}}}, "series b skipped: no module"},
		{"datapath failed", results.Run{Status: results.StatusComplete, Points: []results.Point{
			{Series: "a", Complete: true, Repetitions: []results.Repetition{good}},
			{Series: "b", Tunnels: 1, FlowsPerTunnel: 1, Notes: []string{"datapath failed: x"}},
		}}, "series b, 1 tunnel(s) × 1 flow(s): not measured"},
		{"no traffic", results.Run{Status: results.StatusComplete, Points: []results.Point{
			{Series: "a", Complete: true, Repetitions: []results.Repetition{good}},
			{Series: "b", Complete: true, Repetitions: []results.Repetition{{Index: 0}}},
		}}, "repetition 0 carried no traffic"},
		{"knob not changed on gw2", results.Run{Status: results.StatusComplete, Points: []results.Point{
			{Series: "a", Complete: true, Repetitions: []results.Repetition{good}},
			{Series: "b", Tunnels: 1, FlowsPerTunnel: 1, Complete: true, Repetitions: []results.Repetition{good},
				Knobs: []results.KnobChange{{Host: "gw1", Knob: "napi_cpus"}, {Host: "gw2", Knob: "threaded_napi"}}},
		}}, "series b, 1 tunnel(s) × 1 flow(s): gw2 did not change napi_cpus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.run.Schema = results.SchemaVersion
			b, err := json.Marshal(tt.run)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, results.RunFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
			problems, _, err := check(dir, []string{"a", "b:napi_cpus"})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(problems, "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems = %q, want %q", got, tt.want)
			}
		})
	}
}
