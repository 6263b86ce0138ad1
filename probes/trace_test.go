package probes

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/probes/stage"
)

const (
	hdrLine = `{"header":{"version":1,"host":"gw2","start":"2025-01-02T03:04:05Z","interval_s":0.25,"cpus":2,"selection":"netns","netns":7}}` + "\n"
	s1Line  = `{"sample":{"t":0.25,"dt":0.25,"cores":[{"core":0,"user":1,"system":2,"softirq":3,"irq":4,"iowait":5,"steal":6,"idle":79,"busy":16,"net_rx":10,"net_tx":1}],"threads":[{"pid":9,"tid":10,"comm":"napi/wg0-1","stage":"napi","dev":"wg0","core":0,"pct":3.5,"shared":true}]}}` + "\n"
	s2Line  = `{"sample":{"t":0.5,"dt":0.25,"cores":[{"core":0,"user":0,"system":0,"softirq":0,"irq":0,"iowait":0,"steal":0,"idle":100,"busy":0,"net_rx":0,"net_tx":0}]}}` + "\n"
)

var (
	wantHeader = Header{Version: 1, Host: "gw2", Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), IntervalSeconds: 0.25, CPUs: 2, Selection: SelectNetNS, NetNS: 7}
	wantS1     = Sample{T: 0.25, DT: 0.25,
		Cores:   []CoreSample{{Core: 0, User: 1, System: 2, SoftIRQ: 3, IRQ: 4, IOWait: 5, Steal: 6, Idle: 79, Busy: 16, NetRX: 10, NetTX: 1}},
		Threads: []ThreadSample{{PID: 9, TID: 10, Comm: "napi/wg0-1", Stage: stage.NAPI, Dev: "wg0", Core: 0, Pct: 3.5, Shared: true}},
	}
	wantS2 = Sample{T: 0.5, DT: 0.25, Cores: []CoreSample{{Core: 0, Idle: 100}}}
)

func TestReadTrace(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Trace
		wantErr string
	}{
		{name: "complete", in: hdrLine + s1Line + s2Line, want: &Trace{Header: wantHeader, Samples: []Sample{wantS1, wantS2}}},
		{name: "truncated last line ignored", in: hdrLine + s1Line + s2Line[:40], want: &Trace{Header: wantHeader, Samples: []Sample{wantS1}}},
		{name: "last line without newline kept", in: hdrLine + s1Line + strings.TrimSuffix(s2Line, "\n"), want: &Trace{Header: wantHeader, Samples: []Sample{wantS1, wantS2}}},
		{name: "header only", in: hdrLine, want: &Trace{Header: wantHeader}},
		{name: "blank and unknown lines skipped", in: hdrLine + "\n" + `{"wgstats":{}}` + "\n" + s2Line, want: &Trace{Header: wantHeader, Samples: []Sample{wantS2}}},
		{name: "corrupt line inside", in: hdrLine + s1Line[:40] + "\n" + s2Line, wantErr: "line 2"},
		{name: "empty", in: "", wantErr: "no header"},
		{name: "sample first", in: s1Line + hdrLine, wantErr: "before the header"},
		{name: "two headers", in: hdrLine + hdrLine, wantErr: "second header"},
		{name: "newer version", in: strings.Replace(hdrLine, `"version":1`, `"version":2`, 1), wantErr: "newer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTrace(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadTrace error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ReadTrace (-want +got):\n%s", d)
			}
		})
	}
}

func TestWriteRecordRoundTrip(t *testing.T) {
	var out, buf bytes.Buffer
	h := wantHeader
	for _, r := range []record{{Header: &h}, {Sample: &wantS1}, {Sample: &wantS2}} {
		if err := writeRecord(&out, r, &buf); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Errorf("%d lines, want 3", got)
	}
	got, err := ReadTrace(&out)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&Trace{Header: wantHeader, Samples: []Sample{wantS1, wantS2}}, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestWindow(t *testing.T) {
	tr := &Trace{}
	for i := 1; i <= 8; i++ {
		tr.Samples = append(tr.Samples, Sample{T: float64(i) * 0.25, DT: 0.25})
	}
	tests := []struct {
		from, to float64
		want     []float64
	}{
		{0, 2, []float64{0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}},
		{0.5, 1.25, []float64{0.75, 1, 1.25}},
		{0.6, 1.1, []float64{1}},
		{3, 4, nil},
	}
	for _, tt := range tests {
		var got []float64
		for _, s := range tr.Window(tt.from, tt.to).Samples {
			got = append(got, s.T)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("Window(%v, %v) (-want +got):\n%s", tt.from, tt.to, d)
		}
	}
}

func TestCSV(t *testing.T) {
	tr := &Trace{Header: wantHeader, Samples: []Sample{wantS1, wantS2}}
	var b bytes.Buffer
	if err := WriteCPUCSV(&b, "gw2", tr); err != nil {
		t.Fatal(err)
	}
	want := "host,t_seconds,core,user,system,softirq,irq,iowait,steal,idle,busy,net_rx,net_tx\n" +
		"gw2,0.250,0,1.00,2.00,3.00,4.00,5.00,6.00,79.00,16.00,10,1\n" +
		"gw2,0.500,0,0.00,0.00,0.00,0.00,0.00,0.00,100.00,0.00,0,0\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("WriteCPUCSV (-want +got):\n%s", d)
	}
	b.Reset()
	tr.Samples[1].Threads = []ThreadSample{{PID: 5, TID: 6, Comm: `odd,"comm"`, Stage: stage.Other, Core: 1, Pct: 100.004}}
	if err := WriteStagesCSV(&b, "gw2", tr); err != nil {
		t.Fatal(err)
	}
	want = "host,t_seconds,pid,tid,comm,stage,dev,core,cpu_pct,shared\n" +
		"gw2,0.250,9,10,napi/wg0-1,napi,wg0,0,3.50,true\n" +
		"gw2,0.500,5,6,\"odd,\"\"comm\"\"\",other,,1,100.00,false\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("WriteStagesCSV (-want +got):\n%s", d)
	}
}

// TestRunFakeTree runs the sampler loop on a fake tree: a header line, then
// samples a tick apart, ending when the context does.
func TestRunFakeTree(t *testing.T) {
	f := newFakeProc(t, ownNS)
	f.cpus([9]uint64{0, 0, 100, 0, 0, 0, 0, 0, 0}, [9]uint64{0, 0, 100, 0, 0, 0, 0, 0, 0})
	s, err := NewSampler(Options{Root: f.root, Host: "gw1", SharedCores: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	t.Cleanup(cancel)
	var out bytes.Buffer
	if err := s.Run(ctx, 20*time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(&out)
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Header
	if h.Host != "gw1" || !h.SharedCores || h.CPUs != 2 || h.NetNS != ownNS || h.Selection != SelectNetNS || h.IntervalSeconds != 0.02 {
		t.Errorf("header = %+v", h)
	}
	if n := len(tr.Samples); n < 3 || n > 7 {
		t.Fatalf("%d samples in 120 ms at 20 ms, want about 6", n)
	}
	prev := 0.0
	for _, smp := range tr.Samples {
		if smp.T <= prev || len(smp.Cores) != 2 || smp.Cores[0].Idle != 100 {
			t.Errorf("sample %+v after t=%v", smp, prev)
		}
		prev = smp.T
	}
}

// TestIntegrationSampler samples the real /proc while this process burns
// CPU, and expects to see its own busy thread.
func TestIntegrationSampler(t *testing.T) {
	s, err := NewSampler(Options{Host: "local"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	t.Cleanup(cancel)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for ctx.Err() == nil {
		}
	}()
	var out bytes.Buffer
	if err := s.Run(ctx, 100*time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(&out)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Samples) < 4 {
		t.Fatalf("%d samples in 600 ms at 100 ms", len(tr.Samples))
	}
	ncpu := runtime.NumCPU()
	best := 0.0
	for _, smp := range tr.Samples {
		if len(smp.Cores) != ncpu {
			t.Errorf("t=%v: %d cores, want %d", smp.T, len(smp.Cores), ncpu)
		}
		for _, c := range smp.Cores {
			sum := c.User + c.System + c.SoftIRQ + c.IRQ + c.IOWait + c.Steal + c.Idle
			if sum < 99.9 || sum > 100.1 {
				t.Errorf("t=%v core %d: shares add up to %v", smp.T, c.Core, sum)
			}
		}
		for _, th := range smp.Threads {
			if th.PID == os.Getpid() {
				best = max(best, th.Pct)
			}
		}
	}
	if best < 50 {
		t.Errorf("busiest thread of this process used %.1f %% of a core, want a spinning thread near 100 %%", best)
	}
}
