package facts

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/scenarios"
)

// maxCPU bounds the CPU numbers a list or mask may name, so a corrupt file
// cannot make a reader allocate without limit.
const maxCPU = 8191

// CPUList is a set of CPU numbers in ascending order. In JSON it is a
// kernel-style list string such as "0-15,32"; an array of numbers is read
// too.
type CPUList []int

// ParseList parses a kernel-style CPU list ("0-3,8", as in cpulist and
// *_list files). Blank input is an empty list. The result is sorted and
// free of duplicates.
func ParseList(s string) (CPUList, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out CPUList
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > maxCPU {
			return nil, fmt.Errorf("CPU list %q: bad entry %q", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > maxCPU {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ParseMask parses a kernel CPU mask: hexadecimal words of 32 bits,
// most significant first, separated by commas ("ff,ffffffff", as in
// smp_affinity and rps_cpus). An all-zero mask is an empty list.
func ParseMask(s string) (CPUList, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	words := strings.Split(s, ",")
	if len(words)*32 > maxCPU+1 {
		return nil, fmt.Errorf("CPU mask %q: too many words", s)
	}
	var out CPUList
	for i := len(words) - 1; i >= 0; i-- {
		w, err := strconv.ParseUint(strings.TrimSpace(words[i]), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("CPU mask %q: bad word %q", s, words[i])
		}
		base := (len(words) - 1 - i) * 32
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, base+b)
			w &^= 1 << b
		}
	}
	slices.Sort(out)
	return out, nil
}

// String formats l kernel-style, folding runs into ranges: "0-3,8".
func (l CPUList) String() string { return scenarios.CPUList(l).String() }

// Mask formats l as a kernel CPU mask ("ff,ffffffff"), the form
// smp_affinity and rps_cpus take. An empty list is "0".
func (l CPUList) Mask() string {
	if len(l) == 0 {
		return "0"
	}
	words := make([]uint32, slices.Max(l)/32+1)
	for _, c := range l {
		words[c/32] |= 1 << (c % 32)
	}
	parts := make([]string, 0, len(words))
	for i := len(words) - 1; i >= 0; i-- {
		if i == len(words)-1 {
			parts = append(parts, strconv.FormatUint(uint64(words[i]), 16))
		} else {
			parts = append(parts, fmt.Sprintf("%08x", words[i]))
		}
	}
	return strings.Join(parts, ",")
}

// Contains reports whether c is in l.
func (l CPUList) Contains(c int) bool {
	_, ok := slices.BinarySearch(l, c)
	return ok
}

// Minus returns the CPUs of l that are not in o.
func (l CPUList) Minus(o CPUList) CPUList {
	var out CPUList
	for _, c := range l {
		if !o.Contains(c) {
			out = append(out, c)
		}
	}
	return out
}

// Intersect returns the CPUs in both l and o.
func (l CPUList) Intersect(o CPUList) CPUList {
	var out CPUList
	for _, c := range l {
		if o.Contains(c) {
			out = append(out, c)
		}
	}
	return out
}

// SubsetOf reports whether every CPU of l is in o.
func (l CPUList) SubsetOf(o CPUList) bool { return len(l.Minus(o)) == 0 }

// MarshalJSON writes l as its String.
func (l CPUList) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads a kernel-style list string or an array of numbers.
func (l *CPUList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseList(s)
		if err != nil {
			return err
		}
		*l = v
		return nil
	}
	var a []int
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("CPU list: want a string such as \"0-3,8\" or an array of numbers, got %s", b)
	}
	for _, c := range a {
		if c < 0 || c > maxCPU {
			return fmt.Errorf("CPU list: CPU %d out of range 0..%d", c, maxCPU)
		}
	}
	slices.Sort(a)
	*l = slices.Compact(a)
	return nil
}
