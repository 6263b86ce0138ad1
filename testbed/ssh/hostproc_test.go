package ssh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/testbed"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// testCoresAndLifeline checks what the SSH driver gives every process it
// starts on a host: the inventory's cores (drain has `cores: 0`, source
// none) and a lifeline (commands that are not wgbench run under `wgbench
// agent exec`, which stops them when their session dies), with exit
// status, output and signals unchanged.
func testCoresAndLifeline(t *testing.T, l *lab, known string) {
	ctx := context.Background()
	// Cores the host does not have are refused before anything runs.
	bad := l.inventoryWith(t, known, map[string][]string{testbed.Drain: {"cores: 0,4000"}})
	lines, err := sshtb.Check(ctx, bad, sshtb.Options{Binary: l.bin})
	if err == nil || !strings.Contains(fmt.Sprint(lines), "drain ("+l.addrs[testbed.Drain]+"): cores 4000 of the inventory are not online on the host") {
		t.Errorf("Check with core 4000 on drain: %v\n%v", err, lines)
	}

	inv := l.inventoryWith(t, known, map[string][]string{testbed.Drain: {"cores: 0"}})
	tb, err := sshtb.Provision(ctx, inv, sshtb.Options{Tunnels: 1, FlowsPerTunnel: 1, Binary: l.bin})
	if err != nil {
		t.Fatal(err)
	}
	torndown := false
	defer func() {
		if !torndown {
			tb.Teardown()
		}
	}()
	drain, source := tb.Hosts()[testbed.Drain], tb.Hosts()[testbed.Source]
	all := allowedCPUs(t, os.Getpid()) // what an unconfined process of the lab gets

	// Long-running commands on both hosts: an iperf3 server, and a shell
	// with a child of its own.
	type started struct {
		p     testbed.Process
		pids  []int // the supervisor and what runs under it
		label string
	}
	start := func(h testbed.Host, argv ...string) started {
		t.Helper()
		p, err := h.Start(ctx, testbed.Cmd{Argv: argv, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Stage: "iperf3"})
		if err != nil {
			t.Fatalf("%s: start %v: %v", h.Role(), argv, err)
		}
		s := started{p: p, pids: []int{p.Pid()}, label: h.Role() + ": " + strings.Join(argv, " ")}
		s.pids = append(s.pids, descendants(t, p.Pid(), argv[0] == "sh")...)
		if c := cmdline(p.Pid()); !strings.Contains(c, " agent exec -- "+argv[0]) {
			t.Fatalf("%s: runs as %q, not under wgbench agent exec", s.label, c)
		}
		return s
	}
	var procs []started
	for _, h := range []testbed.Host{drain, source} {
		procs = append(procs,
			start(h, "iperf3", "-s", "-p", "5299"),
			start(h, "sh", "-c", "sleep 300; echo done"))
	}

	// Cores: everything the driver started on drain (these commands, its
	// net-setup) runs on core 0, every thread of it; source is free.
	for _, s := range procs {
		want := all
		if strings.HasPrefix(s.label, testbed.Drain) {
			want = "0"
		}
		for _, pid := range s.pids {
			if got := allowedCPUs(t, pid); got != want {
				t.Errorf("%s: process %d (%s) may run on CPUs %s, want %s", s.label, pid, cmdline(pid), got, want)
			}
		}
	}
	for _, role := range []string{testbed.Drain, testbed.Source} {
		want := all
		if role == testbed.Drain {
			want = "0"
		}
		ps := l.processes(t, role)
		if len(ps) < 5 { // net-setup, and two commands under their supervisors
			t.Errorf("%s: processes %v; want net-setup and what the test started", role, ps)
		}
		for _, p := range ps {
			pid, _ := strconv.Atoi(p[:strings.IndexByte(p, ':')])
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, task := range tasks {
				tid, _ := strconv.Atoi(task.Name())
				if got := allowedCPUs(t, tid); got != want && got != "" {
					t.Errorf("%s: thread %d of %s may run on CPUs %s, want %s", role, tid, p, got, want)
				}
			}
		}
	}
	// The facts a run records say so.
	for role, want := range map[string]string{testbed.Drain: "0", testbed.Source: ""} {
		if all == "0" {
			want = "" // a one-core machine: nothing is left out
		}
		out, err := testbed.Run(ctx, tb.Hosts()[role], testbed.Self, "agent", "facts")
		var f struct {
			Allowed string `json:"allowed_cpus"`
		}
		if err != nil || json.Unmarshal(out, &f) != nil || f.Allowed != want {
			t.Errorf("%s: facts allowed_cpus %q (%v), want %q", role, f.Allowed, err, want)
		}
	}
	// Input still reaches a confined command.
	file := filepath.Join(drain.TempDir(), "in")
	if err := drain.WriteFile(file, []byte("in\x00put"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := drain.ReadFile(file); err != nil || string(got) != "in\x00put" {
		t.Errorf("ReadFile on drain: %q %v", got, err)
	}

	// Through the supervisor, a command's output and exit status are its
	// own, and signals reach it.
	for _, h := range []testbed.Host{drain, source} {
		var stdout, stderr bytes.Buffer
		p, err := h.Start(ctx, testbed.Cmd{Argv: []string{"sh", "-c", `printf 'out\n'; printf 'err\n' >&2; exit 7`}, Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		var ee *sshtb.ExitError
		if err := p.Wait(); !errors.As(err, &ee) || ee.Status != 7 || stdout.String() != "out\n" || stderr.String() != "err\n" {
			t.Errorf("%s: exit 7: %v, stdout %q, stderr %q", h.Role(), err, stdout.String(), stderr.String())
		}
		p, err = h.Start(ctx, testbed.Cmd{Argv: []string{"sleep", "30"}})
		if err != nil {
			t.Fatal(err)
		}
		child := descendants(t, p.Pid(), false)[0]
		p.Signal(syscall.SIGTERM)
		if err := p.Wait(); !errors.As(err, &ee) || ee.Signal != "TERM" || alive(child) {
			t.Errorf("%s: sleep sent SIGTERM: %v, still there %v; want it ended by TERM", h.Role(), err, alive(child))
		}
		if _, err := testbed.Run(ctx, h, "wgbench-no-such-command"); !errors.As(err, &ee) || ee.Status != 127 || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%s: a missing command: %v; want exit status 127, not found", h.Role(), err)
		}
	}

	// Lifeline: source's sshd dies with every session; what ran there
	// stops within seconds (drain's commands run on).
	l.killSSHD(t, testbed.Source)
	begin := time.Now()
	for time.Since(begin) < 5*time.Second {
		left := false
		for _, s := range procs {
			if strings.HasPrefix(s.label, testbed.Source) {
				for _, pid := range s.pids {
					left = left || alive(pid)
				}
			}
		}
		if !left {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range procs {
		for _, pid := range s.pids {
			onSource := strings.HasPrefix(s.label, testbed.Source)
			if onSource && alive(pid) {
				t.Errorf("%s: process %d (%s) still runs %s after its session died", s.label, pid, cmdline(pid), time.Since(begin).Round(time.Millisecond))
				syscall.Kill(pid, syscall.SIGKILL)
			} else if !onSource && !alive(pid) {
				t.Errorf("%s: process %d ended with source's sshd", s.label, pid)
			}
		}
	}
	t.Logf("source's commands gone %s after its sshd was killed", time.Since(begin).Round(time.Millisecond))
	deadline := time.Now().Add(10 * time.Second)
	for len(l.processes(t, testbed.Source)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := l.processes(t, testbed.Source); len(left) > 0 {
		t.Errorf("left on source after its sshd died: %v", left)
	}

	// Back to a clean lab: sshd up again, the rest torn down.
	l.runSSHD(t, testbed.Source)
	torndown = true
	if err := tb.Teardown(); !errors.Is(err, sshtb.ErrConnectionLost) {
		t.Errorf("teardown: %v; want source's lost connection", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(l.leftovers(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := l.leftovers(t); len(left) > 0 {
		t.Errorf("left on the hosts:\n%s", strings.Join(left, "\n"))
	}
}

// allowedCPUs is the Cpus_allowed_list of a process or thread; "" when it
// is gone.
func allowedCPUs(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%d/status", pid)
	return ""
}

// cmdline is a process's command line, space-separated.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// alive says whether pid is a process that has not ended (zombies have).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// children lists the children of pid (every thread's).
func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// descendants waits for pid's child (and, with deep, the child's child)
// and returns them.
func descendants(t *testing.T, pid int, deep bool) []int {
	t.Helper()
	var out []int
	deadline := time.Now().Add(5 * time.Second)
	for p := pid; ; {
		cs := children(p)
		if len(cs) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("process %d (%s) started no child in 5s", p, cmdline(p))
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		out = append(out, cs[0])
		if !deep || len(out) == 2 {
			return out
		}
		p = cs[0]
	}
}
