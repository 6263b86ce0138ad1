package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/tuner"
)

// fixtures is the tuner's fixture folder, from this package's directory.
const tunerFixtures = "../../tuner/testdata"

// wgbench runs the built binary and returns its output and exit code.
func wgbench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(testutil.Wgbench(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), exitCode(err)
}

func TestTuneCLI(t *testing.T) {
	machine := filepath.Join(tunerFixtures, "machines", "edge-box")
	run := filepath.Join(tunerFixtures, "runs", "black-hole")
	t.Run("text", func(t *testing.T) {
		out, errOut, code := wgbench(t, "tune", "--root", machine)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, s := range []string{"Warning: host: wg0 MTU 1500 on eth0 MTU 1500", ">>> set wg0's MTU to 1420", "         apply:    ip link set dev wg0 mtu 1420", "OK       host: one NUMA node"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("tunnels' NIC, not the control NIC", func(t *testing.T) {
		out, errOut, code := wgbench(t, "tune", "--root", filepath.Join(tunerFixtures, "machines", "cloudlab-control"))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, s := range []string{"Warning: host: ens2f0np0 sits on NUMA node 1 (CPUs 8-15)", "apply:    echo 8-15 > /proc/irq/",
			"Info:    host: the tunnels' NIC is ens2f0np0 (physical, NUMA node 1), chosen by the route to the WireGuard peers' endpoints"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
		if strings.Contains(out, "eno1 sits on NUMA node") {
			t.Errorf("NUMA advice about the control NIC eno1:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, errOut, code := wgbench(t, "tune", run, "--format", "json")
		var rep tuner.Report
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Suggestions) == 0 || rep.Suggestions[0].ID != "threaded-napi" {
			t.Fatalf("exit %d, report %+v: %s", code, rep.Suggestions, errOut)
		}
	})
	t.Run("scenario", func(t *testing.T) {
		out, errOut, code := wgbench(t, "tune", run, "--format", "scenario")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		sc, err := scenarios.Parse("tuned.yaml", []byte(out), nil)
		if err != nil {
			t.Fatalf("tuned scenario does not parse: %v\n%s", err, out)
		}
		if !slices.ContainsFunc(sc.Series, func(s scenarios.Series) bool { return s.Name == "kernel.threaded-napi" && s.Tuning.ThreadedNAPI }) {
			t.Errorf("no kernel.threaded-napi series in\n%s", out)
		}
	})
	t.Run("script", func(t *testing.T) {
		out, errOut, code := wgbench(t, "tune", run, "--format", "script")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		path := filepath.Join(t.TempDir(), "tune.sh")
		os.WriteFile(path, []byte(out), 0o644)
		if b, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s", err, b)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"tune", "--format", "yaml"},
			{"tune", "a", "b"},
			{"tune", "--verify", "x.yaml", "--format", "script"},
			{"tune", "--set", "repetitions=2"},
			{"tune", "--facts", "gw3=x.json", run},
		} {
			if _, errOut, code := wgbench(t, args...); code != exitUsage || errOut == "" {
				t.Errorf("%q: exit %d (%s), want %d with a message", args, code, errOut, exitUsage)
			}
		}
		if _, errOut, code := wgbench(t, "tune", "--format", "scenario", "--root", machine); code != exitUsage || !strings.Contains(errOut, "--scenario") {
			t.Errorf("scenario without a run: exit %d (%s)", code, errOut)
		}
		if _, errOut, code := wgbench(t, "tune", filepath.Join(t.TempDir(), "nothing")); code != exitError || !strings.Contains(errOut, "run.json") {
			t.Errorf("missing run folder: exit %d (%s)", code, errOut)
		}
	})
}

func TestFactsCLI(t *testing.T) {
	out, errOut, code := wgbench(t, "facts")
	var live facts.Host
	if code != 0 || json.Unmarshal([]byte(out), &live) != nil || live.Cores == 0 {
		t.Fatalf("wgbench facts: exit %d, %s\n%s", code, errOut, out)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	if _, errOut, code := wgbench(t, "facts", "snapshot", dir); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, errOut)
	}
	out, errOut, code = wgbench(t, "facts", "--root", dir)
	var snap facts.Host
	if code != 0 || json.Unmarshal([]byte(out), &snap) != nil {
		t.Fatalf("facts --root: exit %d, %s", code, errOut)
	}
	if snap.Hostname != live.Hostname || snap.Cores != live.Cores || len(snap.Links) != len(live.Links) || !strings.HasPrefix(snap.Source, "snapshot ") {
		t.Errorf("snapshot reads %s/%d cores/%d links (%s), live %s/%d/%d", snap.Hostname, snap.Cores, len(snap.Links), snap.Source, live.Hostname, live.Cores, len(live.Links))
	}
	if _, _, code := wgbench(t, "facts", "snapshot", dir); code == 0 {
		t.Error("snapshot into a non-empty directory succeeded")
	}
	// The facts name the tunnels' NIC and why: on a CloudLab gateway the
	// peers' route, not the control NIC of the default route.
	out, errOut, code = wgbench(t, "facts", "--root", filepath.Join(tunerFixtures, "machines", "cloudlab-control"))
	var cl facts.Host
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil {
		t.Fatalf("facts --root cloudlab-control: exit %d, %s", code, errOut)
	}
	if cl.DefaultRoute != "eno1" || cl.Underlay == nil || cl.Underlay.Link != "ens2f0np0" || cl.Underlay.How != facts.HowEndpoints ||
		!strings.Contains(cl.Underlay.Reason, "10.10.1.1:51820") {
		t.Errorf("cloudlab-control: default route %q, underlay %+v; want ens2f0np0 by the peers' endpoints", cl.DefaultRoute, cl.Underlay)
	}
}

// verifyScenario is a short scenario with a baseline and a variant per
// datapath; the kernel pair is skipped on hosts without WireGuard.
const verifyScenario = `
name: tune-verify
traffic: {duration: 2s, omit: 1s}
sweep: {tunnels: [1], flows: [1]}
repetitions: 2
series:
  - name: wggo
    datapath: wggo
  - name: wggo.pin
    datapath: wggo
    tuning: {pin: true}
  - name: kernel
    datapath: kernel
  - name: kernel.threaded-napi
    datapath: kernel
    tuning: {threaded_napi: true}
`

// TestIntegrationTuneVerify runs `wgbench tune --verify` on the local
// testbed and checks the report's structure (not a gain: two cores shared
// by four hosts say little about one).
func TestIntegrationTuneVerify(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "verify.yaml")
	os.WriteFile(file, []byte(verifyScenario), 0o644)
	out := filepath.Join(dir, "run")
	stdout, stderr, code := wgbench(t, "tune", "--verify", file, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, s := range []string{"wgbench tune --verify", "Verification of scenario tune-verify", "pin (hand-made variant) [wggo → wggo.pin]", "threaded-napi"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "verify.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep tuner.VerifyReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	items := map[string]tuner.Item{}
	for _, it := range rep.Items {
		items[it.Variant] = it
	}
	pin, ok := items["wggo.pin"]
	if !ok || !pin.Measured || pin.Baseline != "wggo" || len(pin.Points) != 1 {
		t.Fatalf("wggo.pin item = %+v; want measured against wggo at one point", pin)
	}
	d := pin.Points[0]
	if d.A != "1 tunnel × 1 flow" || d.SummaryA.N == 0 || d.SummaryB.N == 0 ||
		!slices.Contains([]string{tuner.VerdictBetter, tuner.VerdictWorse, tuner.VerdictUnclear, tuner.VerdictNoSpread}, d.Verdict) {
		t.Errorf("wggo.pin point = %+v", d)
	}
	k, ok := items["kernel.threaded-napi"]
	switch {
	case !ok:
		t.Errorf("no kernel.threaded-napi item in %+v", rep.Items)
	case !k.Measured && (k.Reason == "" || !strings.Contains(stdout, "not measured")):
		t.Errorf("kernel.threaded-napi not measured without a reason: %+v", k)
	}
	if _, err := os.Stat(filepath.Join(out, facts.RunFile("gw2"))); err != nil {
		t.Errorf("the run folder has no full facts of gw2: %v", err)
	}
}
