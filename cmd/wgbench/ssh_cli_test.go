package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cryptossh "golang.org/x/crypto/ssh"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

func TestImportCloudLabCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hosts.yaml")
	manifest := filepath.Join("..", "..", "testbed", "cloudlab", "testdata", "manifest.xml")
	_, errOut, code := wgbench(t, "testbed", "import-cloudlab", manifest, "--user", "bob", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, _ := os.ReadFile(out)
	for _, s := range []string{"user: bob", "sudo: true", "wan: b8:ce:f6:a1:c2:a1", "ssh: sm220u-16.wisc.cloudlab.us:22"} {
		if !strings.Contains(string(data), s) {
			t.Errorf("inventory lacks %q:\n%s", s, data)
		}
	}
	// It does not overwrite without --force, and needs a user among several.
	if _, errOut, code := wgbench(t, "testbed", "import-cloudlab", manifest, "--user", "bob", "-o", out); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("overwrite: exit %d: %s", code, errOut)
	}
	if _, errOut, code := wgbench(t, "testbed", "import-cloudlab", manifest); code == 0 || !strings.Contains(errOut, "--user") {
		t.Errorf("two users: exit %d: %s", code, errOut)
	}
}

// unreachableInventory names hosts on a port nothing listens on.
func unreachableInventory(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.yaml")
	text := "defaults: {key: id, known_hosts: known_hosts}\nhosts:\n" +
		"  source: {ssh: '127.0.0.1:1', lan: eth1}\n  gw1: {ssh: '127.0.0.1:1', lan: eth1, wan: eth2}\n" +
		"  gw2: {ssh: '127.0.0.1:1', lan: eth1, wan: eth2}\n  drain: {ssh: '127.0.0.1:1', lan: eth1}\n"
	os.WriteFile(inv, []byte(text), 0o600)
	os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o600)
	// A throwaway key made for this test.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := cryptossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "id"), pem.EncodeToMemory(block), 0o600)
	return inv
}

func TestTestbedCheckCLI(t *testing.T) {
	inv := unreachableInventory(t)
	out, errOut, code := wgbench(t, "testbed", "check", inv)
	if code != 1 || !strings.Contains(out, "Error: source (127.0.0.1:1): connect") || !strings.Contains(errOut, "not ready") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("hosts:\n  source: {ssh: a}\n"), 0o600)
	if _, errOut, code := wgbench(t, "testbed", "check", bad); code != 1 || !strings.Contains(errOut, "bad.yaml:2:11: hosts.source.lan: missing") {
		t.Errorf("bad inventory: exit %d: %s", code, errOut)
	}
}

func TestRunTestbedFlag(t *testing.T) {
	inv := unreachableInventory(t)
	out := filepath.Join(t.TempDir(), "run")
	scenario := filepath.Join("..", "..", "scenarios", "cloudlab", "fig6-overlap.yaml")
	_, errOut, code := wgbench(t, "run", scenario, "--testbed", inv, "--out", out)
	if code != 1 || !strings.Contains(errOut, "gw2 (127.0.0.1:1): connect") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, run, err := results.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != results.StatusFailed || run.Scenario.Testbed.Driver != "ssh" || run.Scenario.Testbed.Inventory != inv {
		t.Errorf("run.json: status %s, testbed %+v", run.Status, run.Scenario.Testbed)
	}
	// A scenario asking for ssh without its inventory file says so.
	if _, errOut, code := wgbench(t, "run", scenario, "--out", out+"2"); code != 1 || !strings.Contains(errOut, "read inventory") || !strings.Contains(errOut, "hosts.yaml") {
		t.Errorf("missing inventory: exit %d: %s", code, errOut)
	}
}

func TestComparePaperCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	f, err := results.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Load(filepath.Join("..", "..", "scenarios", "cloudlab", "fig7-numa.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{Schema: results.SchemaVersion, Status: results.StatusComplete, Started: time.Now(), Scenario: *sc,
		Testbed: results.TestbedInfo{Driver: "ssh"}}
	for i, s := range []string{"vanilla", "numa-aware", "improved"} {
		run.Series = append(run.Series, results.SeriesStatus{Name: s, Datapath: "kernel"})
		run.Points = append(run.Points, results.Point{Series: s, Datapath: "kernel", Tunnels: 1, FlowsPerTunnel: 1, Complete: true,
			Summary: results.Summary{N: 5, MeanGbps: []float64{5, 6.5, 7.2}[i], CI95Gbps: 0.2}})
	}
	if err := f.Save(run); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wgbench(t, "compare", "--paper", dir)
	t.Logf("compare output:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"fig7", "≥7.0", "improved single tunnel: +45 % over vanilla (Fig. 7b): paper 1.45 (text), run 1.44", "derived", "meets the bound"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if _, errOut, code := wgbench(t, "compare", dir); code != 2 || !strings.Contains(errOut, "--paper") {
		t.Errorf("without --paper: exit %d: %s", code, errOut)
	}
}
