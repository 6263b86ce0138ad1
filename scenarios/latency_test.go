package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// posError is one expected error: where, at which key, saying what.
type posError struct {
	name string
	yaml string
	pos  string // "line:col"
	path string
	msg  string
}

// checkPosErrors parses each case and wants an error at its position.
func checkPosErrors(t *testing.T, tests []posError) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.yaml), nil)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not an *Errors", err, err)
			}
			for _, e := range errs.List {
				if fmt.Sprintf("%d:%d", e.Line, e.Col) == tt.pos && e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no error at %s: %s: ...%s...; got:\n%v", tt.pos, tt.path, tt.msg, err)
		})
	}
}

func TestLatencyErrors(t *testing.T) {
	const head = "name: t\nseries: [{datapath: wggo}]\n"
	checkPosErrors(t, []posError{
		{"rate 0", head + "latency:\n  rate: 0\n", "4:9", "latency.rate", "0 is out of range; allowed above 0 up to 1000"},
		{"negative rate", head + "latency: {rate: -5}\n", "3:17", "latency.rate", "-5 is out of range"},
		{"rate too high", head + "latency: {rate: 5000}\n", "3:17", "latency.rate", "5000 is out of range"},
		{"too few probes", head + "latency: {rate: 1}\n", "3:17", "latency.rate", "send only 2 probes in the idle probe"},
		{"unknown probe", head + "latency: {probe: tcp}\n", "3:18", "latency.probe", `"tcp" is not a probe; allowed: udp`},
		{"idle too short", head + "latency: {idle: 10ms}\n", "3:17", "latency.idle", "10ms is out of range"},
		{"unknown key", head + "latency: {rat: 5}\n", "3:11", "latency.rat", "unknown key; allowed keys: probe, rate, idle"},
	})
}

func TestLatencyDefaults(t *testing.T) {
	tests := []struct {
		yaml string
		want *Latency
	}{
		{"", nil},
		{"latency:\n", nil}, // a null block is an absent one
		{"latency: {}\n", &Latency{Probe: ProbeUDP, Rate: DefaultProbeRate, Idle: DefaultProbeIdle}}, // an empty one probes with the defaults
		{"latency: {probe: icmp}\n", &Latency{Probe: ProbeICMP, Rate: DefaultProbeRate, Idle: DefaultProbeIdle}},
		{"latency: {rate: 20, idle: 3s}\n", &Latency{Probe: ProbeUDP, Rate: 20, Idle: Duration(3 * time.Second)}},
	}
	for _, tt := range tests {
		s, err := Parse("t.yaml", []byte("name: t\nseries: [{datapath: wggo}]\n"+tt.yaml), nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if (s.Latency == nil) != (tt.want == nil) || (s.Latency != nil && *s.Latency != *tt.want) {
			t.Errorf("%q: latency %+v, want %+v", tt.yaml, s.Latency, tt.want)
		}
		// The scenario as written back reads the same.
		out, err := s.YAML()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Parse("back.yaml", out, nil)
		if err != nil {
			t.Fatalf("%q written back: %v\n%s", tt.yaml, err, out)
		}
		if (s2.Latency == nil) != (s.Latency == nil) || (s2.Latency != nil && *s2.Latency != *s.Latency) {
			t.Errorf("%q: round trip gave %+v, want %+v", tt.yaml, s2.Latency, s.Latency)
		}
	}
}
