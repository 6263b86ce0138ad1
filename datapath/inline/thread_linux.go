package inline

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
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
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
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

// AllowedCPUs returns the cores the process may run on.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}
