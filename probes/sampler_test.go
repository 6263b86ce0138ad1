package probes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/probes/procfs"
	"github.com/wgbench/wgbench/probes/stage"
)

// fakeProc is a writable fake procfs tree.
type fakeProc struct {
	t    *testing.T
	root string
}

type fakeThread struct {
	tid          int
	comm         string
	utime, stime uint64
	cpu          int
}

func newFakeProc(t *testing.T, selfNS uint64) *fakeProc {
	t.Helper()
	f := &fakeProc{t: t, root: t.TempDir()}
	f.proc(1, "init", false, selfNS, fakeThread{tid: 1, comm: "init"})
	if err := os.Symlink("1", filepath.Join(f.root, "self")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeProc) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// cpus writes /proc/stat and /proc/softirqs: per core
// {user, system, idle, iowait, irq, softirq, steal, netrx, nettx}.
func (f *fakeProc) cpus(cores ...[9]uint64) {
	var stat, rx, tx, hdr strings.Builder
	stat.WriteString("cpu  0 0 0 0 0 0 0 0 0 0\n")
	for i, c := range cores {
		fmt.Fprintf(&stat, "cpu%d %d 0 %d %d %d %d %d %d 0 0\n", i, c[0], c[1], c[2], c[3], c[4], c[5], c[6])
		fmt.Fprintf(&hdr, " CPU%d", i)
		fmt.Fprintf(&rx, " %d", c[7])
		fmt.Fprintf(&tx, " %d", c[8])
	}
	stat.WriteString("intr 0\nctxt 0\n")
	f.write("stat", stat.String())
	f.write("softirqs", hdr.String()+"\nNET_TX:"+tx.String()+"\nNET_RX:"+rx.String()+"\n")
}

func statLine(id int, comm string, flags uint64, utime, stime uint64, threads, cpu int) string {
	f := make([]string, 52)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1], f[2], f[3] = strconv.Itoa(id), "("+comm+")", "S", "1"
	f[8] = strconv.FormatUint(flags, 10)
	f[13], f[14] = strconv.FormatUint(utime, 10), strconv.FormatUint(stime, 10)
	f[19], f[38] = strconv.Itoa(threads), strconv.Itoa(cpu)
	return strings.Join(f, " ") + "\n"
}

// proc writes process pid with its threads (the first is the leader) in
// network namespace ns; kernel processes get PF_KTHREAD.
func (f *fakeProc) proc(pid int, comm string, kernel bool, ns uint64, threads ...fakeThread) {
	f.t.Helper()
	var flags uint64 = 0x400000
	if kernel {
		flags = 0x00200000 | 0x40
	}
	var ut, st uint64
	for _, th := range threads {
		f.write(fmt.Sprintf("%d/task/%d/stat", pid, th.tid), statLine(th.tid, th.comm, flags, th.utime, th.stime, len(threads), th.cpu))
		ut, st = ut+th.utime, st+th.stime
	}
	f.write(fmt.Sprintf("%d/stat", pid), statLine(pid, comm, flags, ut, st, len(threads), threads[0].cpu))
	link := filepath.Join(f.root, strconv.Itoa(pid), "ns", "net")
	_ = os.Remove(link)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(fmt.Sprintf("net:[%d]", ns), link); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProc) remove(pid int) {
	if err := os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid))); err != nil {
		f.t.Fatal(err)
	}
}

const (
	ownNS   = 4026531840
	otherNS = 4026532000
	initNS  = 4026531833
)

// kt is a single-threaded kernel process.
func (f *fakeProc) kt(pid int, comm string, ticks uint64, cpu int) {
	f.proc(pid, comm, true, initNS, fakeThread{tid: pid, comm: comm, stime: ticks, cpu: cpu})
}

func TestSample(t *testing.T) {
	f := newFakeProc(t, ownNS)
	// Baseline.
	f.cpus([9]uint64{100, 100, 700, 50, 0, 50, 0, 1000, 10}, [9]uint64{100, 100, 700, 50, 0, 50, 0, 4294967290, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 10, 0, 0}, fakeThread{101, "iperf3", 5, 5, 1})
	f.proc(200, "iperf3", false, otherNS, fakeThread{200, "iperf3", 10, 0, 0})
	f.proc(300, "wgbench", false, ownNS, fakeThread{300, "wgbench", 0, 0, 0}, fakeThread{301, "inline/wg0", 0, 0, 1})
	f.kt(2, "kthreadd", 0, 0)
	f.kt(14, "ksoftirqd/0", 0, 0)
	f.kt(90, "napi/wg0-8193", 0, 1)
	f.kt(91, "napi/wg9-8194", 0, 1)
	f.kt(11, "kworker/1:2-events", 0, 1)
	f.kt(12, "kworker/0:1-events", 0, 0)

	s, err := NewSampler(Options{Root: f.root, Host: "gw2", Stages: map[int]stage.Stage{300: stage.Inline}, Devices: []string{"wg0"}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	if err := s.baseline(t0); err != nil {
		t.Fatal(err)
	}

	// One second later: core 0 40 % busy, core 1 saturated by softirq.
	f.cpus([9]uint64{110, 105, 760, 50, 5, 70, 0, 1100, 12}, [9]uint64{100, 100, 700, 50, 0, 150, 0, 4, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 40, 0, 0}, fakeThread{101, "iperf3", 5, 5, 1})
	f.proc(200, "iperf3", false, otherNS, fakeThread{200, "iperf3", 90, 0, 0})
	f.proc(300, "wgbench", false, ownNS, fakeThread{300, "wgbench", 1, 0, 0}, fakeThread{301, "inline/wg0", 20, 5, 1})
	f.kt(2, "kthreadd", 50, 0)
	f.kt(14, "ksoftirqd/0", 7, 0)
	f.kt(90, "napi/wg0-8193", 12, 1)
	f.kt(91, "napi/wg9-8194", 30, 1)
	f.kt(11, "kworker/1:2+wg-crypt-wg0", 9, 1)
	f.kt(12, "kworker/0:1-events", 3, 0)
	// A process born in the interval has no baseline yet.
	f.proc(400, "iperf3", false, ownNS, fakeThread{400, "iperf3", 50, 0, 0})

	got, err := s.sample(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		T: 1, DT: 1,
		Cores: []CoreSample{
			{Core: 0, User: 10, System: 5, SoftIRQ: 20, IRQ: 5, Idle: 60, Busy: 40, NetRX: 100, NetTX: 2},
			{Core: 1, SoftIRQ: 100, Busy: 100, NetRX: 10},
		},
		Threads: []ThreadSample{
			{PID: 11, TID: 11, Comm: "kworker/1:2+wg-crypt-wg0", Stage: stage.WGCrypt, Dev: "wg0", Core: 1, Pct: 9, Shared: true},
			{PID: 14, TID: 14, Comm: "ksoftirqd/0", Stage: stage.KSoftirqd, Core: 0, Pct: 7, Shared: true},
			{PID: 90, TID: 90, Comm: "napi/wg0-8193", Stage: stage.NAPI, Dev: "wg0", Core: 1, Pct: 12, Shared: true},
			{PID: 100, TID: 100, Comm: "iperf3", Stage: stage.IPerf3, Core: 0, Pct: 30},
			{PID: 300, TID: 300, Comm: "wgbench", Stage: stage.Inline, Core: 0, Pct: 1},
			{PID: 300, TID: 301, Comm: "inline/wg0", Stage: stage.Inline, Dev: "wg0", Core: 1, Pct: 25},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sample (-want +got):\n%s", d)
	}

	// The next interval: process 400 now has a baseline, 100 has exited.
	f.remove(100)
	f.proc(400, "iperf3", false, ownNS, fakeThread{400, "iperf3", 60, 0, 1})
	got, err = s.sample(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	wantThreads := []ThreadSample{{PID: 400, TID: 400, Comm: "iperf3", Stage: stage.IPerf3, Core: 1, Pct: 10}}
	if d := cmp.Diff(wantThreads, got.Threads); d != "" {
		t.Errorf("second sample threads (-want +got):\n%s", d)
	}
	if _, ok := s.procs[100]; ok {
		t.Error("exited process 100 still cached")
	}
}

func TestSelection(t *testing.T) {
	setup := func(f *fakeProc, ticks uint64) {
		f.cpus([9]uint64{ticks, 0, 1000, 0, 0, 0, 0, 0, 0})
		f.proc(100, "a", false, ownNS, fakeThread{100, "a", ticks, 0, 0})
		f.proc(200, "b", false, otherNS, fakeThread{200, "b", ticks, 0, 0})
	}
	tests := []struct {
		name string
		opts Options
		want []int // PIDs with rows
	}{
		{"own namespace", Options{}, []int{100}},
		{"namespace of a given process", Options{NetNSOf: 200}, []int{200}},
		{"listed PIDs", Options{PIDs: []int{200}}, []int{200}},
		{"all namespaces", Options{AllNamespaces: true}, []int{100, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeProc(t, ownNS)
			setup(f, 10)
			tt.opts.Root = f.root
			s, err := NewSampler(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(0, 0)
			if err := s.baseline(t0); err != nil {
				t.Fatal(err)
			}
			setup(f, 20)
			smp, err := s.sample(t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, th := range smp.Threads {
				got = append(got, th.PID)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("sampled PIDs (-want +got):\n%s", d)
			}
		})
	}
}

// A process that enters the namespace just after it starts (ip netns exec)
// is picked up by the repeated namespace check.
func TestLateNamespaceSwitch(t *testing.T) {
	f := newFakeProc(t, ownNS)
	f.cpus([9]uint64{0, 0, 100, 0, 0, 0, 0, 0, 0})
	s, err := NewSampler(Options{Root: f.root})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	if err := s.baseline(t0); err != nil {
		t.Fatal(err)
	}
	f.proc(500, "ip", false, initNS, fakeThread{500, "ip", 1, 0, 0})
	if _, err := s.sample(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	f.proc(500, "iperf3", false, ownNS, fakeThread{500, "iperf3", 2, 0, 0})
	if _, err := s.sample(t0.Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	f.cpus([9]uint64{0, 0, 200, 0, 0, 0, 0, 0, 0})
	f.proc(500, "iperf3", false, ownNS, fakeThread{500, "iperf3", 52, 0, 0})
	smp, err := s.sample(t0.Add(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []ThreadSample{{PID: 500, TID: 500, Comm: "iperf3", Stage: stage.IPerf3, Pct: 50}}
	if d := cmp.Diff(want, smp.Threads); d != "" {
		t.Errorf("threads after the namespace switch (-want +got):\n%s", d)
	}
}

func TestNewSamplerErrors(t *testing.T) {
	if _, err := NewSampler(Options{PIDs: []int{1}, AllNamespaces: true}); err == nil {
		t.Error("PIDs with AllNamespaces: want error")
	}
	if _, err := NewSampler(Options{Root: t.TempDir()}); err == nil {
		t.Error("root without self/ns/net: want error")
	}
	s, err := NewSampler(Options{Root: t.TempDir(), AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), time.Millisecond, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "stat") {
		t.Errorf("Run on an empty root: error %v, want one naming the stat file", err)
	}
	if err := s.Run(context.Background(), 0, &bytes.Buffer{}); err == nil {
		t.Error("Run with interval 0: want error")
	}
}

func TestCorePct(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur [8]uint64 // user nice system idle iowait irq softirq steal
		want      CoreSample
		wantTicks uint64
	}{
		{"nice counts as user", [8]uint64{}, [8]uint64{10, 10, 0, 80, 0, 0, 0, 0}, CoreSample{User: 20, Idle: 80, Busy: 20}, 100},
		{"iowait is not busy", [8]uint64{}, [8]uint64{0, 0, 0, 50, 50, 0, 0, 0}, CoreSample{Idle: 50, IOWait: 50}, 100},
		{"steal is busy", [8]uint64{}, [8]uint64{0, 0, 0, 75, 0, 0, 0, 25}, CoreSample{Idle: 75, Steal: 25, Busy: 25}, 100},
		{"iowait stepping back counts as zero", [8]uint64{0, 0, 0, 0, 9, 0, 0, 0}, [8]uint64{0, 0, 30, 10, 5, 0, 0, 0}, CoreSample{System: 75, Idle: 25, Busy: 75}, 40},
		{"no ticks reads as idle", [8]uint64{1, 1, 1, 1, 1, 1, 1, 1}, [8]uint64{1, 1, 1, 1, 1, 1, 1, 1}, CoreSample{Idle: 100}, 0},
		{"thirds are rounded", [8]uint64{}, [8]uint64{1, 0, 1, 1, 0, 0, 0, 0}, CoreSample{User: 33.33, System: 33.33, Idle: 33.33, Busy: 66.67}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ticks := corePct(times(tt.prev), times(tt.cur))
			if d := cmp.Diff(tt.want, got); d != "" || ticks != tt.wantTicks {
				t.Errorf("corePct ticks %d (want %d), (-want +got):\n%s", ticks, tt.wantTicks, d)
			}
		})
	}
}

func TestDelta32Wraps(t *testing.T) {
	prev, cur := []uint64{4294967290, 5}, []uint64{4, 7}
	if got := delta32(prev, cur, 0); got != 10 {
		t.Errorf("wrapped delta = %d, want 10", got)
	}
	if got := delta32(prev, cur, 1); got != 2 {
		t.Errorf("delta = %d, want 2", got)
	}
	if got := delta32(prev, cur, 5); got != 0 {
		t.Errorf("delta of an unknown core = %d, want 0", got)
	}
}

func times(v [8]uint64) procfs.CPUTimes {
	return procfs.CPUTimes{User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7]}
}

// The threads of a process whose total CPU did not move are not read again,
// and their baselines carry over to the interval in which they run.
func TestIdleProcessSkipped(t *testing.T) {
	f := newFakeProc(t, ownNS)
	f.cpus([9]uint64{0, 0, 100, 0, 0, 0, 0, 0, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 10, 0, 0}, fakeThread{101, "iperf3", 10, 0, 1})
	s, err := NewSampler(Options{Root: f.root, AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	if err := s.baseline(t0); err != nil {
		t.Fatal(err)
	}
	// Idle interval: hide the threads; a sampler that looked would lose
	// their baselines.
	hidden := filepath.Join(f.root, "100", "task.hidden")
	if err := os.Rename(filepath.Join(f.root, "100", "task"), hidden); err != nil {
		t.Fatal(err)
	}
	f.cpus([9]uint64{0, 0, 200, 0, 0, 0, 0, 0, 0})
	smp, err := s.sample(t0.Add(time.Second))
	if err != nil || len(smp.Threads) != 0 {
		t.Fatalf("idle interval: threads %+v, error %v", smp.Threads, err)
	}
	if err := os.Rename(hidden, filepath.Join(f.root, "100", "task")); err != nil {
		t.Fatal(err)
	}
	f.cpus([9]uint64{0, 0, 300, 0, 0, 0, 0, 0, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 10, 0, 0}, fakeThread{101, "iperf3", 40, 0, 1})
	smp, err = s.sample(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []ThreadSample{{PID: 100, TID: 101, Comm: "iperf3", Stage: stage.IPerf3, Core: 1, Pct: 30}}
	if d := cmp.Diff(want, smp.Threads); d != "" {
		t.Errorf("busy interval (-want +got):\n%s", d)
	}
}

// A single-threaded process whose schedstat runtime did not move is not
// read; one whose schedstat reads zero (not maintained) is read every time.
func TestSchedstatGate(t *testing.T) {
	f := newFakeProc(t, ownNS)
	f.cpus([9]uint64{0, 0, 100, 0, 0, 0, 0, 0, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 10, 0, 0})
	f.write("100/schedstat", "1000 5 2\n")
	f.proc(200, "iperf3", false, ownNS, fakeThread{200, "iperf3", 10, 0, 0})
	f.write("200/schedstat", "0 0 0\n")
	s, err := NewSampler(Options{Root: f.root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeFiles)
	t0 := time.Unix(0, 0)
	if err := s.baseline(t0); err != nil {
		t.Fatal(err)
	}
	pids := func(smp Sample) []int {
		var p []int
		for _, th := range smp.Threads {
			p = append(p, th.PID)
		}
		return p
	}

	// Both stat files move, only 200 is read: 100's runtime stood still.
	f.cpus([9]uint64{0, 0, 200, 0, 0, 0, 0, 0, 0})
	f.proc(100, "iperf3", false, ownNS, fakeThread{100, "iperf3", 40, 0, 0})
	f.proc(200, "iperf3", false, ownNS, fakeThread{200, "iperf3", 20, 0, 0})
	smp, err := s.sample(t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{200}, pids(smp)); d != "" {
		t.Errorf("gated interval: PIDs with rows (-want +got):\n%s", d)
	}

	// 100's runtime moves: its ticks since the baseline show up.
	f.write("100/schedstat", "2000 5 3\n")
	f.cpus([9]uint64{0, 0, 300, 0, 0, 0, 0, 0, 0})
	smp, err = s.sample(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []ThreadSample{{PID: 100, TID: 100, Comm: "iperf3", Stage: stage.IPerf3, Pct: 30}}
	if d := cmp.Diff(want, smp.Threads); d != "" {
		t.Errorf("after the runtime moved (-want +got):\n%s", d)
	}
}
