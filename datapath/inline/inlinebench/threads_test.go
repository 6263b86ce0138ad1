package inlinebench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// TestThreadShares checks the split of a measurement's CPU by thread:
// data threads by their name, the rest by name too, threads that
// appeared meanwhile counted from zero.
func TestThreadShares(t *testing.T) {
	before := threadCPU{1: {"inline/a", time.Second}, 2: {"bench", time.Second}, 3: {"inline/b", 0}}
	after := threadCPU{1: {"inline/a", 1500 * time.Millisecond}, 2: {"bench", 1100 * time.Millisecond},
		3: {"inline/b", 400 * time.Millisecond}, 4: {"bench", 100 * time.Millisecond}}
	s := threadShares(before, after, time.Second)
	for _, tt := range []struct {
		group string
		want  float64
	}{{"data threads", 0.9}, {"other threads", 0.2}, {"other: bench", 0.2}} {
		if got := share(s, tt.group); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s = %.3f, want %.3f (%+v)", tt.group, got, tt.want, s)
		}
	}
	if threadShares(nil, after, time.Second) != nil {
		t.Error("a split without a first snapshot")
	}
}

// TestBusyGoal checks the 1-core busy-cores goal line: the worst 1-core
// inline case decides, counted as the larger of its busy cores and its
// cores per fully used pinned core.
func TestBusyGoal(t *testing.T) {
	in := func(cores int, busy, data, other float64) Result {
		return Result{Case: Case{Impl: Inline, Size: 1420, Cores: cores}, BusyCores: busy,
			Threads: []ThreadShare{{"data threads", data}, {"other threads", other}}}
	}
	tests := []struct {
		name    string
		results []Result
		want    string
	}{
		{"met", []Result{in(1, 1.02, 0.99, 0.03)}, "1-core case busy cores ≤ 1.05: met (worst 1.03 of 1 case)"},
		{"busy too high", []Result{in(1, 1.04, 0.99, 0.03), in(1, 1.10, 1.0, 0.10)}, "missed (worst 1.10 of 2 cases)"},
		{"shared machine: data threads got half a core", []Result{in(1, 0.55, 0.5, 0.05)}, "missed (worst 1.10 of 1 case)"},
		{"2-core cases do not count", []Result{in(2, 2.5, 2, 0.5)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeBusyGoal(&buf, tt.results); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("goal line %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// TestBenchThreadSplit runs one short inline case: its data threads must
// be found by name and the table must show the split and the goal line.
func TestBenchThreadSplit(t *testing.T) {
	r, err := Measure(context.Background(), Case{Impl: Inline, Size: 1420, Cores: 1}, Amount{Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if share(r.Threads, "data threads") <= 0 {
		t.Fatalf("no CPU time found on the data threads: %+v", r.Threads)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, []Result{r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"data threads +", "1-core case busy cores ≤ 1.05: "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}
