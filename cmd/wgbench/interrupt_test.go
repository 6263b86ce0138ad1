package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/testbed/local"
)

// tinyScenario runs in about four seconds: two points of one repetition.
const tinyScenario = `
name: interrupt
traffic: {duration: 1s, omit: 0s}
sweep: {tunnels: [1, 2]}
repetitions: 1
series:
  - datapath: wggo
`

// runCLI starts `wgbench run` with a fixed tag and returns the command.
func runCLI(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitTimeout waits for cmd, killing it after d.
func waitTimeout(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not end within %s", cmd.Args, d)
		return nil
	}
}

// leftovers lists what a run tagged tag left on this machine: namespaces,
// state, links in this namespace, and processes carrying its tag.
func leftovers(tag string) []string {
	var out []string
	for _, pat := range []string{
		filepath.Join(local.NetnsDir, local.Prefix+tag+"-*"),
		filepath.Join(local.StateDir, tag),
		filepath.Join("/sys/class/net", "wg"+tag+"*"),
	} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(local.RunEnv+"="+tag+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue // a zombie holds nothing
			}
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, "process "+e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// checkKept asserts that a stopped run folder keeps only complete points
// with all their repetitions.
func checkKept(t *testing.T, dir string, wantStatus string) {
	t.Helper()
	_, run, err := results.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return // stopped before the folder was written
	}
	if err != nil {
		t.Fatalf("stored run: %v", err)
	}
	if wantStatus != "" && run.Status != wantStatus && run.Status != results.StatusComplete {
		t.Errorf("status %q, want %q", run.Status, wantStatus)
	}
	for _, p := range run.Points {
		if p.Complete && (len(p.Repetitions) != 1 || !p.Repetitions[0].OK()) {
			t.Errorf("complete point %s/%d lost its repetition: %+v", p.Series, p.Tunnels, p.Repetitions)
		}
	}
}

// resumeAndCheck resumes the run in dir and checks it completes.
func resumeAndCheck(t *testing.T, bin, dir, tag string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, results.RunFile)); err != nil {
		return
	}
	_, run, _ := results.Open(dir)
	if run != nil && run.Status == results.StatusComplete {
		return
	}
	cmd, out := runCLI(t, bin, "run", "--resume", dir, "--tag", tag)
	if err := waitTimeout(t, cmd, 60*time.Second); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	_, run, err := results.Open(dir)
	if err != nil || run.Status != results.StatusComplete || len(run.Points) != 2 {
		t.Fatalf("after resume: %v, status %q, %d points; want complete with 2\n%s", err, run.Status, len(run.Points), out)
	}
	for _, p := range run.Points {
		if !p.Complete || p.Summary.N != 1 {
			t.Errorf("after resume: point %d tunnels incomplete: %+v", p.Tunnels, p.Summary)
		}
	}
	if l := leftovers(tag); len(l) > 0 {
		t.Errorf("resume left behind: %v", l)
	}
}

// TestIntegrationInterrupts sends SIGINT to `wgbench run` at 20 moments
// spread over a whole run — provisioning, tunnel set-up, traffic,
// sampling, writing — and checks that nothing is left, that the folder
// keeps what was measured and that --resume completes it. Then the same
// with SIGKILL followed by `wgbench testbed clean`.
func TestIntegrationInterrupts(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("long: 20 interrupted runs")
	}
	bin := testutil.Wgbench(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(sc, []byte(tinyScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("%04x", os.Getpid()&0xffff)

	// How long an uninterrupted run takes.
	start := time.Now()
	cmd, out := runCLI(t, bin, "run", sc, "--out", filepath.Join(dir, "full"), "--tag", tag)
	if err := waitTimeout(t, cmd, 60*time.Second); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	total := time.Since(start)
	t.Logf("an uninterrupted run takes %s", total.Round(time.Millisecond))

	const moments = 20
	interrupted := 0
	for i := 0; i < moments; i++ {
		at := time.Duration(float64(total) * (float64(i) + 0.5) / moments)
		t.Run(fmt.Sprintf("SIGINT@%s", at.Round(10*time.Millisecond)), func(t *testing.T) {
			runDir := filepath.Join(dir, fmt.Sprintf("int%d", i))
			cmd, out := runCLI(t, bin, "run", sc, "--out", runDir, "--tag", tag)
			time.Sleep(at)
			cmd.Process.Signal(syscall.SIGINT)
			err := waitTimeout(t, cmd, 30*time.Second)
			switch code := exitCode(err); code {
			case 130:
				interrupted++
			case 0: // finished before the signal
			default:
				t.Fatalf("exit %d, want 130 (interrupted) or 0\n%s", code, out)
			}
			if l := leftovers(tag); len(l) > 0 {
				t.Fatalf("left behind after SIGINT at %s: %v\n%s", at, l, out)
			}
			checkKept(t, runDir, results.StatusInterrupted)
			resumeAndCheck(t, bin, runDir, tag)
		})
	}
	t.Logf("%d of %d SIGINT runs were interrupted (the others had finished); each left 0 namespaces, links, processes or state, kept its complete points and resumed to completion", interrupted, moments)
	if interrupted < moments/2 {
		t.Errorf("only %d of %d runs were interrupted; the moments miss the run", interrupted, moments)
	}

	for i, frac := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		at := time.Duration(float64(total) * frac)
		t.Run(fmt.Sprintf("SIGKILL@%s", at.Round(10*time.Millisecond)), func(t *testing.T) {
			runDir := filepath.Join(dir, fmt.Sprintf("kill%d", i))
			cmd, out := runCLI(t, bin, "run", sc, "--out", runDir, "--tag", tag)
			time.Sleep(at)
			cmd.Process.Signal(syscall.SIGKILL)
			waitTimeout(t, cmd, 10*time.Second)
			clean := exec.Command(bin, "testbed", "clean")
			if b, err := clean.CombinedOutput(); err != nil {
				t.Fatalf("testbed clean: %v\n%s", err, b)
			}
			// Orphans die with their parent (SIGTERM); give them a moment.
			deadline := time.Now().Add(5 * time.Second)
			for len(leftovers(tag)) > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if l := leftovers(tag); len(l) > 0 {
				t.Fatalf("left behind after SIGKILL and clean: %v\n%s", l, out)
			}
			checkKept(t, runDir, "")
			resumeAndCheck(t, bin, runDir, tag)
		})
	}
}
