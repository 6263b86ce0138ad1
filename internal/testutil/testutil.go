// Package testutil holds helpers shared by wgbench's integration tests.
package testutil

import (
	"time"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vishvananda/netns"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// RequireRoot skips t when the test is not running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces (CI runs as root)")
	}
}

// Wgbench builds the wgbench binary once per test process and returns its
// path. Integration tests use it for on-host verbs, as a real run does.
func Wgbench(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		// One fixed place per checkout, rebuilt by every test process, so
		// nothing accumulates in the temporary directory and two checkouts
		// testing at once never run each other's binary.
		sum := sha256.Sum256([]byte(filepath.Clean(root)))
		dir := filepath.Join(os.TempDir(), "wgbench-test-bin", hex.EncodeToString(sum[:6]))
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		buildPath = filepath.Join(dir, "wgbench")
		tmp := buildPath + "." + strconv.Itoa(os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/wgbench")
		cmd.Dir = root
		if buildOut, buildErr = cmd.CombinedOutput(); buildErr == nil {
			buildErr = os.Rename(tmp, buildPath) // atomic for parallel packages
		}
	})
	if buildErr != nil {
		t.Fatalf("build wgbench: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

// InNetns calls fn on a fresh goroutine locked to an OS thread that has
// entered the network namespace bound at path (/run/netns/NAME), and
// returns fn's error. The thread is never unlocked, so the runtime
// discards it when the goroutine exits; the caller's thread is not moved.
func InNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", path, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// CPUTime returns the user+system CPU time this process has used, for
// benchmarks that report CPU per operation beside wall time.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
