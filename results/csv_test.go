package results

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWritePointsCSV(t *testing.T) {
	points := []Point{
		{
			Series: `wg "go", pinned`, Datapath: "wggo", Tunnels: 2, FlowsPerTunnel: 3,
			Repetitions: []Repetition{{AggregateBps: 1}, {Error: "x"}},
			Summary:     Summary{N: 1, MeanGbps: 9.412345678901, StddevGbps: 0, CI95Gbps: 0, MinGbps: 0.001, MaxGbps: 1e-7},
			Cost:        &PointCost{CyclesPerByte: 12.5, CyclesPerPacket: 17100, GWCores: 1.75},
		},
		{
			Series: "lat", Datapath: "inline", Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 64, MTU: 1280,
			Repetitions: []Repetition{
				{AggregateBps: 1e9, LossPct: 0.1, Latency: &RepLatency{Idle: &LatencyStats{P50Ms: 0.2}, Loaded: &LatencyStats{P50Ms: 1, P90Ms: 2, P99Ms: 3, MaxMs: 4, LossPct: 1}}},
				{AggregateBps: 1e9, Latency: &RepLatency{Idle: &LatencyStats{P50Ms: 0.4}, Loaded: &LatencyStats{P50Ms: 3, P90Ms: 4, P99Ms: 5, MaxMs: 9, LossPct: 0}}},
				{Error: "failed", Latency: &RepLatency{Loaded: &LatencyStats{P50Ms: 100, MaxMs: 100}}},
			},
			Summary: Summary{N: 2, MeanGbps: 1, MinGbps: 1, MaxGbps: 1},
		},
	}
	var buf bytes.Buffer
	if err := WritePointsCSV(&buf, points); err != nil {
		t.Fatal(err)
	}
	want := "series,datapath,tunnels,flows_per_tunnel,flows,repetitions,ok,mean_gbps,stddev_gbps,ci95_gbps,min_gbps,max_gbps,cycles_per_byte,cycles_per_packet,gw_cores," +
		"rtt_idle_p50_ms,rtt_p50_ms,rtt_p90_ms,rtt_p99_ms,rtt_max_ms,rtt_loss_pct,packet_size,mpps,loss_pct,mtu\n" +
		`"wg ""go"", pinned",wggo,2,3,6,2,1,9.412345678901,0,0,0.001,0.0000001,12.5,17100,1.75,0,0,0,0,0,0,0,0,0,0` + "\n" +
		// The failed repetition's probe is left out.
		"lat,inline,1,1,1,3,2,1,0,0,1,1,0,0,0,0.30000000000000004,2,3,4,9,0.5,64,3.472222222222222,0.05,1280\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("points.csv (-want +got):\n%s", diff)
	}

	rows, err := ReadPointsCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []CSVRow{{
		Series: `wg "go", pinned`, Datapath: "wggo", Tunnels: 2, FlowsPerTunnel: 3, Flows: 6,
		Repetitions: 2, OK: 1, MeanGbps: 9.412345678901, MinGbps: 0.001, MaxGbps: 1e-7,
		CyclesPerByte: 12.5, CyclesPerPacket: 17100, GWCores: 1.75,
	}, {
		Series: "lat", Datapath: "inline", Tunnels: 1, FlowsPerTunnel: 1, Flows: 1,
		Repetitions: 3, OK: 2, MeanGbps: 1, MinGbps: 1, MaxGbps: 1,
		RTTIdleP50Ms: 0.30000000000000004, RTTP50Ms: 2, RTTP90Ms: 3, RTTP99Ms: 4, RTTMaxMs: 9, RTTLossPct: 0.5,
		PacketSize: 64, Mpps: 3.472222222222222, LossPct: 0.05, MTU: 1280,
	}}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("rows read back (-want +got):\n%s", diff)
	}
}

func TestReadPointsCSVErrors(t *testing.T) {
	const head = "series,datapath,tunnels,flows_per_tunnel,flows,repetitions,ok,mean_gbps,stddev_gbps,ci95_gbps,min_gbps,max_gbps,cycles_per_byte,cycles_per_packet,gw_cores\n"
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: "empty"},
		{name: "other header", in: "series,tunnels,mean\n", want: "line 1"},
		{name: "renamed column", in: strings.Replace(head, "ok", "good", 1), want: "header"},
		{name: "short row", in: head + "a,kernel,1\n", want: "line 2"},
		{name: "bad integer", in: head + "a,kernel,1,1,1,3,3,1,0,0,1,1,0,0,0\nb,kernel,two,1,1,3,3,1,0,0,1,1,0,0,0\n", want: "line 3: column tunnels"},
		{name: "bad number", in: head + "a,kernel,1,1,1,3,3,1,0,0,1,fast,0,0,0\n", want: "line 2: column max_gbps"},
		{name: "bad cost", in: head + "a,kernel,1,1,1,3,3,1,0,0,1,1,cheap,0,0\n", want: "line 2: column cycles_per_byte"},
		{name: "legacy row with cost columns missing", in: head + "a,kernel,1,1,1,3,3,1,0,0,1,1\n", want: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := ReadPointsCSV(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadPointsCSV = %v, want an error", rows)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestReadPointsCSVHeaderOnly(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePointsCSV(&buf, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadPointsCSV(&buf)
	if err != nil || len(rows) != 0 {
		t.Errorf("ReadPointsCSV(header only) = %v, %v; want no rows and no error", rows, err)
	}
}

func TestReadPointsCSVLegacy(t *testing.T) {
	in := "series,datapath,tunnels,flows_per_tunnel,flows,repetitions,ok,mean_gbps,stddev_gbps,ci95_gbps,min_gbps,max_gbps\n" +
		"a,kernel,1,1,1,3,3,2.5,0,0,1,1\n"
	rows, err := ReadPointsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatalf("a points.csv from before the cost columns: %v", err)
	}
	if len(rows) != 1 || rows[0].MeanGbps != 2.5 || rows[0].CyclesPerByte != 0 {
		t.Errorf("rows = %+v, want one row of 2.5 Gbit/s without cost", rows)
	}
}
