package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/results"
)

// saveRun writes a two-series run whose repetitions carry gbps × scale.
func saveRun(t *testing.T, dir string, scale float64) {
	t.Helper()
	f, err := results.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{Schema: results.SchemaVersion, Status: results.StatusComplete, Started: time.Now(), Testbed: results.TestbedInfo{Driver: "local"}}
	run.Scenario.Name = "multi-tunnel"
	reps := map[string][]float64{"wggo": {0.70, 0.74, 0.72}, "inline": {1.80, 1.90, 1.85}}
	for _, s := range []string{"wggo", "inline"} {
		run.Series = append(run.Series, results.SeriesStatus{Name: s, Datapath: "wggo"})
		for _, tn := range []int{1, 2} {
			p := results.Point{Series: s, Datapath: "wggo", Tunnels: tn, FlowsPerTunnel: 1, Complete: true}
			for i, g := range reps[s] {
				p.Repetitions = append(p.Repetitions, results.Repetition{Index: i, AggregateBps: g * 1e9 * scale, Seconds: 3})
			}
			p.Resummarize()
			run.Points = append(run.Points, p)
		}
	}
	if err := f.Save(run); err != nil {
		t.Fatal(err)
	}
}

func TestCompareRunsCLI(t *testing.T) {
	tmp := t.TempDir()
	a, half := filepath.Join(tmp, "a"), filepath.Join(tmp, "half")
	saveRun(t, a, 1)
	saveRun(t, half, 0.5)

	t.Run("a run against itself passes", func(t *testing.T) {
		out, errOut, code := wgbench(t, "compare", a, a)
		if code != 0 {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		for _, s := range []string{"PASS", "(4 compared)", "+0.000", "same"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
		if _, err := os.Stat(filepath.Join(a, "plots", "compare-runs.png")); err != nil {
			t.Errorf("no overlay figure: %v", err)
		}
	})
	t.Run("halved throughput fails", func(t *testing.T) {
		out, errOut, code := wgbench(t, "compare", a, half, "--tolerance", "5%")
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s%s", code, out, errOut)
		}
		if n := strings.Count(out, "SLOWER"); n != 4 {
			t.Errorf("%d points SLOWER, want 4:\n%s", n, out)
		}
		if !strings.Contains(out, "-50.0%") || !strings.Contains(errOut, "regression: 4 of 4 points") {
			t.Errorf("output lacks the change or the error:\n%s%s", out, errOut)
		}
	})
	t.Run("a tolerance above the loss passes", func(t *testing.T) {
		if out, errOut, code := wgbench(t, "compare", a, half, "--tolerance", "60%", "--figure", "-"); code != 0 {
			t.Errorf("exit %d with 60 %% tolerance:\n%s%s", code, out, errOut)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, _, code := wgbench(t, "compare", a, half, "--format", "json", "--figure", filepath.Join(tmp, "overlay.svg"))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		var c runComparison
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("json: %v\n%s", err, out)
		}
		if c.Slower != 4 || len(c.Points) != 4 || c.Points[0].CI95 == nil || c.Points[0].Relative > -0.49 || c.Tolerance != 0.05 {
			t.Errorf("json comparison %+v", c)
		}
		if _, err := os.Stat(filepath.Join(tmp, "overlay.svg")); err != nil {
			t.Errorf("no overlay figure where --figure said: %v", err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"compare", a}, {"compare", a, half, "--tolerance", "lots"}, {"compare", a, half, "--format", "xml"}} {
			if _, errOut, code := wgbench(t, args...); code != 2 {
				t.Errorf("%v: exit %d, want 2: %s", args, code, errOut)
			}
		}
	})
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "5": 0.05, "0.05": 0.05, "0": 0, "12.5%": 0.125} {
		if got, err := parseTolerance(in); err != nil || got != want {
			t.Errorf("parseTolerance(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1%"} {
		if _, err := parseTolerance(in); err == nil {
			t.Errorf("parseTolerance(%q): no error", in)
		}
	}
}
