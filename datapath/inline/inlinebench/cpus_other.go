//go:build !linux

package inlinebench

import "errors"

// allowedCPUs is not supported off Linux: nothing is pinned there.
func allowedCPUs() ([]int, error) {
	return nil, errors.New("CPU affinity is only supported on Linux")
}
