package cpuset

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Set
		str     string
		wantErr string
	}{
		{in: "", want: nil, str: ""},
		{in: " \n", want: nil, str: ""},
		{in: "3", want: Set{3}, str: "3"},
		{in: "0-3,8", want: Set{0, 1, 2, 3, 8}, str: "0-3,8"},
		{in: "0,1,2", want: Set{0, 1, 2}, str: "0-2"},
		{in: "8,0-1", want: Set{8, 0, 1}, str: "8,0-1"},
		{in: " 1 - 2 , 5 \n", want: Set{1, 2, 5}, str: "1-2,5"},
		{in: "4095", want: Set{4095}, str: "4095"},
		{in: "3-1", wantErr: "range 3-1 runs backwards"},
		{in: "1,1", wantErr: "CPU 1 is listed twice"},
		{in: "0-3,2", wantErr: "CPU 2 is listed twice"},
		{in: "4096", wantErr: "CPU 4096 is out of range 0..4095"},
		{in: "0-100000", wantErr: "out of range"},
		{in: "99999", wantErr: "out of range"},
		{in: "-1", wantErr: "cannot be negative"},
		{in: "1-", wantErr: "empty entry"},
		{in: "a", wantErr: `"a" is not a CPU number`},
		{in: "1,,2", wantErr: "empty entry"},
		{in: "0x1", wantErr: "not a CPU number"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("%v.String() = %q, want %q", []int(got), got.String(), tt.str)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		set  Set
		mask string
	}{
		{nil, "0"},
		{Set{0}, "1"},
		{Set{1, 0}, "3"},
		{Set{0, 1, 2, 3, 8}, "10f"},
		{Set{16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}, "ffff0000"},
		{Set{31}, "80000000"},
		{Set{0, 32}, "1,00000001"},
		{Set{0, 40}, "100,00000001"},
		{Set{64}, "1,00000000,00000000"},
		{Set{4095}, "80000000" + strings.Repeat(",00000000", 127)},
	}
	for _, tt := range tests {
		if got := tt.set.Mask(); got != tt.mask {
			t.Errorf("%v.Mask() = %q, want %q", tt.set, got, tt.mask)
		}
		back, err := ParseMask(tt.mask)
		if err != nil || !slices.Equal(back, tt.set.Sorted()) {
			t.Errorf("ParseMask(%q) = %v, %v; want %v", tt.mask, back, err, tt.set.Sorted())
		}
	}
}

func TestParseMask(t *testing.T) {
	tests := []struct {
		in      string
		want    Set
		wantErr string
	}{
		{in: "", want: nil},
		{in: "\n", want: nil},
		{in: "0", want: nil},
		{in: "00000000,00000000", want: nil},
		{in: "00000000,00000003\n", want: Set{0, 1}},
		{in: "ff,00000001", want: Set{0, 32, 33, 34, 35, 36, 37, 38, 39}},
		{in: "FF", want: Set{0, 1, 2, 3, 4, 5, 6, 7}},
		{in: "1, 1", want: Set{0, 32}},
		{in: "xyz", wantErr: `word "xyz" is not 32-bit hexadecimal`},
		{in: "1,,2", wantErr: "not 32-bit hexadecimal"},
		{in: "100000000", wantErr: "not 32-bit hexadecimal"},
		{in: "0x3", wantErr: "not 32-bit hexadecimal"},
		{in: "-1", wantErr: "not 32-bit hexadecimal"},
		{in: strings.Repeat("0,", 128) + "1", wantErr: "129 words"},
	}
	for _, tt := range tests {
		got, err := ParseMask(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMask(%.30q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseMask(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSetOps(t *testing.T) {
	a, b := Set{8, 0, 1, 2, 3}, Set{2, 3, 4}
	tests := []struct {
		name      string
		got, want Set
	}{
		{"Minus", a.Minus(b), Set{8, 0, 1}},
		{"Intersect", a.Intersect(b), Set{2, 3}},
		{"Intersect empty", a.Intersect(nil), nil},
		{"Minus empty", a.Minus(nil), a},
		{"Sorted", Set{3, 1, 1, 2}.Sorted(), Set{1, 2, 3}},
		{"Sorted nil", Set{}.Sorted(), nil},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	for _, tt := range []struct {
		got, want bool
		what      string
	}{
		{a.Contains(8), true, "Contains(8)"},
		{a.Contains(4), false, "Contains(4)"},
		{Set{3, 0}.SubsetOf(a), true, "{3,0} SubsetOf a"},
		{b.SubsetOf(a), false, "b SubsetOf a"},
		{Set(nil).SubsetOf(nil), true, "empty SubsetOf empty"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.what, tt.got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	out, err := json.Marshal(struct{ C Set }{Set{0, 1, 2, 8}})
	if err != nil || string(out) != `{"C":"0-2,8"}` {
		t.Errorf("marshal = %s, %v; want {\"C\":\"0-2,8\"}", out, err)
	}
	for in, want := range map[string]Set{`"0-2"`: {0, 1, 2}, `"8,0"`: {8, 0}, `[3,1,1]`: {1, 3}, `""`: nil} {
		var s Set
		if err := json.Unmarshal([]byte(in), &s); err != nil || !slices.Equal(s, want) {
			t.Errorf("unmarshal %s = %v, %v; want %v", in, s, err, want)
		}
	}
	for _, in := range []string{`{"a":1}`, `"3-1"`, `[4096]`, `[-1]`, `1`} {
		var s Set
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("unmarshal %s = %v, want an error", in, s)
		}
	}
}

// FuzzRoundTrip checks that neither parser panics on any input, that every
// accepted list and mask holds CPUs in 0..MaxCPU once each, and that both
// forms read back to the same set.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "0", "0-3,8", "8,0-1", " 1 - 2 , 5 ", "4095", "3-1", "1,,2",
		"ff,00000001", "00000000,00000003", "80000000,00000000,00000000", "xyz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(how string, s Set) {
			seen := map[int]bool{}
			for _, c := range s {
				if c < 0 || c > MaxCPU || seen[c] {
					t.Fatalf("%s(%q) = %v: CPU %d out of range or twice", how, in, s, c)
				}
				seen[c] = true
			}
			if back, err := Parse(s.String()); err != nil || !slices.Equal(back, s) {
				t.Fatalf("%s(%q) = %v; its list %q reads back as %v, %v", how, in, s, s.String(), back, err)
			}
			if back, err := ParseMask(s.Mask()); err != nil || !slices.Equal(back, s.Sorted()) {
				t.Fatalf("%s(%q) = %v; its mask %q reads back as %v, %v", how, in, s, s.Mask(), back, err)
			}
		}
		if s, err := Parse(in); err == nil {
			check("Parse", s)
		}
		if s, err := ParseMask(in); err == nil {
			if !slices.IsSorted(s) {
				t.Fatalf("ParseMask(%q) = %v, not ascending", in, s)
			}
			check("ParseMask", s)
		}
	})
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   Set
		want string
	}{
		{nil, "cores "},
		{Set{3}, "core 3"},
		{Set{0, 1, 2}, "cores 0,1,2"},
		{Set{8, 0}, "cores 8,0"},
	}
	for _, tt := range tests {
		if got := tt.in.Words(); got != tt.want {
			t.Errorf("Set(%v).Words() = %q, want %q", []int(tt.in), got, tt.want)
		}
	}
}
