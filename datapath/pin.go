package datapath

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// pinProcess restricts every thread of this process, and so every thread
// it starts later, to cpus.
func pinProcess(cpus []int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := cpuset.SetAffinity(tid, cpus); err != nil {
			return fmt.Errorf("pin thread %d to CPUs %v: %w (does the host have them?)", tid, cpus, err)
		}
	}
	return nil
}
