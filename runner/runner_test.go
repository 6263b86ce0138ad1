package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed/local"
)

const smallScenario = `
name: spine-test
traffic:
  duration: 2s
  omit: 0s
sweep:
  tunnels: [1, 2]
repetitions: 2
series:
  - datapath: plain
  - datapath: wggo
  - name: kernel
    datapath: kernel
`

func TestIntegrationRunSmallScenario(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	sc, err := scenarios.Parse("spine-test.yaml", []byte(smallScenario), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	var out strings.Builder
	run, err := runner.Run(context.Background(), runner.Options{Scenario: sc, Dir: dir, Binary: bin, Progress: progress.New(&out, false)})
	t.Logf("progress:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if run.Status != results.StatusComplete {
		t.Errorf("status %q, want complete", run.Status)
	}

	// The kernel series cannot run on a kernel without WireGuard: it is
	// reported with its reason, not dropped. Where the module exists it runs.
	_, modErr := os.Stat("/sys/module/wireguard")
	wantPoints := 4
	if ks := run.Series[2]; modErr != nil {
		if ks.Skipped == "" || !strings.Contains(ks.Skipped, "WireGuard") {
			t.Errorf("kernel series: skipped = %q, want a reason naming WireGuard", ks.Skipped)
		}
	} else {
		wantPoints = 6
	}
	if len(run.Points) != wantPoints {
		t.Fatalf("%d points, want %d", len(run.Points), wantPoints)
	}

	for _, p := range run.Points[:4] {
		if !p.Complete || len(p.Repetitions) != 2 || p.Summary.N != 2 {
			t.Errorf("%s/%d tunnels: complete=%v reps=%d n=%d, want 2 complete repetitions", p.Series, p.Tunnels, p.Complete, len(p.Repetitions), p.Summary.N)
		}
		for _, rp := range p.Repetitions {
			if !rp.OK() || len(rp.Flows) != p.Tunnels {
				t.Errorf("%s/%d tunnels rep %d: error %q, %d flows", p.Series, p.Tunnels, rp.Index, rp.Error, len(rp.Flows))
				continue
			}
			for _, f := range rp.Flows {
				if f.Bytes == 0 || f.Bps <= 0 {
					t.Errorf("%s/%d tunnels rep %d flow %d/%d moved no data: %+v", p.Series, p.Tunnels, rp.Index, f.Tunnel, f.Index, f)
				}
			}
			if c := rp.Cost; c == nil || c.CyclesPerByte <= 0 || c.GWCores <= 0 || c.Method != results.ByThread || len(c.Stages) != len(results.CostStages) {
				t.Errorf("%s/%d tunnels rep %d: cost %+v, want cycles per byte and gateway cores by thread, split in %d stages", p.Series, p.Tunnels, rp.Index, c, len(results.CostStages))
			}
			if p.Datapath != scenarios.WireGuardGo {
				continue
			}
			// Proof that flow i went through tunnel i: each tunnel's
			// counters grew by about the bytes its own flow carried (plus
			// TCP/IP and WireGuard headers, and the ACKs back).
			if len(rp.Tunnels) != p.Tunnels {
				t.Fatalf("wggo rep %d: %d tunnel counters, want %d", rp.Index, len(rp.Tunnels), p.Tunnels)
			}
			for _, f := range rp.Flows {
				tc := rp.Tunnels[f.Tunnel]
				for name, got := range map[string]uint64{"gw1 tx": tc.GW1TxBytes, "gw2 rx": tc.GW2RxBytes} {
					ratio := float64(got) / float64(f.Bytes)
					if ratio < 1.0 || ratio > 1.25 {
						t.Errorf("wggo %d tunnels rep %d: tunnel %d %s = %d bytes for a flow of %d bytes (ratio %.3f, want 1.0..1.25)",
							p.Tunnels, rp.Index, f.Tunnel, name, got, f.Bytes, ratio)
					}
				}
			}
		}
	}

	// points.csv: one row per series × point, matching run.json.
	fh, err := os.Open(filepath.Join(dir, "points.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := results.ReadPointsCSV(fh)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(run.Points) {
		t.Fatalf("points.csv has %d rows, want %d", len(rows), len(run.Points))
	}
	if run.Clock == nil || run.Clock.Hz <= 0 || run.Clock.Source == "" {
		t.Errorf("run.json clock = %+v, want a frequency and its source", run.Clock)
	}
	for i, row := range rows[:4] {
		if row.CyclesPerByte <= 0 || row.CyclesPerPacket <= row.CyclesPerByte || row.GWCores <= 0 {
			t.Errorf("points.csv row %d: cycles_per_byte %g, cycles_per_packet %g, gw_cores %g; want them measured", i, row.CyclesPerByte, row.CyclesPerPacket, row.GWCores)
		}
	}
	for i, row := range rows {
		p := run.Points[i]
		if row.Series != p.Series || row.Tunnels != p.Tunnels || row.Repetitions != 2 || row.OK != 2 || row.MeanGbps <= 0 {
			t.Errorf("points.csv row %d = %+v, want %s/%d tunnels with 2 ok repetitions", i, row, p.Series, p.Tunnels)
		}
	}
	// The folder on disk says the same as the returned run.
	if _, stored, err := results.Open(dir); err != nil || stored.Status != results.StatusComplete || len(stored.Points) != len(run.Points) {
		t.Errorf("stored run: %v, status %q, %d points", err, stored.Status, len(stored.Points))
	}

	assertNothingLeft(t, run.Testbed.Tag)
}

// assertNothingLeft checks that a run's namespaces, state, control sockets
// and child processes are gone.
func assertNothingLeft(t *testing.T, tag string) {
	t.Helper()
	if tag == "" {
		t.Fatal("run recorded no testbed tag")
	}
	for _, pat := range []string{
		filepath.Join(local.NetnsDir, local.Prefix+tag+"-*"),
		filepath.Join(local.StateDir, tag),
		filepath.Join("/run/wireguard", "wg"+tag+"-*"),
	} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
	}
	if kids := children(os.Getpid()); len(kids) > 0 {
		t.Errorf("child processes left running: %v", kids)
	}
}

// children lists the live (non-zombie) children of pid.
func children(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, e.Name()+" "+s[:i+1])
		}
	}
	return out
}
