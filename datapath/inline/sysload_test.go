package inline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/probes/procfs"
)

// writeStat writes a fake /proc/stat under root with per-core (total,
// idle) ticks: user holds the busy ticks, idle the idle ones.
func writeStat(t *testing.T, root string, cores [][2]uint64) {
	t.Helper()
	var b strings.Builder
	b.WriteString("cpu  0 0 0 0 0 0 0 0 0 0\n")
	for i, c := range cores {
		fmt.Fprintf(&b, "cpu%d %d 0 0 %d 0 0 0 0 0 0\n", i, c[0]-c[1], c[1])
	}
	b.WriteString("intr 0\n")
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSysMeter feeds the meter a fake /proc/stat: it reports nothing
// until it has looked back sysMinSpan windows, then each core's busy
// share over about sysSpan windows, and nothing for a core it does not
// know or counters that went back.
func TestSysMeter(t *testing.T) {
	root := t.TempDir()
	m := &sysMeter{r: procfs.New(root)}
	t.Cleanup(func() { _ = m.r.Close() })
	t0 := time.Unix(1000, 0)
	// Core 0 is busy 30 % of every window, core 1 idle, core 2 fully busy
	// from window 6 on; a window is 2 ticks here.
	ticks := func(w int) [][2]uint64 {
		c2 := [2]uint64{uint64(2 * w), 0}
		if w < 6 {
			c2[1] = uint64(2 * w)
		} else {
			c2[1] = 12
		}
		return [][2]uint64{{uint64(20 * w), uint64(14 * w)}, {uint64(2 * w), uint64(2 * w)}, c2}
	}
	for w := range 12 {
		writeStat(t, root, ticks(w))
		now := t0.Add(time.Duration(w) * hybridWindow)
		busy0, since, ok := m.busy(0, now)
		if w < sysMinSpan {
			if ok {
				t.Fatalf("window %d: reports %.2f with %d windows of history", w, busy0, w)
			}
			continue
		}
		if !ok || math.Abs(busy0-0.3) > 1e-9 {
			t.Fatalf("window %d: core 0 busy %.3f (ok %t), want 0.30", w, busy0, ok)
		}
		span := now.Sub(since) / hybridWindow
		if want := min(w, sysSpan); int(span) != want {
			t.Errorf("window %d: measured over %d windows, want %d", w, span, want)
		}
		if b, _, ok := m.busy(1, now); !ok || b != 0 {
			t.Errorf("window %d: idle core 1 reads %.2f (ok %t)", w, b, ok)
		}
		if b, _, _ := m.busy(2, now); w >= 6+sysSpan && b != 1 {
			t.Errorf("window %d: core 2, busy for %d windows, reads %.2f", w, w-6, b)
		}
	}
	now := t0.Add(11 * hybridWindow)
	if _, _, ok := m.busy(7, now); ok {
		t.Error("core 7, which /proc/stat does not list, reads as known")
	}
	writeStat(t, root, ticks(1)) // counters back at window 1
	if _, _, ok := m.busy(0, now.Add(hybridWindow)); ok {
		t.Error("counters that went back read as known")
	}
	bad := &sysMeter{r: procfs.New(t.TempDir())}
	if _, _, ok := bad.busy(0, now); ok || !bad.off {
		t.Error("a meter without /proc/stat reads as known, or stays on")
	}
}

// TestSysMeterReal reads this machine's /proc/stat while a thread spins
// on one core: that core reads busy, whatever else runs.
func TestSysMeterReal(t *testing.T) {
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpus[len(cpus)-1]
	m := &sysMeter{r: procfs.New("")}
	t.Cleanup(func() { _ = m.r.Close() })
	stop := make(chan struct{})
	spun := make(chan error)
	go func() {
		if err := lockThread("sysmeter-spin", cpu); err != nil {
			spun <- err
			return
		}
		spun <- nil
		for {
			select {
			case <-stop:
				spun <- nil
				return
			default:
			}
		}
	}()
	if err := <-spun; err != nil {
		t.Fatal(err)
	}
	defer func() { close(stop); <-spun }()
	var busy float64
	ok := false
	for w := range 2 * sysSpan {
		time.Sleep(hybridWindow)
		busy, _, ok = m.busy(cpu, time.Now())
		if w < sysMinSpan-1 && ok {
			t.Fatalf("reports after %d windows", w+1)
		}
	}
	if !ok || busy < 0.8 {
		t.Fatalf("core %d, spinning, reads busy %.2f (ok %t), want ≥ 0.8", cpu, busy, ok)
	}
}

// TestHybridSysLoad drives a hybrid tunnel's controller with a core that
// is busy with work the board does not see (another process, softirq):
// the tunnel does not borrow it, borrows it once it idles, keeps it
// while what keeps it busy is its own helper, and gives it back when
// something else needs it.
func TestHybridSysLoad(t *testing.T) {
	cpus := twoCPUs(t)
	_, a, _ := newInlinePair(t, 8, func(a, _ *end) { hybridEnd(a, cpus) })
	h := a.tunnel.hyb
	injectLoads(h)
	var other float64 // the other core's busy share, by /proc/stat
	setSys(h, func(cpu int, now time.Time) (float64, time.Time, bool) {
		if cpu != cpus[1] {
			t.Errorf("asked about core %d, want %d", cpu, cpus[1])
		}
		return other, now.Add(-sysSpan * hybridWindow), true
	})
	now := time.Now()
	hp := h.helpers[0]
	step := func(helperShare float64) time.Time {
		d := hybridMinDwell
		now = now.Add(d)
		hp.ns.Add(int64(helperShare * float64(d)))
		return now
	}
	saturate := func(helperShare float64, n int) {
		for range n {
			injectLoad(h, 0.97, 0.9, step(helperShare))
		}
	}
	other = 0.6 // iperf3 on the other core
	saturate(0, 3*hybridUpWindows)
	if h.hybrid() {
		t.Fatal("borrowed a core /proc/stat says is 60 % busy")
	}
	other = 0.1
	saturate(0, hybridUpWindows)
	if !h.hybrid() {
		t.Fatal("did not borrow a core /proc/stat says is 10 % busy")
	}
	// The core is 95 % busy, 85 % of it the tunnel's own helper: kept.
	other = 0.95
	saturate(0.85, 5)
	if !h.hybrid() {
		t.Fatal("gave back a core busy with its own helper")
	}
	// 95 % busy, the helper only 30 %: something else needs the core.
	saturate(0.3, 1)
	if h.hybrid() {
		t.Fatal("kept a core something else keeps 65 % busy")
	}
	if st := a.tunnel.Stats(); st.ModeChanges != 2 {
		t.Errorf("%d mode changes, want 2 (up, down)", st.ModeChanges)
	}
}

// TestSysMeterCheck checks that the meter says why it cannot work, and
// where, before a hybrid tunnel relies on it.
func TestSysMeterCheck(t *testing.T) {
	root := t.TempDir()
	m := &sysMeter{r: procfs.New(root)}
	t.Cleanup(func() { _ = m.r.Close() })
	if err := m.check(); err == nil || !strings.Contains(err.Error(), root) {
		t.Errorf("check without a stat file: %v, want an error naming %s", err, root)
	}
	writeStat(t, root, [][2]uint64{{10, 5}})
	if err := m.check(); err != nil {
		t.Errorf("check with a stat file: %v", err)
	}
}
