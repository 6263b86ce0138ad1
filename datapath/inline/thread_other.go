//go:build !linux

package inline

import (
	"errors"
	"runtime"
)

// lockThread locks the goroutine to its thread; naming and pinning are
// Linux-only.
func lockThread(string, int) error {
	runtime.LockOSThread()
	return nil
}

// allowedCPUs is not supported off Linux.
func allowedCPUs() ([]int, error) {
	return nil, errors.New("CPU affinity is only supported on Linux")
}
