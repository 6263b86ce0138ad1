// Package cpuset is wgbench's one notion of a set of CPUs: the kernel's
// list form ("0-3,8", as in /sys/devices/system/cpu/online and the
// --*-cpus flags), its hexadecimal mask form ("ff,00000001", as in
// smp_affinity and rps_cpus), and a thread's CPU affinity
// (sched_getaffinity/sched_setaffinity, Linux only).
//
// Empty input: blank text (empty or only white space) is the empty set,
// in both forms, without error. The kernel writes an empty list as an
// empty line (/sys/devices/system/cpu/isolated) and an empty mask as "0";
// both read back as the empty set. Formatting the empty set gives "" as a
// list and "0" as a mask, the forms the kernel accepts.
package cpuset

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxCPU is the highest CPU number a Set read from text may hold. Whether
// a host has that CPU is for the host to say.
const MaxCPU = 4095

// Set is a set of CPU numbers. Parse keeps the order the list was written
// in, since a scenario's order can matter (tunnels take CPUs in turn);
// ParseMask and GetAffinity give ascending order; Sorted sorts. A Set read
// from text holds each CPU once, each in 0..MaxCPU.
//
// In JSON a Set is its list form ("0-3,8"); an array of numbers is read too.
type Set []int

// Parse parses a list such as "0-3,8": numbers and ascending ranges
// separated by commas, white space around them allowed, each CPU at most
// once, each in 0..MaxCPU. The order is kept ("8,0-3" is 8, 0, 1, 2, 3).
// Blank input is the empty set (nil).
func Parse(s string) (Set, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%q is not a CPU list: %s; write e.g. 0-3,8 or [0, 1, 2, 3, 8]", s, why)
	}
	var out Set
	var seen [MaxCPU + 1]bool
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if isRange && strings.TrimSpace(lo) == "" {
			return nil, bad("CPU numbers cannot be negative")
		}
		a, err := parseCPU(lo)
		if err != nil {
			return nil, bad(err.Error())
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, bad(err.Error())
			}
			if b < a {
				return nil, bad(fmt.Sprintf("range %s runs backwards", part))
			}
		}
		for c := a; c <= b; c++ {
			if seen[c] {
				return nil, bad(fmt.Sprintf("CPU %d is listed twice", c))
			}
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// parseCPU parses one CPU number of a list.
func parseCPU(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty entry")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	if n < 0 || n > MaxCPU {
		return 0, fmt.Errorf("CPU %d is out of range 0..%d", n, MaxCPU)
	}
	return n, nil
}

// ParseMask parses a hexadecimal mask: 32-bit words, most significant
// first, separated by commas, each with or without leading zeros ("3",
// "ff,00000001", "00000000,00000003"). The result is ascending. Blank
// input is the empty set (nil), as is an all-zero mask.
func ParseMask(s string) (Set, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	words := strings.Split(strings.TrimSpace(s), ",")
	if len(words)*32 > MaxCPU+1 {
		return nil, fmt.Errorf("CPU mask %q: %d words, more than CPUs 0..%d need", s, len(words), MaxCPU)
	}
	var out Set
	for i := len(words) - 1; i >= 0; i-- {
		w, err := strconv.ParseUint(strings.TrimSpace(words[i]), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("CPU mask %q: word %q is not 32-bit hexadecimal", s, words[i])
		}
		base := (len(words) - 1 - i) * 32
		for bit := 0; bit < 32; bit++ {
			if w&(1<<bit) != 0 {
				out = append(out, base+bit)
			}
		}
	}
	return out, nil
}

// String formats s in list form, folding ascending runs into ranges:
// [0 1 2 3 8] is "0-3,8", [8 0 1] is "8,0-1". Parse reads it back to the
// same Set. The empty set is "".
func (s Set) String() string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}

// Words names s's CPUs for a sentence, one by one in s's order: "core 3"
// for one, "cores 0,1,2" for more (no ranges). The empty set is "cores ".
func (s Set) Words() string {
	n := make([]string, len(s))
	for i, c := range s {
		n[i] = strconv.Itoa(c)
	}
	if len(n) == 1 {
		return "core " + n[0]
	}
	return "cores " + strings.Join(n, ",")
}

// Mask formats s as a hexadecimal mask: 32-bit words separated by commas,
// most significant first, the first without leading zeros ([0 1] is "3",
// [0 40] is "100,00000001"). The empty set is "0". Negative numbers, which
// no parsed Set holds, are left out.
func (s Set) Mask() string {
	top := -1
	for _, c := range s {
		top = max(top, c)
	}
	if top < 0 {
		return "0"
	}
	words := make([]uint32, top/32+1)
	for _, c := range s {
		if c >= 0 {
			words[c/32] |= 1 << (c % 32)
		}
	}
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(words[len(words)-1]), 16))
	for i := len(words) - 2; i >= 0; i-- {
		fmt.Fprintf(&b, ",%08x", words[i])
	}
	return b.String()
}

// Sorted returns s ascending with each CPU once, as a new Set (nil when s
// is empty).
func (s Set) Sorted() Set {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// Contains reports whether c is in s.
func (s Set) Contains(c int) bool { return slices.Contains(s, c) }

// Minus returns the CPUs of s that are not in o, in the order of s.
func (s Set) Minus(o Set) Set {
	in := o.index()
	var out Set
	for _, c := range s {
		if !in[c] {
			out = append(out, c)
		}
	}
	return out
}

// Intersect returns the CPUs of s that are also in o, in the order of s.
func (s Set) Intersect(o Set) Set {
	in := o.index()
	var out Set
	for _, c := range s {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}

// SubsetOf reports whether every CPU of s is in o.
func (s Set) SubsetOf(o Set) bool { return len(s.Minus(o)) == 0 }

// index returns s as a lookup table.
func (s Set) index() map[int]bool {
	in := make(map[int]bool, len(s))
	for _, c := range s {
		in[c] = true
	}
	return in
}

// MarshalJSON writes s in list form, as String does.
func (s Set) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a list string (as Parse does) or an array of
// numbers, each in 0..MaxCPU; an array is sorted and each CPU kept once.
func (s *Set) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := Parse(str)
		if err != nil {
			return err
		}
		*s = v
		return nil
	}
	var a []int
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("CPU list: want a string such as \"0-3,8\" or an array of numbers, got %s", b)
	}
	for _, c := range a {
		if c < 0 || c > MaxCPU {
			return fmt.Errorf("CPU list: CPU %d out of range 0..%d", c, MaxCPU)
		}
	}
	*s = Set(a).Sorted()
	return nil
}
