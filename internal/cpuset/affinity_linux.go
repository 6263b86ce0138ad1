package cpuset

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Affinity is per thread: tid 0 is the calling thread, and a process's
// other threads keep theirs. A goroutine that sets its own affinity should
// hold its thread with runtime.LockOSThread. The masks here are sized for
// CPUs 0..MaxCPU, beyond x/sys/unix's CPUSet (0..1023).

// GetAffinity returns the CPUs thread tid (0: the calling thread) may run
// on, ascending (sched_getaffinity(2)).
func GetAffinity(tid int) (Set, error) {
	var mask [(MaxCPU + 1) / 64]uint64
	n, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask[0])))
	if errno != 0 {
		return nil, fmt.Errorf("sched_getaffinity(%d): %w", tid, errno)
	}
	var out Set
	for c := 0; c < int(n)*8 && c <= MaxCPU; c++ {
		if mask[c/64]&(1<<(c%64)) != 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// SetAffinity restricts thread tid (0: the calling thread) to the CPUs of
// s (sched_setaffinity(2)). CPUs the host lacks are ignored by the kernel
// as long as one of s is usable; s must not be empty and every CPU must be
// in 0..MaxCPU.
func SetAffinity(tid int, s Set) error {
	if len(s) == 0 {
		return fmt.Errorf("sched_setaffinity(%d): no CPUs given", tid)
	}
	top := 0
	for _, c := range s {
		if c < 0 || c > MaxCPU {
			return fmt.Errorf("sched_setaffinity(%d): CPU %d out of range 0..%d", tid, c, MaxCPU)
		}
		top = max(top, c)
	}
	mask := make([]uint64, top/64+1)
	for _, c := range s {
		mask[c/64] |= 1 << (c % 64)
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(tid), uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask[0])))
	if errno != 0 {
		return fmt.Errorf("sched_setaffinity(%d, %s): %w", tid, s, errno)
	}
	return nil
}
