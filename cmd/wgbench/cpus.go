package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/testbed"
)

// confineToCPUs confines this process to the CPUs testbed.CPUsEnv lists,
// if it is set: the SSH driver sets it from the inventory's cores, so
// that the host's work stays on them. CPU affinity is per thread and the
// Go runtime has started threads already, so the variable is removed,
// the affinity set on this thread, and the binary executed again on it:
// the new image's threads, and every process it starts, inherit the
// affinity (and the runtime sizes GOMAXPROCS to it). It returns only
// when there is nothing to do or on error.
func confineToCPUs() error {
	v, ok := os.LookupEnv(testbed.CPUsEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(testbed.CPUsEnv)
	cpus, err := cpuset.Parse(v)
	if err != nil {
		return fmt.Errorf("%s: %w", testbed.CPUsEnv, err)
	}
	if len(cpus) == 0 {
		return nil
	}
	runtime.LockOSThread()
	if err := cpuset.SetAffinity(0, cpus); err != nil {
		runtime.UnlockOSThread()
		online, _ := os.ReadFile("/sys/devices/system/cpu/online")
		return fmt.Errorf("run on CPUs %s (%s, the inventory's cores for this host): %w; this host's online CPUs are %s: fix the host's cores in the inventory",
			v, testbed.CPUsEnv, err, strings.TrimSpace(string(online)))
	}
	err = unix.Exec("/proc/self/exe", os.Args, os.Environ())
	runtime.UnlockOSThread()
	return fmt.Errorf("run again on CPUs %s: execute /proc/self/exe: %w", v, err)
}
