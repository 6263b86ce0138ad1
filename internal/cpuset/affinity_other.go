//go:build !linux

package cpuset

import (
	"errors"
	"fmt"
)

// GetAffinity is not supported off Linux.
func GetAffinity(tid int) (Set, error) {
	return nil, fmt.Errorf("sched_getaffinity(%d): %w", tid, errors.ErrUnsupported)
}

// SetAffinity is not supported off Linux.
func SetAffinity(tid int, s Set) error {
	return fmt.Errorf("sched_setaffinity(%d, %s): %w", tid, s, errors.ErrUnsupported)
}
