package plots

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// latencyRun is a run with a latency probe at 1 and 2 tunnels and a
// packet size sweep, its probe samples written under dir.
func latencyRun(t *testing.T, dir string) *results.Run {
	t.Helper()
	write := func(rel, body string) string {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return rel
	}
	idle := write("raw/a/idle.json", `{"probe":"udp","sent":3,"received":3,"rtt_ms":[0.1,0.2,0.3]}`)
	loaded := write("raw/a/loaded.json", `{"probe":"udp","sent":3,"received":2,"rtt_ms":[2,4]}`)
	rep := func(idleP50, p50 float64) results.Repetition {
		return results.Repetition{AggregateBps: 1e9, Latency: &results.RepLatency{
			Idle: &results.LatencyStats{P50Ms: idleP50}, Loaded: &results.LatencyStats{P50Ms: p50},
			IdleLog: idle, LoadedLog: loaded}}
	}
	tol := 0.5
	r := &results.Run{Scenario: scenarios.Scenario{Name: "lat", Traffic: scenarios.Traffic{Rate: scenarios.Rate{Search: true}, LossTolerance: &tol}}}
	for _, pt := range []results.Point{
		{Series: "a", Tunnels: 1, FlowsPerTunnel: 1, Repetitions: []results.Repetition{rep(0.2, 3)}},
		{Series: "a", Tunnels: 2, FlowsPerTunnel: 1, Repetitions: []results.Repetition{rep(0.2, 6)}},
		{Series: "b", Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 64, Repetitions: []results.Repetition{{AggregateBps: 0.1e9}}},
		{Series: "b", Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 1420, Repetitions: []results.Repetition{{AggregateBps: 1e9}}},
		{Series: "c", Tunnels: 1, FlowsPerTunnel: 1, MTU: 1280, Repetitions: []results.Repetition{{AggregateBps: 0.2e9, LossPct: 26}}},
		{Series: "c", Tunnels: 1, FlowsPerTunnel: 1, MTU: 1500, Repetitions: []results.Repetition{{AggregateBps: 0.3e9, LossPct: 0.1}}},
	} {
		pt.Resummarize()
		r.Points = append(r.Points, pt)
	}
	return r
}

func TestLatencyFigures(t *testing.T) {
	dir := t.TempDir()
	r := latencyRun(t, dir)
	runs := []*results.Run{r}
	if _, err := LatencyCDF(runs, []string{dir}, Options{}); err != nil {
		t.Errorf("LatencyCDF: %v", err)
	}
	if _, err := LatencyCDF(runs, []string{""}, Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("LatencyCDF without the run folder: %v, want ErrNoData", err)
	}
	if _, err := RTTTunnels(runs, Options{}); err != nil {
		t.Errorf("RTTTunnels: %v", err)
	}
	for _, m := range []string{"gbps", "mpps"} {
		p, err := PacketSize(runs, m, Options{})
		if err != nil {
			t.Fatalf("PacketSize %s: %v", m, err)
		}
		if !strings.Contains(p.Title.Text, "loss ≤ 0.5 %") {
			t.Errorf("title %q does not state the loss tolerance", p.Title.Text)
		}
	}
	for _, m := range []string{"gbps", "loss"} {
		p, err := MTU(runs, m, Options{})
		if err != nil {
			t.Fatalf("MTU %s: %v", m, err)
		}
		if !strings.Contains(p.Title.Text, "against MTU") || !strings.Contains(p.X.Label.Text, "MTU") {
			t.Errorf("MTU figure titled %q, x axis %q", p.Title.Text, p.X.Label.Text)
		}
	}
	if _, err := MTU(runs, "rtt", Options{}); err == nil {
		t.Error("MTU with an unknown metric: no error")
	}
	// Without a probe or a size sweep there is nothing to draw.
	plain := &results.Run{Points: []results.Point{{Series: "x", Tunnels: 1, Repetitions: []results.Repetition{{AggregateBps: 1}}}}}
	if _, err := RTTTunnels([]*results.Run{plain}, Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("RTTTunnels without a probe: %v", err)
	}
	if _, err := PacketSize([]*results.Run{plain}, "gbps", Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("PacketSize without sizes: %v", err)
	}
	if _, err := MTU([]*results.Run{plain}, "gbps", Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("MTU without an MTU sweep: %v", err)
	}
	paths, err := WriteAll(dir, runs, Options{Formats: []string{"png"}, CPUFigures: CPUNone})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	for _, want := range []string{"latency-cdf.png", "rtt-tunnels.png", "packet-size-gbps.png", "packet-size-mpps.png", "mtu-gbps.png", "mtu-loss.png"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("WriteAll wrote %v, no %s", names, want)
		}
	}
	if strings.Contains(strings.Join(names, " "), "compare-") {
		t.Errorf("WriteAll drew a comparison at one tunnel × flow of a run that sweeps sizes and MTUs: %v", names)
	}
}

func TestCDFXY(t *testing.T) {
	xy := cdfXY([]float64{3, 1, 2, 4})
	if xy[0].X != 1 || xy[0].Y != 0.25 || xy[3].X != 4 || xy[3].Y != 1 {
		t.Errorf("cdfXY = %v", xy)
	}
}
