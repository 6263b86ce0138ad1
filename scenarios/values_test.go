package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		str     string // canonical form; "" means in
		wantErr string
	}{
		{in: "5s", want: 5 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "1m", want: time.Minute},
		{in: "1h", want: time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: "0s", want: 0},
		{in: "90s", want: 90 * time.Second, str: "1m30s"},
		{in: "0", wantErr: "0 is not a duration (no unit)"},
		{in: "5", wantErr: "write e.g. 5s"},
		{in: "5 seconds", wantErr: `"5 seconds" is not a duration`},
		{in: "-5s", wantErr: "negative"},
		{in: "", wantErr: "is not a duration"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Std() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.want, got.String(), str)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v back", got.String(), back, err, got)
		}
	}
}

func TestBitrate(t *testing.T) {
	tests := []struct {
		in      string
		want    Bitrate
		str     string
		wantErr string
	}{
		{in: "10000", want: 10000, str: "10k"},
		{in: "999", want: 999, str: "999"},
		{in: "0", want: 0, str: "0"},
		{in: "100k", want: 100_000, str: "100k"},
		{in: "100K", want: 100_000, str: "100k"},
		{in: "500M", want: 500_000_000, str: "500M"},
		{in: "500m", want: 500_000_000, str: "500M"},
		{in: "1G", want: 1_000_000_000, str: "1G"},
		{in: "1.5G", want: 1_500_000_000, str: "1500M"},
		{in: "2T", want: 2_000_000_000_000, str: "2T"},
		{in: "1Gbps", want: 1_000_000_000, str: "1G"},
		{in: "18446744073709551615", want: 18446744073709551615, str: "18446744073709551615"},
		{in: "18446744073709551616", wantErr: "too large"},
		{in: "1.2345k", wantErr: "not a whole number"},
		{in: "1 G", wantErr: "is not a bitrate"},
		{in: "-1", wantErr: "is not a bitrate"},
		{in: "1e9", wantErr: "is not a bitrate"},
		{in: "1Gb", wantErr: "is not a bitrate"},
		{in: "", wantErr: "is not a bitrate"},
	}
	for _, tt := range tests {
		got, err := ParseBitrate(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseBitrate(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("Bitrate(%d).String() = %q, want %q", got, got.String(), tt.str)
		}
		if back, err := ParseBitrate(got.String()); err != nil || back != got {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d back", got.String(), back, err, got)
		}
	}
}

func TestCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    CPUList
		str     string
		wantErr string
	}{
		{in: "", want: "", str: ""},
		{in: "nic-node - rx-cores", want: CPUList("nic-node - rx-cores"), str: "nic-node - rx-cores"},
		{in: " all - (nic-node - rx-cores)[0] ", want: CPUList("all - (nic-node - rx-cores)[0]"), str: "all - (nic-node - rx-cores)[0]"},
		{in: "nic-node-rx-cores", wantErr: `unknown set "nic-node-rx-cores"`},
		{in: "all -3", wantErr: "at column 5"},
		{in: "3", want: CPUList("3"), str: "3"},
		{in: "0-3,8", want: CPUList("0-3,8"), str: "0-3,8"},
		{in: "0,1,2", want: CPUList("0-2"), str: "0-2"},
		{in: "8,0-1", want: CPUList("8,0-1"), str: "8,0-1"},
		{in: " 1 - 2 , 5 ", want: CPUList("1-2,5"), str: "1-2,5"},
		{in: "4095", want: CPUList("4095"), str: "4095"},
		{in: "3-1", wantErr: "range 3-1 runs backwards"},
		{in: "1,1", wantErr: "CPU 1 is listed twice"},
		{in: "0-3,2", wantErr: "CPU 2 is listed twice"},
		{in: "4096", wantErr: "CPU 4096 is out of range 0..4095"},
		{in: "0-100000", wantErr: "out of range"},
		{in: "-1", wantErr: "cannot be negative"},
		{in: "a", wantErr: `unknown set "a"`},
		{in: "1,,2", wantErr: "empty entry"},
	}
	for _, tt := range tests {
		// A scalar is read as the list string it holds.
		var got CPUList
		err := got.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tt.in})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CPUList from %q = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("CPUList from %q = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("CPUList(%q).String() = %q, want %q", got, got.String(), tt.str)
		}
		var back CPUList
		if err := back.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: got.String()}); err != nil || !cmp.Equal(back, got) {
			t.Errorf("CPUList from %q = %v, %v; want %v back", got.String(), back, err, got)
		}
	}
}

// TestValuesYAML checks that the value types read the YAML forms a user
// writes and write forms that read back to the same value.
func TestValuesYAML(t *testing.T) {
	type doc struct {
		D Duration `yaml:"d"`
		B Bitrate  `yaml:"b"`
		C CPUList  `yaml:"c"`
		S CPUList  `yaml:"s"`
		N CPUList  `yaml:"one"`
		X CPUList  `yaml:"x"`
	}
	var got doc
	in := "d: 1m30s\nb: 2.5G\nc: [0, 2, 3]\ns: \"0-3,8\"\none: 7\nx: nic-node - rx-cores\n"
	if err := yaml.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := doc{
		D: Duration(90 * time.Second), B: 2_500_000_000,
		C: CPUList("0,2-3"), S: CPUList("0-3,8"), N: CPUList("7"), X: CPUList("nic-node - rx-cores"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("unmarshal (-want +got):\n%s", diff)
	}
	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	wantOut := "d: 1m30s\nb: 2500M\nc: [0, 2, 3]\ns: [0, 1, 2, 3, 8]\none: [7]\nx: \"nic-node - rx-cores\"\n"
	if string(out) != wantOut {
		t.Errorf("marshal = %q, want %q", out, wantOut)
	}
	var back doc
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestValuesJSON checks the JSON forms: duration as "5s", bitrate as an
// integer, CPU list as an array; and that they read back.
func TestValuesJSON(t *testing.T) {
	type doc struct {
		D Duration `json:"d"`
		B Bitrate  `json:"b"`
		C CPUList  `json:"c"`
		X CPUList  `json:"x"`
	}
	in := doc{D: Duration(250 * time.Millisecond), B: 1_000_000_000, C: CPUList("0-2,8"), X: CPUList("all - rx-cores")}
	out, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"d":"250ms","b":1000000000,"c":[0,1,2,8],"x":"all - rx-cores"}`; string(out) != want {
		t.Errorf("json = %s, want %s", out, want)
	}
	var back doc
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"d":"soon"}`), &back); err == nil {
		t.Error(`json duration "soon" accepted`)
	}
	if err := json.Unmarshal([]byte(`{"d":5}`), &back); err == nil {
		t.Error("json duration 5 accepted")
	}
}
