package procfs

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// writeTree creates files (path → content) below a temporary root; a
// content starting with "->" makes a symlink to the rest.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if len(c) > 2 && c[:2] == "->" {
			if err := os.Symlink(c[2:], full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const stat2 = `cpu  1444 0 1570 37840 212 0 33 15 0 0
cpu0 546 1 626 19361 16 2 5 6 7 8
cpu2 897 0 944 18478 196 0 27 8 0 0
intr 116059 0 0
ctxt 248157
`

func TestCPUStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    []CPUTimes
		wantErr bool
	}{
		{
			name: "offline core skipped, numbers kept",
			stat: stat2,
			want: []CPUTimes{
				{CPU: 0, User: 546, Nice: 1, System: 626, Idle: 19361, IOWait: 16, IRQ: 2, SoftIRQ: 5, Steal: 6, Guest: 7, GuestNice: 8},
				{CPU: 2, User: 897, System: 944, Idle: 18478, IOWait: 196, SoftIRQ: 27, Steal: 8},
			},
		},
		{
			name: "old kernel with four times",
			stat: "cpu 1 2 3 4\ncpu0 1 2 3 4\n",
			want: []CPUTimes{{CPU: 0, User: 1, Nice: 2, System: 3, Idle: 4}},
		},
		{name: "no per-core lines", stat: "cpu 1 2 3 4\nintr 0\n", wantErr: true},
		{name: "garbage number", stat: "cpu0 1 x 3 4\n", wantErr: true},
		{name: "too few fields", stat: "cpu0 1 2\n", wantErr: true},
		{name: "bad core name", stat: "cpuX 1 2 3 4\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(writeTree(t, map[string]string{"stat": tt.stat}))
			got, err := r.CPUStat(nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CPUStat error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("CPUStat (-want +got):\n%s", d)
			}
		})
	}
}

func TestCPUTimesTotalExcludesGuest(t *testing.T) {
	c := CPUTimes{User: 10, Nice: 1, System: 2, Idle: 3, IOWait: 4, IRQ: 5, SoftIRQ: 6, Steal: 7, Guest: 100, GuestNice: 100}
	if got, want := c.Total(), uint64(38); got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
}

func TestSoftirqs(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    NetSoftirqs
		wantErr bool
	}{
		{
			name: "two cores",
			file: "                    CPU0       CPU1       \n          HI:          0          0\n      NET_TX:          4          0\n      NET_RX:       2392       2557\n",
			want: NetSoftirqs{RX: []uint64{2392, 2557}, TX: []uint64{4, 0}},
		},
		{
			name: "sparse core numbers",
			file: "CPU0 CPU3\nNET_TX: 1 2\nNET_RX: 3 4\n",
			want: NetSoftirqs{RX: []uint64{3, 0, 0, 4}, TX: []uint64{1, 0, 0, 2}},
		},
		{name: "missing NET_TX", file: "CPU0\nNET_RX: 1\n", wantErr: true},
		{name: "column count mismatch", file: "CPU0 CPU1\nNET_TX: 1\nNET_RX: 1 2\n", wantErr: true},
		{name: "bad header", file: "CPU0 GPU1\nNET_TX: 1 1\nNET_RX: 1 2\n", wantErr: true},
		{name: "bad count", file: "CPU0\nNET_TX: x\nNET_RX: 1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(writeTree(t, map[string]string{"softirqs": tt.file}))
			got, err := r.Softirqs(NetSoftirqs{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Softirqs error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Softirqs (-want +got):\n%s", d)
			}
		})
	}
}

// statLine builds a stat line with the given comm, ppid, flags, utime,
// stime and processor; the other fields are zero.
func statLine(id int, comm string, state byte, ppid int, flags, utime, stime uint64, cpu int) string {
	var f [52]string
	for i := range f {
		f[i] = "0"
	}
	f[0] = strconv.Itoa(id)
	f[1] = "(" + comm + ")"
	f[2] = string(state)
	f[3] = strconv.Itoa(ppid)
	f[8] = strconv.FormatUint(flags, 10)
	f[13] = strconv.FormatUint(utime, 10)
	f[14] = strconv.FormatUint(stime, 10)
	f[38] = strconv.Itoa(cpu)
	return strings.Join(f[:], " ") + "\n"
}

func TestTaskStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    TaskStat
		wantErr bool
	}{
		{
			name: "user thread",
			line: statLine(101, "iperf3", 'R', 1, 0x400000, 250, 40, 1),
			want: TaskStat{ID: 101, Comm: "iperf3", State: 'R', PPID: 1, Flags: 0x400000, UTime: 250, STime: 40, Processor: 1},
		},
		{
			name: "comm with spaces and parentheses",
			line: statLine(7, "a) (b c", 'S', 2, PFKthread, 1, 2, 3),
			want: TaskStat{ID: 7, Comm: "a) (b c", State: 'S', PPID: 2, Flags: PFKthread, UTime: 1, STime: 2, Processor: 3},
		},
		{
			name: "real kworker line",
			line: "11 (kworker/0:1-wg-crypt-wg0) I 2 0 0 0 -1 69238880 0 0 0 0 5 17 0 0 20 0 1 0 24 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: TaskStat{ID: 11, Comm: "kworker/0:1-wg-crypt-wg0", State: 'I', PPID: 2, Flags: 69238880, UTime: 5, STime: 17, Threads: 1, Processor: 0},
		},
		{name: "truncated", line: "5 (x) R 1 2 3", wantErr: true},
		{name: "no comm", line: "5 x R 1", wantErr: true},
		{name: "bad utime", line: "5 (x) R 1 0 0 0 -1 0 0 0 0 0 zz 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(writeTree(t, map[string]string{"5/task/6/stat": tt.line}))
			got, err := r.TaskStat(5, 6)
			if (err != nil) != tt.wantErr {
				t.Fatalf("TaskStat error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("TaskStat (-want +got):\n%s", d)
			}
			if got.Kernel() != (got.Flags&PFKthread != 0) {
				t.Errorf("Kernel() = %v for flags %#x", got.Kernel(), got.Flags)
			}
		})
	}
}

func TestListsAndNamespaces(t *testing.T) {
	root := writeTree(t, map[string]string{
		"10/stat":        statLine(10, "a", 'S', 1, 0, 0, 0, 0),
		"10/task/10/x":   "",
		"10/task/12/x":   "",
		"10/ns/net":      "->net:[4026531840]",
		"11/ns/net":      "->mnt:[1]",
		"self":           "->10",
		"self_not_a_pid": "",
		"sys/x":          "",
	})
	r := New(root)
	pids, err := r.PIDs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{10, 11}, sorted(pids)); d != "" {
		t.Errorf("PIDs (-want +got):\n%s", d)
	}
	tids, err := r.TIDs(10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{10, 12}, sorted(tids)); d != "" {
		t.Errorf("TIDs (-want +got):\n%s", d)
	}
	for _, pid := range []int{0, 10} {
		ino, err := r.NetNS(pid)
		if err != nil || ino != 4026531840 {
			t.Errorf("NetNS(%d) = %d, %v; want 4026531840", pid, ino, err)
		}
	}
	if _, err := r.NetNS(11); err == nil {
		t.Error("NetNS(11) of a non-net link: want error")
	}
	if _, err := r.NetNS(99); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NetNS(99) error = %v, want ErrNotExist", err)
	}
	if _, err := r.ProcessStat(99); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ProcessStat(99) error = %v, want ErrNotExist", err)
	}
}

func TestReadGrowsBuffer(t *testing.T) {
	big := "cpu0 1 2 3 4\n"
	for len(big) < 100<<10 {
		big += "intr 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	}
	r := New(writeTree(t, map[string]string{"stat": big}))
	got, err := r.CPUStat(nil)
	if err != nil || len(got) != 1 || got[0].Idle != 4 {
		t.Fatalf("CPUStat on a 100 KiB file = %v, %v", got, err)
	}
}

func TestIntegrationRealProc(t *testing.T) {
	r := New("")
	cpus, err := r.CPUStat(nil)
	if err != nil || len(cpus) == 0 {
		t.Fatalf("CPUStat(/proc) = %v, %v", cpus, err)
	}
	soft, err := r.Softirqs(NetSoftirqs{})
	if err != nil {
		t.Fatalf("Softirqs(/proc): %v", err)
	}
	if len(soft.RX) < len(cpus) {
		t.Errorf("NET_RX has %d cores, /proc/stat %d", len(soft.RX), len(cpus))
	}
	self := os.Getpid()
	st, err := r.TaskStat(self, self)
	if err != nil {
		t.Fatalf("TaskStat(self): %v", err)
	}
	if st.ID != self || st.Kernel() || st.Processor < 0 {
		t.Errorf("TaskStat(self) = %+v", st)
	}
	kt, err := r.ProcessStat(2)
	if err != nil {
		t.Fatalf("ProcessStat(kthreadd): %v", err)
	}
	if !kt.Kernel() || kt.Comm != "kthreadd" {
		t.Errorf("ProcessStat(2) = %+v, want kernel thread kthreadd", kt)
	}
	a, errA := r.NetNS(0)
	b, errB := r.NetNS(self)
	if errA != nil || errB != nil || a != b || a == 0 {
		t.Errorf("NetNS(self) = %d,%v; NetNS(%d) = %d,%v", a, errA, self, b, errB)
	}
}

func FuzzParseTaskStat(f *testing.F) {
	f.Add([]byte(statLine(1, "x", 'R', 0, 0, 1, 2, 3)))
	f.Add([]byte("1 (a) b) R"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseTaskStat(b)
	})
}

func TestAppendDirentIDs(t *testing.T) {
	rec := func(name string, reclen int) []byte {
		b := make([]byte, reclen)
		binary.NativeEndian.PutUint16(b[16:18], uint16(reclen))
		copy(b[19:], name)
		return b
	}
	var buf []byte
	buf = append(buf, rec("12", 24)...)
	buf = append(buf, rec(".", 24)...)
	buf = append(buf, rec("self", 24)...)
	buf = append(buf, rec("3456789", 32)...)
	buf = append(buf, rec("1234567890", 32)...) // too long for a PID
	if d := cmp.Diff([]int{12, 3456789}, appendDirentIDs(nil, buf)); d != "" {
		t.Errorf("appendDirentIDs (-want +got):\n%s", d)
	}
	bad := rec("7", 24)
	binary.NativeEndian.PutUint16(bad[16:18], 200) // longer than the buffer
	if got := appendDirentIDs(nil, append(rec("5", 24), bad...)); !slices.Equal(got, []int{5}) {
		t.Errorf("malformed record: got %v, want [5] and a stop", got)
	}
}

func FuzzParseProcFiles(f *testing.F) {
	f.Add([]byte(stat2))
	f.Add([]byte("CPU0 CPU1\nNET_TX: 1 2\nNET_RX: 3 4\n"))
	f.Add([]byte("CPU99999999\nNET_RX: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseCPUStat(b, nil)
		_, _ = parseSoftirqs(b, NetSoftirqs{})
		_, _ = parseNSLink(string(b))
		_ = appendDirentIDs(nil, b)
	})
}

func sorted(s []int) []int {
	slices.Sort(s)
	return s
}

func TestKeptFiles(t *testing.T) {
	root := writeTree(t, map[string]string{
		"stat":          "cpu0 1 2 3 4\n",
		"7/stat":        statLine(7, "a", 'S', 1, 0, 1, 2, 0),
		"7/schedstat":   "123456 789 10\n",
		"8/schedstat":   "garbage\n",
		"10/task/10/x":  "",
		"not-a-pid/x":   "",
		"123456789012/": "",
	})
	r := New(root)
	t.Cleanup(func() { r.Close() })

	// The root directory stays open and is read from its start each time.
	pids, err := r.PIDs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{7, 8, 10}, sorted(pids)); d != "" {
		t.Errorf("PIDs (-want +got):\n%s", d)
	}
	if err := os.Mkdir(filepath.Join(root, "11"), 0o755); err != nil {
		t.Fatal(err)
	}
	if pids, err = r.PIDs(pids[:0]); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{7, 8, 10, 11}, sorted(pids)); d != "" {
		t.Errorf("PIDs after a new process (-want +got):\n%s", d)
	}

	// /proc/stat is re-read through the kept file.
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu0 5 6 7 8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cpus, err := r.CPUStat(nil)
	if err != nil || len(cpus) != 1 || cpus[0].User != 5 {
		t.Errorf("CPUStat after a change = %+v, %v", cpus, err)
	}

	f, err := r.OpenProcessStat(7)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st, err := r.ReadStat(f)
		if err != nil || st.ID != 7 || st.STime != 2 {
			t.Errorf("ReadStat = %+v, %v", st, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.ReadStat(f); err == nil {
		t.Error("ReadStat of a closed file: want error")
	}

	sf, err := r.OpenSchedstat(7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sf.Close() })
	if rt, err := r.ReadRuntime(sf); err != nil || rt != 123456 {
		t.Errorf("ReadRuntime = %d, %v; want 123456", rt, err)
	}
	bad, err := r.OpenSchedstat(8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bad.Close() })
	if _, err := r.ReadRuntime(bad); err == nil {
		t.Error("ReadRuntime of garbage: want error")
	}
	if _, err := r.OpenSchedstat(99); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenSchedstat(99) error = %v, want ErrNotExist", err)
	}
}

func TestIntegrationKeptFiles(t *testing.T) {
	r := New("")
	t.Cleanup(func() { r.Close() })
	self := os.Getpid()
	// /proc/<tid> reads the thread itself, which must then stay put.
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	f, err := r.OpenSchedstat(unix.Gettid())
	if err != nil {
		t.Fatalf("schedstat: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	a, err := r.ReadRuntime(f)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; { // run a little
	}
	b, err := r.ReadRuntime(f)
	if err != nil || b <= a {
		t.Errorf("runtime %d then %d, %v: want it to grow", a, b, err)
	}
	pids, err := r.PIDs(nil)
	if err != nil || !slices.Contains(pids, self) || !slices.Contains(pids, 1) {
		t.Errorf("PIDs lacks 1 or self (%d): %v, %v", self, pids, err)
	}
}
