package kernel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/scenarios"
)

// ParseCPUList parses a kernel-style CPU list such as "0-3,8" (the format
// of /sys/devices/system/cpu/online and of the --*-cpus flags) with the
// scenarios' rules: the order is kept, each CPU appears once, in
// 0..cpuset.MaxCPU; an empty string is an empty list.
func ParseCPUList(s string) ([]int, error) {
	l, err := cpuset.Parse(s)
	return []int(l), err
}

// FormatCPUList writes cpus sorted, in the kernel's list format: [3 0 1 2 8]
// is "0-3,8".
func FormatCPUList(cpus []int) string {
	l := slices.Clone(cpus)
	slices.Sort(l)
	return scenarios.CPUList(slices.Compact(l)).String()
}

// FormatCPUMask writes cpus as the kernel's hexadecimal bitmap: 32-bit
// words separated by commas, most significant first, the first without
// leading zeros ([0 1] is "3", [0 40] is "100,00000001"). An empty list
// is "0".
func FormatCPUMask(cpus []int) string {
	top := -1
	for _, c := range cpus {
		top = max(top, c)
	}
	if top < 0 {
		return "0"
	}
	words := make([]uint32, top/32+1)
	for _, c := range cpus {
		words[c/32] |= 1 << (c % 32)
	}
	var b strings.Builder
	for i := len(words) - 1; i >= 0; i-- {
		if i == len(words)-1 {
			fmt.Fprintf(&b, "%x", words[i])
		} else {
			fmt.Fprintf(&b, ",%08x", words[i])
		}
	}
	return b.String()
}

// ParseCPUMask reads a kernel hexadecimal bitmap as FormatCPUMask writes
// it (leading zero words and zero padding allowed) into a sorted CPU list.
func ParseCPUMask(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("CPU mask: empty")
	}
	words := strings.Split(s, ",")
	var cpus []int
	for i, w := range words {
		v, err := strconv.ParseUint(w, 16, 32)
		if err != nil {
			return nil, fmt.Errorf("CPU mask %q: word %q is not 32-bit hexadecimal", s, w)
		}
		base := (len(words) - 1 - i) * 32
		for bit := 0; bit < 32; bit++ {
			if v&(1<<bit) != 0 {
				cpus = append(cpus, base+bit)
			}
		}
	}
	slices.Sort(cpus)
	return cpus, nil
}
