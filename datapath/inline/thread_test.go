package inline

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// tunnelThreads returns the affinity of this process's threads named name.
func tunnelThreads(t *testing.T, name string) map[int][]int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/comm")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]int{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		cpus, err := cpuset.GetAffinity(tid)
		if err != nil {
			t.Fatalf("affinity of thread %d: %v", tid, err)
		}
		out[tid] = cpus
	}
	return out
}

// TestThreadsNamedAndPinned checks that a pinned tunnel's data threads
// carry the name the CPU probes look for, sit on the tunnel's core, and
// go away with the tunnel.
func TestThreadsNamedAndPinned(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Skip(err)
	}
	core := cpus[len(cpus)-1]
	_, a, b := newInlinePair(t, 8, func(a, b *end) {
		a.cfg.Name, a.cfg.Pinned, a.cfg.CPU = "thrtest0", true, core
	})
	handshake(t, a, b)
	threads := tunnelThreads(t, "inline/thrtest0")
	// TX plus one RX per receive function (memBind has one).
	if len(threads) != 2 {
		t.Fatalf("threads named inline/thrtest0: %v, want 2", threads)
	}
	for tid, set := range threads {
		if len(set) != 1 || set[0] != core {
			t.Errorf("thread %d may run on %v, want [%d]", tid, set, core)
		}
	}
	if got := a.tunnel.Stats().Core; got != core {
		t.Errorf("Stats().Core = %d, want %d", got, core)
	}
	if err := a.tunnel.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the data threads to exit", func() bool { return len(tunnelThreads(t, "inline/thrtest0")) == 0 })
}

func TestThreadName(t *testing.T) {
	tests := map[string]string{"wg0": "inline/wg0", "wgb-abcdef-12": "inline/wgb-abcd"}
	for dev, want := range tests {
		if got := threadName(dev); got != want || len(got) > 15 {
			t.Errorf("threadName(%q) = %q, want %q", dev, got, want)
		}
	}
}
