package facts

import "github.com/wgbench/wgbench/internal/cpuset"

// CPUList is a set of CPU numbers as the kernel lists them, ascending. In
// JSON it is a list string such as "0-15,32"; an array of numbers is read
// too. It is a cpuset.Set: lists are read with cpuset.Parse, masks with
// cpuset.ParseMask.
type CPUList = cpuset.Set
