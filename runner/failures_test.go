package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed/local"
)

// lineWatch calls fn for every line written to it.
type lineWatch struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.fn(strings.TrimSpace(line))
	}
}

// pidsOf finds the run's processes whose command line has all of words.
func pidsOf(tag string, words ...string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if !bytes.Contains(env, []byte(local.RunEnv+"="+tag+"\x00")) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		line := strings.ReplaceAll(string(cmd), "\x00", " ")
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestIntegrationProcessFailures kills the datapath on gw1 after the first
// repetition of the first point and an iperf3 server during the second
// point: each failure is recorded with its reason, and the run goes on and
// completes.
func TestIntegrationProcessFailures(t *testing.T) {
	testutil.RequireRoot(t)
	sc, err := scenarios.Parse("failures.yaml", []byte(`
name: failures
traffic: {duration: 2s, omit: 0s}
sweep: {tunnels: [1, 2]}
repetitions: 3
series:
  - datapath: wggo
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("%04x", (os.Getpid()+1)&0xffff)
	var once1, once2 sync.Once
	killed := map[string]int{}
	var mu sync.Mutex
	w := &lineWatch{fn: func(line string) {
		switch {
		case strings.Contains(line, "tunnels=1") && strings.Contains(line, "rep 1/3:"):
			once1.Do(func() {
				for _, pid := range pidsOf(tag, "datapath", "up", "/gw1/") {
					syscall.Kill(pid, syscall.SIGKILL)
					mu.Lock()
					killed["datapath"]++
					mu.Unlock()
				}
			})
		case strings.Contains(line, "tunnels=2") && strings.Contains(line, "rep 1/3:"):
			once2.Do(func() {
				go func() {
					// Into the second repetition's traffic.
					time.Sleep(700 * time.Millisecond)
					// "iperf3 -s " as one word: a bare "-s" also matches
					// the source namespace's name (wgb-TAG-source) in the
					// command line of a client still in its __nsexec
					// trampoline.
					for _, pid := range pidsOf(tag, "iperf3 -s ", "-p 5202 ") {
						syscall.Kill(pid, syscall.SIGKILL)
						mu.Lock()
						killed["iperf3"]++
						mu.Unlock()
					}
				}()
			})
		}
	}}
	var out bytes.Buffer
	run, err := Run(context.Background(), Options{Scenario: sc, Dir: filepath.Join(t.TempDir(), "run"), Binary: testutil.Wgbench(t), Tag: tag,
		Progress: progress.New(ioTee{w, &out}, false)})
	t.Logf("progress:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if killed["datapath"] != 1 || killed["iperf3"] != 1 {
		t.Fatalf("killed %v; want one datapath and one iperf3 server", killed)
	}
	if len(run.Points) != 2 {
		t.Fatalf("%d points, want 2", len(run.Points))
	}
	p1, p2 := run.Points[0], run.Points[1]
	if p1.Complete || len(p1.Repetitions) != 2 || !p1.Repetitions[0].OK() || !strings.Contains(p1.Repetitions[1].Error, "datapath process on gw1 died") {
		t.Errorf("point 1: complete=%v, %d repetitions %+v; want rep 1 kept, rep 2 failed naming the dead datapath, point incomplete", p1.Complete, len(p1.Repetitions), p1.Repetitions)
	}
	if !p2.Complete || len(p2.Repetitions) != 3 || !p2.Repetitions[0].OK() {
		t.Fatalf("point 2: complete=%v with %d repetitions; want all 3 attempted, the first ok", p2.Complete, len(p2.Repetitions))
	}
	f := p2.Repetitions[1].Flows[1]
	if f.Error == "" || f.Attempts != 2 {
		t.Errorf("flow of the killed server: error %q after %d attempts; want a recorded failure after a retry", f.Error, f.Attempts)
	}
	if p2.Repetitions[1].Flows[0].Error != "" {
		t.Errorf("the other flow failed too: %s", p2.Repetitions[1].Flows[0].Error)
	}
	if l := tagLeftovers(tag); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// ioTee writes to both writers.
type ioTee struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t ioTee) Write(p []byte) (int, error) { t.a.Write(p); return t.b.Write(p) }
