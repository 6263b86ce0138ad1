package results

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wgbench/wgbench/scenarios"
)

// fullRun returns a Run with every field set, so that encoding tests see
// every key.
func fullRun() *Run {
	started := time.Date(2026, 11, 21, 22, 15, 0, 0, time.UTC)
	finished := started.Add(42 * time.Minute)
	node := 0
	p := Point{
		Series:         "kernel, threaded",
		Datapath:       scenarios.Kernel,
		Tunnels:        4,
		FlowsPerTunnel: 2,
		SetupSeconds:   1.25,
		Repetitions: []Repetition{
			{
				Index:   0,
				Started: started.Add(time.Minute),
				Seconds: 10.0004,
				Flows: []Flow{{
					Tunnel: 0, Index: 1, Src: "10.1.0.2", Dst: "10.2.0.2", Port: 5201,
					Bps: 9.41e9, Bytes: 11762500000, SentBytes: 11763000000,
					Retransmits: 12, LostPercent: 0.5, JitterMs: 0.01, Attempts: 2,
					Error: "retried after busy", Log: "raw/kernel-threaded/t4-f2/rep0/flow0-1.json",
				}},
				Tunnels: []TunnelCounters{{
					Index: 0, Device: "wgb0", GW1TxBytes: 1, GW1RxBytes: 2, GW2TxBytes: 3, GW2RxBytes: 4,
				}},
				AggregateBps: 9.41e9,
			},
			{Index: 1, Started: started.Add(2 * time.Minute), Error: "gw1 unreachable"},
		},
		Complete: true,
		Notes:    []string{"napi_cpus skipped: threaded NAPI unsupported"},
	}
	p.Resummarize()
	return &Run{
		Schema:       SchemaVersion,
		Tool:         "v0.1.0",
		Status:       StatusInterrupted,
		Error:        "interrupted by signal",
		Started:      started,
		Finished:     &finished,
		ScenarioFile: "scenarios/multi-tunnel.yaml",
		Overrides:    []string{"repetitions=3"},
		Scenario: scenarios.Scenario{
			Name:        "multi-tunnel",
			Description: "throughput vs tunnels",
			Testbed:     scenarios.Testbed{Driver: "local", MTU: 1500},
			Traffic: scenarios.Traffic{
				Tool: "iperf3", Protocol: scenarios.TCP,
				Duration: scenarios.Duration(10 * time.Second), Omit: scenarios.Duration(2 * time.Second),
				Bitrate: 1000000000, Length: 1400,
			},
			Sweep:       scenarios.Sweep{Tunnels: []int{1, 4}, Flows: []int{1, 2}},
			Repetitions: 3,
			Series: []scenarios.Series{{
				Name: "kernel, threaded", Datapath: scenarios.Kernel,
				Tuning: scenarios.Tuning{
					ThreadedNAPI: true, NAPICPUs: scenarios.CPUList("0-1"), NUMANode: &node,
					Optional: []string{"napi_cpus"},
				},
			}},
			Probes: scenarios.Probes{
				Interval: scenarios.Duration(250 * time.Millisecond), Saturation: 90,
				Persistence: 0.6, Headroom: 0.25,
			},
		},
		Testbed: TestbedInfo{
			Driver: "local", Tag: "ab12", SharedCores: true,
			Addressing: map[string]string{"lan1": "10.1.0.0/24"},
		},
		Hosts: map[string]HostFacts{
			"gw1": {Machine: Machine{
				Hostname: "gw1", Kernel: "6.18.44", CPUModel: "EPYC", Cores: 2, NUMANodes: 1,
				Iperf3: "3.12", Wgbench: "v0.1.0", WireGuard: "builtin", Notes: []string{"shared"},
			}},
		},
		Series: []SeriesStatus{
			{Name: "kernel, threaded", Datapath: scenarios.Kernel},
			{Name: "inline", Datapath: scenarios.Inline, Skipped: "engine not built"},
		},
		Points: []Point{p},
	}
}

// TestJSONKeys guards the names other tools and old run folders depend on:
// renaming a field is a schema change.
func TestJSONKeys(t *testing.T) {
	data, err := json.Marshal(fullRun())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	wantTop := []string{
		"error", "finished", "hosts", "overrides", "points", "scenario",
		"scenario_file", "schema", "series", "started", "status", "testbed",
		"wgbench_version",
	}
	if diff := cmp.Diff(wantTop, keys(m)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	point := m["points"].([]any)[0].(map[string]any)
	wantPoint := []string{
		"complete", "datapath", "flows_per_tunnel", "notes", "repetitions",
		"series", "setup_seconds", "summary", "tunnels",
	}
	if diff := cmp.Diff(wantPoint, keys(point)); diff != "" {
		t.Errorf("point keys (-want +got):\n%s", diff)
	}
	wantSummary := []string{"ci95_gbps", "max_gbps", "mean_gbps", "min_gbps", "n", "stddev_gbps"}
	if diff := cmp.Diff(wantSummary, keys(point["summary"].(map[string]any))); diff != "" {
		t.Errorf("summary keys (-want +got):\n%s", diff)
	}
	rep := point["repetitions"].([]any)[0].(map[string]any)
	wantRep := []string{"aggregate_bps", "flows", "index", "seconds", "started", "tunnels"}
	if diff := cmp.Diff(wantRep, keys(rep)); diff != "" {
		t.Errorf("repetition keys (-want +got):\n%s", diff)
	}
	flow := rep["flows"].([]any)[0].(map[string]any)
	wantFlow := []string{
		"attempts", "bps", "bytes", "dst", "error", "flow", "jitter_ms", "log",
		"lost_percent", "port", "retransmits", "sent_bytes", "src", "tunnel",
	}
	if diff := cmp.Diff(wantFlow, keys(flow)); diff != "" {
		t.Errorf("flow keys (-want +got):\n%s", diff)
	}
	if got := m["schema"]; got != float64(SchemaVersion) {
		t.Errorf("schema = %v, want %d", got, SchemaVersion)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
