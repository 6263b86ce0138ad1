package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestIntegrationJournalAfterKill runs the real `wgbench datapath up
// --engine kernel` in a namespace, SIGKILLs it once it is ready (so it
// cannot clean up), checks that its links and knobs outlive it, and that
// `wgbench agent undo` puts everything back from its journal. It needs
// the wgbench binary on PATH, as in the QEMU guest of `make test-kernel`.
func TestIntegrationJournalAfterKill(t *testing.T) {
	requireWireGuard(t)
	bin, err := exec.LookPath("wgbench")
	if err != nil {
		t.Skip("needs the wgbench binary on PATH; `make test-kernel` runs this test in its QEMU guest, which has it")
	}
	p := newPair(t)
	cfgA, _ := p.configs(t, 2)
	dir := t.TempDir()
	nsPath := "/run/netns/wgbka" + p.sfx
	journal := filepath.Join(dir, "datapath-kernel.journal")
	args := []string{"__nsexec", nsPath, dir, bin, "datapath", "up", "--engine", "kernel",
		"--threaded-napi", "--napi-cpus", "1", "--rps-cpus", "1", "--wan-dev", p.vethA, "--journal", journal}
	for _, c := range cfgA {
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.Name+".conf")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	rps := "/sys/class/net/" + p.vethA + "/queues/rx-0/rps_cpus"
	rpsBefore, err := p.hostA.Files.Read(rps)
	if err != nil {
		t.Fatal(err)
	}
	h := netlinkIn(t, p)
	links := func() (n int) {
		for _, c := range cfgA {
			if _, err := h.LinkByName(c.Name); err == nil {
				n++
			}
		}
		return n
	}

	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("datapath exited before ready: %s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("datapath not ready after 60 s: %s", stderr.String())
	}
	undo := func(extra ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"__nsexec", nsPath, dir, bin, "agent", "undo", "--journal", journal}, extra...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := undo(); err == nil || !strings.Contains(out, "is still running") {
		t.Fatalf("undo while the datapath runs: %v\n%s; want a refusal", err, out)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Killed, it could not clean up: its links and knobs are still there.
	if n := links(); n != len(cfgA) {
		t.Fatalf("%d of %d links outlived the kill; the test needs them to", n, len(cfgA))
	}
	if v, _ := p.hostA.Files.Read(rps); !maskIs(v, []int{1}) {
		t.Fatalf("rps_cpus = %q after the kill, want CPU 1 still set", v)
	}
	out, err := undo()
	if err != nil {
		t.Fatalf("wgbench agent undo: %v\n%s", err, out)
	}
	t.Logf("wgbench agent undo:\n%s", out)
	for _, want := range []string{"rps_cpus: " + rps + " back to", "link " + cfgA[0].Name + " deleted", "threaded_napi"} {
		if !strings.Contains(out, want) {
			t.Errorf("undo output lacks %q", want)
		}
	}
	if n := links(); n != 0 {
		t.Errorf("%d links left after the undo", n)
	}
	if v, _ := p.hostA.Files.Read(rps); v != rpsBefore {
		t.Errorf("rps_cpus = %q after the undo, want %q", v, rpsBefore)
	}
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left after the undo: %v", err)
	}
	if out, err := undo("--if-exists"); err != nil || out != "" {
		t.Errorf("undo --if-exists without a journal: %v, %q; want quiet success", err, out)
	}
}

// netlinkIn returns a netlink handle in p's namespace a.
func netlinkIn(t *testing.T, p *pair) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(p.a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}
