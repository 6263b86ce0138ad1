package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/probes/facts"
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

func TestRehearsal(t *testing.T) {
	good := results.Repetition{Index: 0, AggregateBps: 1e8}
	series := []results.SeriesStatus{{Name: "a"}, {Name: "b"}}
	measured := results.Point{Series: "a", Tunnels: 1, FlowsPerTunnel: 1, Complete: true, Repetitions: []results.Repetition{good}}
	tests := []struct {
		name    string
		run     results.Run
		problem string // a problem, or "" for none
		summary string // in the summary
	}{
		{"all measured", results.Run{Status: results.StatusComplete, Series: series, Points: []results.Point{
			measured, {Series: "b", Tunnels: 2, FlowsPerTunnel: 1, Complete: true, Repetitions: []results.Repetition{good}},
		}}, "", "series b: 1/1 points measured"},
		{"patched knob", results.Run{Status: results.StatusComplete, Series: series, Points: []results.Point{
			measured, {Series: "b", Tunnels: 1, FlowsPerTunnel: 1, Notes: []string{"datapath up: encrypt_cpus: needs the patched inline module: stock"}},
		}}, "", "series b: SKIP: needs the papers' patched module"},
		{"other failure", results.Run{Status: results.StatusComplete, Series: series, Points: []results.Point{
			measured, {Series: "b", Tunnels: 1, FlowsPerTunnel: 1, Notes: []string{"datapath up: numa_node set threaded_napi too"}},
		}}, "series b, 1 tunnel(s) × 1 flow(s): not measured", ""},
		{"skipped otherwise", results.Run{Status: results.StatusComplete, Series: []results.SeriesStatus{{Name: "a"}, {Name: "b", Skipped: "gw1: no inline engine"}},
			Points: []results.Point{measured}}, "series b skipped: gw1: no inline engine", ""},
		{"failed repetition", results.Run{Status: results.StatusComplete, Series: series, Points: []results.Point{
			measured, {Series: "b", Complete: true, Repetitions: []results.Repetition{{Index: 0, Error: "iperf3 died"}}},
		}}, "repetition 0 failed: iperf3 died", ""},
		{"interrupted", results.Run{Status: results.StatusInterrupted, Series: series[:1], Points: []results.Point{measured}}, `run status "interrupted"`, ""},
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
			problems, summary, err := rehearsal(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(problems, "\n")
			if tt.problem == "" && got != "" || !strings.Contains(got, tt.problem) {
				t.Errorf("problems = %q, want %q", got, tt.problem)
			}
			if s := strings.Join(summary, "\n"); !strings.Contains(s, tt.summary) {
				t.Errorf("summary = %q, want %q", s, tt.summary)
			}
		})
	}
}

func TestRehearsalFacts(t *testing.T) {
	data := facts.Link{Name: "wan", Kind: facts.KindPhysical, Driver: "e1000e", Bus: "0000:81:00.0", NUMANode: 1, LocalCPUs: facts.CPUList{2, 3}}
	veth := facts.Link{Name: "wan", Kind: facts.KindVeth, NUMANode: -1}
	control := facts.Link{Name: "wan", Kind: facts.KindPhysical, Driver: "e1000e", Bus: "0000:41:00.0", NUMANode: 0}
	tests := []struct {
		name     string
		gw1, gw2 []facts.Link // nil: no facts file
		problem  string       // a problem, or "" for none
	}{
		{"data ports on node 1", []facts.Link{data}, []facts.Link{{Name: "lan", Kind: facts.KindVeth}, data}, ""},
		{"no facts for gw2", []facts.Link{data}, nil, "gw2: the run folder has no gateway facts"},
		{"no wan link", []facts.Link{data}, []facts.Link{{Name: "lan", Kind: facts.KindVeth}}, `gw2: facts-gw2.json has no link "wan" (links: lan)`},
		{"wan is a veth", []facts.Link{veth}, []facts.Link{data}, "gw1: facts-gw1.json shows the WAN link as veth"},
		{"wan on node 0", []facts.Link{data}, []facts.Link{control}, "on NUMA node 0; want the physical data port on node 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for role, links := range map[string][]facts.Link{"gw1": tt.gw1, "gw2": tt.gw2} {
				if links == nil {
					continue
				}
				b, err := json.Marshal(facts.Host{Links: links})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, facts.RunFile(role)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			problems, summary := rehearsalFacts(dir)
			got := strings.Join(problems, "\n")
			if tt.problem == "" && got != "" || !strings.Contains(got, tt.problem) {
				t.Errorf("problems = %q, want %q", got, tt.problem)
			}
			if tt.problem == "" && (len(summary) != 2 || !strings.Contains(summary[0], "gw1 facts: WAN wan (e1000e 0000:81:00.0) on NUMA node 1, local CPUs 2-3")) {
				t.Errorf("summary = %q, want a line per gateway", summary)
			}
		})
	}
}
