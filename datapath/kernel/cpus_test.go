package kernel

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"", nil, ""},
		{"0", []int{0}, ""},
		{"0-3,8", []int{0, 1, 2, 3, 8}, ""},
		{"8,0-1", []int{8, 0, 1}, ""},
		{" 1 , 2 \n", []int{1, 2}, ""},
		{"3-1", nil, "range 3-1 runs backwards"},
		{"1,1", nil, "listed twice"},
		{"-1", nil, "cannot be negative"},
		{"a", nil, "not a CPU number"},
		{"4096", nil, "CPU 4096 is out of range 0..4095"},
	}
	for _, tt := range tests {
		got, err := ParseCPUList(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseCPUList(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCPUFormats(t *testing.T) {
	tests := []struct {
		cpus       []int
		list, mask string
	}{
		{nil, "", "0"},
		{[]int{0}, "0", "1"},
		{[]int{1, 0}, "0-1", "3"},
		{[]int{0, 1, 2, 3, 8}, "0-3,8", "10f"},
		{[]int{31}, "31", "80000000"},
		{[]int{0, 40}, "0,40", "100,00000001"},
		{[]int{64}, "64", "1,00000000,00000000"},
	}
	for _, tt := range tests {
		if got := FormatCPUList(tt.cpus); got != tt.list {
			t.Errorf("FormatCPUList(%v) = %q, want %q", tt.cpus, got, tt.list)
		}
		if got := FormatCPUMask(tt.cpus); got != tt.mask {
			t.Errorf("FormatCPUMask(%v) = %q, want %q", tt.cpus, got, tt.mask)
		}
		back, err := ParseCPUMask(tt.mask)
		want, _ := ParseCPUList(tt.list)
		if err != nil || !cmp.Equal(back, want, cmpEmpty) {
			t.Errorf("ParseCPUMask(%q) = %v, %v; want %v", tt.mask, back, err, want)
		}
	}
	// The kernel pads its masks; those parse too.
	if got, err := ParseCPUMask("00000000,00000003"); err != nil || !cmp.Equal(got, []int{0, 1}) {
		t.Errorf("ParseCPUMask of a padded mask = %v, %v", got, err)
	}
	if _, err := ParseCPUMask("xyz"); err == nil {
		t.Error("ParseCPUMask(xyz) succeeded")
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Comparer(func(a, b []int) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal([]int(a), []int(b))
})
