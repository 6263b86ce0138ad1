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

// AllowedCPUs is not supported off Linux.
func AllowedCPUs() ([]int, error) {
	return nil, errors.New("CPU affinity is only supported on Linux")
}
