package cost

import (
	"errors"
	"math"
	"testing"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/stage"
	"github.com/wgbench/wgbench/results"
)

// trace builds a trace of n one-second samples, each with the given cores
// and threads.
func trace(n int, cores []probes.CoreSample, threads ...probes.ThreadSample) *probes.Trace {
	tr := &probes.Trace{}
	for i := 1; i <= n; i++ {
		tr.Samples = append(tr.Samples, probes.Sample{T: float64(i), DT: 1, Cores: cores, Threads: threads})
	}
	return tr
}

func th(tid int, st stage.Stage, comm string, pct float64, kernel bool) probes.ThreadSample {
	return probes.ThreadSample{PID: tid, TID: tid, Comm: comm, Stage: st, Pct: pct, Shared: kernel}
}

func TestAccountByThread(t *testing.T) {
	ksoft := th(10, stage.KSoftirqd, "ksoftirqd/0", 20, true)
	gw1 := trace(4, nil,
		ksoft,
		th(11, stage.WGCrypt, "kworker/0:1+wg-crypt-gw1-t0", 30, true),
		th(12, stage.NAPI, "napi/gw1-t0-81", 10, true),
		th(100, stage.Inline, "inline/gw1-t0", 50, false),
		th(101, stage.Inline, "inline/tun0", 5, false),
		th(102, stage.Other, "wgbench", 2, false), // the sampler
		th(103, stage.IPerf3, "iperf3", 40, false),
		th(104, stage.Other, "sshd", 1, false),
	)
	gw2 := trace(4, nil,
		ksoft, // the same thread, seen by both traces: once
		th(200, stage.Inline, "inline/gw2-t0", 60, false),
	)
	// The first sample (0..1 s) is warm-up and the last ends at 4 s: a
	// window of [1, 4] keeps three.
	u := Account([]*probes.Trace{gw1, nil, gw2}, 1, 4, true)
	want := [numStages]float64{softirq: 0.6, napi: 0.3, crypto: 0.9, datapath: 3.3, tun: 0.15, other: 0.03}
	if u.Method != results.ByThread || u.Window != 3 {
		t.Errorf("method %s, window %g; want thread, 3", u.Method, u.Window)
	}
	for i := range want {
		if math.Abs(u.Seconds[i]-want[i]) > 1e-9 {
			t.Errorf("%s: %g s, want %g", results.CostStages[i], u.Seconds[i], want[i])
		}
	}
	if math.Abs(u.Excluded-1.26) > 1e-9 {
		t.Errorf("excluded %g s, want 1.26 (iperf3 and the sampler)", u.Excluded)
	}
}

func TestAccountByCore(t *testing.T) {
	cores := []probes.CoreSample{
		{Core: 0, Busy: 80, SoftIRQ: 30, IRQ: 5, System: 25, User: 20},
		{Core: 1, Busy: 40, System: 40},
	}
	tr := trace(2, cores,
		th(10, stage.KSoftirqd, "ksoftirqd/0", 10, true), // inside the core's softirq share
		th(11, stage.WGCrypt, "kworker/1:1+wg-crypt-wg0", 30, true),
		th(100, stage.WGGo, "wgbench", 25, false),
		th(101, stage.IPerf3, "iperf3", 15, false),
	)
	u := Account([]*probes.Trace{tr}, 0, 2, false)
	// busy 1.2 core·s per second; softirq+irq .35, crypto .3, datapath
	// .25, iperf3 .15 left out, other the remaining .15.
	want := [numStages]float64{softirq: 0.7, crypto: 0.6, datapath: 0.5, other: 0.3}
	for i := range want {
		if math.Abs(u.Seconds[i]-want[i]) > 1e-9 {
			t.Errorf("%s: %g s, want %g", results.CostStages[i], u.Seconds[i], want[i])
		}
	}
	if u.Method != results.ByCore || u.Window != 2 {
		t.Errorf("method %s, window %g; want core, 2", u.Method, u.Window)
	}
	if math.Abs(u.Total()-2.1) > 1e-9 {
		t.Errorf("total %g, want the busy time without iperf3 (2.1 s)", u.Total())
	}
}

func TestAccountEmpty(t *testing.T) {
	u := Account(nil, 0, 10, true)
	if u.Window != 0 || u.Total() != 0 {
		t.Errorf("no traces: %+v, want nothing", u)
	}
	if c := u.Rep(1000, 1368, results.Clock{Hz: 1e9}); c.CyclesPerByte != 0 || c.GWCores != 0 {
		t.Errorf("no traces: cost %+v, want zero", c)
	}
}

func TestParseCPUInfo(t *testing.T) {
	tests := []struct {
		name, in string
		hz       float64
		from     string
		err      bool
	}{
		{"model name", "model name\t: Intel(R) Xeon(R) CPU E5-2660 v3 @ 2.60GHz\ncpu MHz\t\t: 1200.000\n", 2.6e9, "model name", false},
		{"cpu MHz", "model name\t: AMD EPYC\ncpu MHz\t\t: 2096.001\n", 2096.001e6, "cpu MHz", false},
		{"first CPU wins", "cpu MHz : 1000\ncpu MHz : 3000\n", 1e9, "cpu MHz", false},
		{"nothing", "processor : 0\n", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCPUInfo([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if tt.err {
				return
			}
			if math.Abs(c.Hz-tt.hz) > 1 || c.Source != results.ClockNominal || c.From != CPUInfoFile+" "+tt.from {
				t.Errorf("clock %+v, want %g Hz nominal from %s", c, tt.hz, tt.from)
			}
		})
	}
}

func TestReadClock(t *testing.T) {
	files := map[string]string{BaseFrequencyFile: "2100000\n", CPUInfoFile: "cpu MHz : 3000\n"}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	c, err := ReadClock(read)
	if err != nil || c.Hz != 2.1e9 || c.Source != results.ClockBase {
		t.Errorf("with base_frequency: %+v, %v; want 2.1 GHz base", c, err)
	}
	delete(files, BaseFrequencyFile)
	if c, err = ReadClock(read); err != nil || c.Hz != 3e9 || c.Source != results.ClockNominal {
		t.Errorf("without base_frequency: %+v, %v; want 3 GHz nominal", c, err)
	}
	delete(files, CPUInfoFile)
	if _, err = ReadClock(read); err == nil {
		t.Error("no files: no error")
	}
}

func TestPayloadPerPacket(t *testing.T) {
	tests := []struct {
		proto       string
		length, mtu int
		want        int
	}{
		{"tcp", 0, 0, 1368},
		{"tcp", 0, 9000, 8868},
		{"udp", 0, 0, 1392},
		{"udp", 64, 0, 64},
		{"udp", 8000, 1500, 1392},
	}
	for _, tt := range tests {
		if got := PayloadPerPacket(tt.proto, tt.length, tt.mtu); got != tt.want {
			t.Errorf("PayloadPerPacket(%s, %d, %d) = %d, want %d", tt.proto, tt.length, tt.mtu, got, tt.want)
		}
	}
}

func TestIsTUNThread(t *testing.T) {
	for comm, want := range map[string]bool{"inline/wg0": false, "inline/tun": true, "tun-rx": true, "wggo/wg0/tunr": true, "wgbench": false} {
		if got := isTUNThread(comm); got != want {
			t.Errorf("isTUNThread(%q) = %v, want %v", comm, got, want)
		}
	}
}
