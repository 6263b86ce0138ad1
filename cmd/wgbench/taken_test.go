package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/testbed/local"
)

// TestIntegrationRunTagTaken: `wgbench run --tag T` while a namespace of
// tag T exists that wgbench did not make fails at once with an error
// naming it and saying what to do, and leaves that namespace and its
// process alone.
func TestIntegrationRunTagTaken(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(sc, []byte(tinyScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("%04x", (os.Getpid()+0x5a5)&0xffff)
	if l := leftovers(tag); len(l) > 0 {
		t.Skipf("tag %s in use: %v", tag, l)
	}
	ns := local.NamespaceName(tag, "gw2")
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "300")
	t.Cleanup(func() {
		if sleeper.Process != nil {
			sleeper.Process.Kill()
			sleeper.Wait()
		}
		exec.Command("ip", "netns", "delete", ns).Run()
	})
	var before syscall.Stat_t
	if err := syscall.Stat(filepath.Join(local.NetnsDir, ns), &before); err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid), &st) == nil && st.Ino == before.Ino {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sleep did not enter the namespace")
		}
	}

	runDir := filepath.Join(dir, "run")
	cmd, out := runCLI(t, bin, "run", sc, "--out", runDir, "--tag", tag)
	err := waitTimeout(t, cmd, 30*time.Second)
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	want := fmt.Sprintf("wgbench: local testbed: namespace %s already exists: no wgbench run owns it, but processes run in it: %d (sleep). "+
		"If it is a leftover of wgbench, remove it with `wgbench testbed clean`; if something else made it, run with another --tag (or none: a free one is picked)",
		ns, sleeper.Process.Pid)
	if !strings.Contains(out.String(), want) {
		t.Errorf("output:\n%s\nwant it to contain\n%s", out, want)
	}
	_, run, err := results.Open(runDir)
	if err != nil || run.Status != results.StatusFailed || !strings.Contains(run.Error, ns+" already exists") || len(run.Points) != 0 {
		t.Errorf("run folder: %v; want status failed naming %s and no points", err, ns)
	}

	// Untouched: the same namespace, its process alive, nothing else made.
	var after syscall.Stat_t
	if err := syscall.Stat(filepath.Join(local.NetnsDir, ns), &after); err != nil || after.Ino != before.Ino {
		t.Errorf("namespace %s replaced or removed: %v", ns, err)
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sleeper.Process.Pid)); err != nil || strings.Contains(string(stat), ") Z ") {
		t.Errorf("the process in %s was stopped: %v %s", ns, err, stat)
	}
	for _, l := range leftovers(tag) {
		if l != filepath.Join(local.NetnsDir, ns) {
			t.Errorf("left behind: %s", l)
		}
	}
}
