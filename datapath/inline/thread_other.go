//go:build !linux

package inline

import (
	"errors"
	"runtime"
	"time"
)

// lockThread locks the goroutine to its thread; naming and pinning are
// Linux-only.
func lockThread(string, int) error {
	runtime.LockOSThread()
	return nil
}

// threadCPUTime is not measured off Linux.
func threadCPUTime() time.Duration { return 0 }

// AllowedCPUs is not supported off Linux.
func AllowedCPUs() ([]int, error) {
	return nil, errors.New("CPU affinity is only supported on Linux")
}
