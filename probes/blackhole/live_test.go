package blackhole

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/probes"
)

// spinEnv makes the test binary, re-executed as a child, spin on the core
// it names instead of running tests.
const spinEnv = "WGBENCH_BLACKHOLE_SPIN_CORE"

// spinComm is the spinning thread's name, as the sampler will see it.
const spinComm = "wgbspin"

func TestMain(m *testing.M) {
	if c := os.Getenv(spinEnv); c != "" {
		os.Exit(spin(c))
	}
	os.Exit(m.Run())
}

// spin pins the calling thread to core, raises its priority, names it spinComm, says "ready" on
// stdout and burns CPU until killed (30 s at most, in case the parent died
// without killing it).
func spin(core string) int {
	n, err := strconv.Atoi(core)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spin: bad core:", err)
		return 2
	}
	runtime.LockOSThread()
	if err := cpuset.SetAffinity(0, cpuset.Set{n}); err != nil {
		fmt.Fprintln(os.Stderr, "spin: sched_setaffinity:", err)
		return 2
	}
	// Nice -20 (root) keeps the spinner on top of whatever else runs on
	// the core; without root it spins at the default priority.
	_ = unix.Setpriority(unix.PRIO_PROCESS, 0, -20)
	// Writing the locked thread's comm is prctl(PR_SET_NAME) without unsafe.
	if err := os.WriteFile("/proc/thread-self/comm", []byte(spinComm), 0); err != nil {
		fmt.Fprintln(os.Stderr, "spin: name the thread:", err)
		return 2
	}
	fmt.Println("ready")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
	}
	return 0
}

// startSpinner starts a child spinning on core and returns it once the
// spinning thread runs; t.Cleanup kills it by PID.
func startSpinner(t *testing.T, core int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), spinEnv+"="+strconv.Itoa(core))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start spinner: %v", err)
	}
	t.Cleanup(func() { stopSpinner(cmd) })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("spinner said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("spinner: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spinner not ready after 10 s")
	}
	return cmd
}

func stopSpinner(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// record samples the real /proc for d at the 250 ms.
func record(t *testing.T, d time.Duration) *probes.Trace {
	t.Helper()
	s, err := probes.NewSampler(probes.Options{Host: "local"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out bytes.Buffer
	if err := s.Run(ctx, probes.DefaultInterval, &out); err != nil {
		t.Fatal(err)
	}
	tr, err := probes.ReadTrace(&out)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// meanBusy is a core's mean busy percentage in tr.
func meanBusy(tr *probes.Trace, core int) float64 {
	sum, n := 0.0, 0
	for _, s := range tr.Samples {
		for _, c := range s.Cores {
			if c.Core == core {
				sum += c.Busy
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func findingOn(fs []Finding, core int) *Finding {
	for i := range fs {
		if fs[i].Core == core || slices.Contains(fs[i].Cores, core) {
			return &fs[i]
		}
	}
	return nil
}

// TestIntegrationBusyCore pins a spinning thread to the last core of this
// machine, samples the real /proc for 2 s and expects the detector to name
// that core and the thread; then, the spinner killed, no finding on it.
//
// With 2 cores one saturated core leaves the host at most 50 % idle, so the
// headroom is set to 15 %: the other core may be up to 70 % busy with other
// work and the spinning core is still singled out as a hot core. When other
// work leaves less idle than that, the detector rightly calls the machine
// cpu-bound; the test then checks that finding lists the core and names
// the spinner among the threads.
func TestIntegrationBusyCore(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the real /proc for 4 s")
	}
	ncpu := runtime.NumCPU()
	if ncpu < 2 {
		t.Skip("needs at least 2 cores: one to saturate, one for headroom")
	}
	core := ncpu - 1
	th := DefaultThresholds()
	th.Headroom = 0.15
	namesSpinner := func(st []StageShare) bool {
		return slices.ContainsFunc(st, func(s StageShare) bool { return slices.Contains(s.Threads, spinComm) })
	}

	cmd := startSpinner(t, core)
	loaded := record(t, 2*time.Second)
	stopSpinner(cmd)
	if len(loaded.Samples) < 6 {
		t.Fatalf("%d samples in 2 s at 250 ms", len(loaded.Samples))
	}
	// The sampler sees the spinner, always on its core.
	spinPct := 0.0
	for _, s := range loaded.Samples {
		for _, row := range s.Threads {
			if row.Comm == spinComm {
				spinPct += row.Pct / float64(len(loaded.Samples))
				if row.Core != core || row.PID != cmd.Process.Pid {
					t.Errorf("t=%v: spinner row %+v, want pid %d on core %d", s.T, row, cmd.Process.Pid, core)
				}
			}
		}
	}
	if spinPct < 25 {
		t.Errorf("spinner used %.1f%% of a core on average, want most of one", spinPct)
	}

	fs, err := Detect("local", loaded, th, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("with the spinner: %s", f.Summary)
	}
	f := findingOn(fs, core)
	switch {
	case f == nil:
		t.Fatalf("no finding on the spinning core %d (mean busy %.1f%%)", core, meanBusy(loaded, core))
	case f.Kind == KindCPUBound:
		t.Logf("other work left the host %.0f%% idle: cpu-bound rather than a hot core", f.HostIdle*100)
	case f.Kind != KindHotCore || f.Core != core:
		t.Errorf("finding %s on core %d, want %s on core %d", f.Kind, f.Core, KindHotCore, core)
	}
	if f != nil && !namesSpinner(f.Stages) {
		t.Errorf("finding does not name %q: %s", spinComm, f.Summary)
	}

	idle := record(t, 2*time.Second)
	fs, err = Detect("local", idle, th, DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := findingOn(fs, core); f != nil {
		if namesSpinner(f.Stages) {
			t.Fatalf("after the spinner was killed: %s", f.Summary)
		}
		t.Skipf("core %d is saturated by other work on this machine: %s", core, f.Summary)
	}
}
