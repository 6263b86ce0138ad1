package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/datapath/inline/inlinebench"
)

// benchCLI runs wgbench in this process and returns its output.
func benchCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	root := newRoot(&o, &e)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return o.String(), e.String(), err
}

// TestBenchDatapathCLI runs the table for a few milliseconds a case: a
// row per case with positive numbers, and a verdict per goal. It asserts
// nothing about speed.
func TestBenchDatapathCLI(t *testing.T) {
	out, errOut, err := benchCLI(t, "bench", "datapath", "--duration", "30ms")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	cores := inlinebench.AvailableCores([]int{1, 2})
	rows := map[string][]string{}
	var goals int
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 8 && (f[2] == "aead-bound" || f[2] == "wireguard-go" || f[2] == "inline" || f[2] == "hybrid"):
			rows[strings.Join(f[:3], " ")] = f
		case len(f) >= 6 && (strings.HasPrefix(f[0], "inline") || strings.HasPrefix(f[0], "hybrid")) && (f[len(f)-1] == "met" || f[len(f)-1] == "missed"):
			goals++
		}
	}
	var want []string
	for _, size := range []int{1420, 64} {
		want = append(want, fmt.Sprintf("%d 1 aead-bound", size))
		for _, c := range cores {
			want = append(want, fmt.Sprintf("%d %d wireguard-go", size, c), fmt.Sprintf("%d %d inline", size, c), fmt.Sprintf("%d %d hybrid", size, c))
		}
	}
	wantGoals := 3 // on 1 core: 1420 B vs the AEAD bound and wireguard-go, 64 B vs the bound
	if len(cores) > 1 {
		wantGoals += 4 // per size, 2 cores vs 1, and hybrid vs inline
	}
	if len(rows) != len(want) || goals != wantGoals {
		t.Errorf("%d rows and %d goal rows, want %d and %d:\n%s", len(rows), goals, len(want), wantGoals, out)
	}
	for _, w := range want {
		f, ok := rows[w]
		if !ok {
			t.Errorf("no row %q:\n%s", w, out)
			continue
		}
		for i, name := range []string{"pkts/s", "Gbit/s", "busy cores", "Gbit/s/core"} {
			if v, err := strconv.ParseFloat(f[3+i], 64); err != nil || v <= 0 {
				t.Errorf("row %q: %s is %q, want a positive number", w, name, f[3+i])
			}
		}
	}
	if !strings.Contains(errOut, fmt.Sprintf("[%d/%d]", len(want), len(want))) {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
}

func TestBenchDatapathJSON(t *testing.T) {
	out, errOut, err := benchCLI(t, "bench", "datapath", "--duration", "20ms", "--sizes", "64", "--cores", "1", "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rep.Results) != 4 || len(rep.Goals) != 1 || rep.Goals[0].Metric != inlinebench.VsAEAD || rep.Goals[0].Value <= 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Size != 64 || r.Cores != 1 || r.PacketsPerSec <= 0 || r.Gbps <= 0 {
			t.Errorf("result %+v", r)
		}
	}
}

// TestBenchDatapathTX runs the transmit-side table briefly: its rows and
// the hybrid goal on 2 cores.
func TestBenchDatapathTX(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace.csv")
	out, errOut, err := benchCLI(t, "bench", "datapath", "--direction", "tx", "--sizes", "1420", "--duration", "30ms", "--mode-trace", trace)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	checkModeTrace(t, trace)
	cores := inlinebench.AvailableCores([]int{1, 2})
	for _, c := range cores {
		for _, impl := range []string{"wireguard-go", "inline", "hybrid"} {
			if !strings.Contains(out, fmt.Sprintf("1420  %d      %s", c, impl)) {
				t.Errorf("no row %d %s:\n%s", c, impl, out)
			}
		}
	}
	if strings.Contains(out, "aead-bound") {
		t.Errorf("an AEAD row in the tx table:\n%s", out)
	}
	if len(cores) > 1 && !strings.Contains(out, "hybrid/inline-tx") {
		t.Errorf("no hybrid goal:\n%s", out)
	}
}

func TestBenchDatapathUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--sizes", "10"},
		{"--sizes", "2000"},
		{"--cores", "0"},
		{"--cores", "100000"},
		{"--duration", "0s"},
		{"--format", "csv"},
		{"--direction", "rx"},
		{"extra"},
	} {
		_, _, err := benchCLI(t, append([]string{"bench", "datapath"}, args...)...)
		var ue usageError
		if !errors.As(err, &ue) && !strings.Contains(fmt.Sprint(err), "unknown command") && !strings.Contains(fmt.Sprint(err), "accepts 0 arg") {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// checkModeTrace reads a --mode-trace file: hybrid cases only, windows in
// time order per case, loads that are shares of cores, and no borrowing
// on one core (there is no other core to borrow).
func checkModeTrace(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("mode trace: %v", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != strings.Join(modeTraceHeader, ",") {
		t.Fatalf("mode trace: %d rows, header %q", len(rows), rows[0])
	}
	last := map[string]int{}
	for _, r := range rows[1:] {
		key := strings.Join(r[:4], " ")
		ms, err := strconv.Atoi(r[4])
		busy, berr := strconv.ParseFloat(r[6], 64)
		switch {
		case r[0] != "hybrid":
			t.Errorf("mode trace row of a %s case: %q", r[0], r)
		case err != nil || ms < last[key]:
			t.Errorf("mode trace row out of time order: %q", r)
		case berr != nil || busy < 0 || busy > 3:
			t.Errorf("mode trace home_busy %q is no share of cores", r[6])
		case r[5] != "inline" && r[5] != "hybrid":
			t.Errorf("mode trace mode %q", r[5])
		case r[2] == "1" && (r[5] != "inline" || r[10] != ""):
			t.Errorf("a 1-core case borrowed or saw another core: %q", r)
		}
		last[key] = ms
	}
}
