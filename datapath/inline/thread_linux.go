package inline

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// lockThread locks the calling goroutine to its OS thread for good, names
// the thread and, when cpu >= 0, pins it to that core. The goroutine must
// never unlock: when it ends, the runtime discards the thread, so its name
// and affinity do not leak to other goroutines.
func lockThread(name string, cpu int) error {
	runtime.LockOSThread()
	if err := setThreadName(name); err != nil {
		return err
	}
	if cpu < 0 {
		return nil
	}
	if err := cpuset.SetAffinity(0, cpuset.Set{cpu}); err != nil {
		return fmt.Errorf("pin thread %s to CPU %d: %w", name, cpu, err)
	}
	return nil
}

// setThreadName sets the calling thread's comm (at most 15 bytes).
func setThreadName(name string) error {
	var b [16]byte
	copy(b[:15], name)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); err != nil {
		return fmt.Errorf("name thread %s: %w", name, err)
	}
	return nil
}

// threadCPUTime is the CPU time the calling thread has used; 0 when it
// cannot be read.
func threadCPUTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// AllowedCPUs returns the cores the calling thread may run on, ascending.
func AllowedCPUs() ([]int, error) {
	cpus, err := cpuset.GetAffinity(0)
	if err != nil {
		return nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	return cpus, nil
}
