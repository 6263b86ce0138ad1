package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/testbed"
)

// execCmd is `wgbench agent exec [flags] -- argv...` with env added.
func execCmd(bin string, env []string, flags []string, argv ...string) *exec.Cmd {
	args := append([]string{"agent", "exec"}, flags...)
	args = append(append(args, "--"), argv...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// signalOf returns the signal that ended cmd, or 0.
func signalOf(cmd *exec.Cmd) syscall.Signal {
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// alive says whether pid is a process that has not ended (zombies are
// ended).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// gone waits up to d for pid to end (a zombie has ended) and says
// whether it did.
func gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// childOf waits for a child of pid running comm (the command it
// exec'd) and returns its pid. A child still named after its parent is
// skipped: it has not exec'd yet, or it is one Go's os/exec forked and
// let go again (seen under load: a first child named wgbench that
// vanished, then the real one).
func childOf(t *testing.T, pid int, comm string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// Each thread lists the children it started.
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				name, _ := os.ReadFile("/proc/" + f + "/comm")
				if strings.TrimSpace(string(name)) == comm {
					c, _ := strconv.Atoi(f)
					return c
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d started no %s child in 5s", pid, comm)
	return 0
}

// TestAgentExec checks the supervisor the SSH driver runs non-wgbench
// commands under: exit status, output, input and signals pass through;
// killing it kills the child.
func TestAgentExec(t *testing.T) {
	bin := testutil.Wgbench(t)

	t.Run("StatusAndOutput", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := execCmd(bin, nil, nil, "sh", "-c", `printf 'out\n'; printf 'err\n' >&2; exit 7`)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); exitCode(err) != 7 || stdout.String() != "out\n" || stderr.String() != "err\n" {
			t.Errorf("exit %d (%v), stdout %q, stderr %q; want 7, \"out\\n\", \"err\\n\"", exitCode(err), err, stdout.String(), stderr.String())
		}
		cmd = execCmd(bin, nil, nil, "true")
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("true: %v %q", err, out)
		}
		// Input reaches the child when the supervisor has no lifeline.
		cmd = execCmd(bin, nil, nil, "cat")
		cmd.Stdin = strings.NewReader("in\x00put\n")
		if out, err := cmd.Output(); err != nil || string(out) != "in\x00put\n" {
			t.Errorf("cat: %q %v", out, err)
		}
		// Flags after the command are the command's.
		if out, err := execCmd(bin, nil, nil, "echo", "--grace", "-v").Output(); err != nil || string(out) != "--grace -v\n" {
			t.Errorf("echo --grace -v: %q %v", out, err)
		}
		// What the command leaves running ends with it.
		begin := time.Now()
		out, err := execCmd(bin, nil, nil, "sh", "-c", "sleep 30 & echo $!").Output()
		bg, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || bg <= 0 || time.Since(begin) > 3*time.Second {
			t.Fatalf("sh -c 'sleep 30 &': %q %v after %s", out, err, time.Since(begin))
		}
		if !gone(bg, 3*time.Second) {
			syscall.Kill(bg, syscall.SIGKILL)
			t.Error("a background process of the command outlived it")
		}
		// A command that is not there, or cannot run: as a shell says.
		for argv, want := range map[string]int{"wgbench-no-such-command": 127, "/etc/passwd": 126} {
			var stderr bytes.Buffer
			cmd := execCmd(bin, nil, nil, argv)
			cmd.Stderr = &stderr
			if err := cmd.Run(); exitCode(err) != want || !strings.Contains(stderr.String(), argv) {
				t.Errorf("%s: exit %d, stderr %q; want %d naming it", argv, exitCode(err), stderr.String(), want)
			}
		}
	})

	t.Run("Signals", func(t *testing.T) {
		// A child killed by a signal: the supervisor dies of it too.
		cmd := execCmd(bin, nil, nil, "sh", "-c", "kill -TERM $$")
		if err := cmd.Run(); signalOf(cmd) != syscall.SIGTERM {
			t.Errorf("child killed by SIGTERM: supervisor ended with %v", err)
		}
		// Signals to the supervisor are passed on.
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			cmd := execCmd(bin, nil, nil, "sleep", "30")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			child := childOf(t, cmd.Process.Pid, "sleep")
			cmd.Process.Signal(sig)
			err := waitTimeout(t, cmd, 5*time.Second)
			if signalOf(cmd) != sig || alive(child) {
				t.Errorf("%v to the supervisor: it ended with %v, child alive %v; want both ended by %v", sig, err, alive(child), sig)
			}
		}
		// USR1 reaches the child too, and its status comes back.
		cmd = execCmd(bin, nil, nil, "sh", "-c", `trap 'exit 42' USR1; while :; do sleep 0.05; done`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		childOf(t, cmd.Process.Pid, "sh")
		time.Sleep(100 * time.Millisecond) // the trap is set
		cmd.Process.Signal(syscall.SIGUSR1)
		if err := waitTimeout(t, cmd, 5*time.Second); exitCode(err) != 42 {
			t.Errorf("USR1 trapped by the child: supervisor ended with %v, want exit status 42", err)
		}
		// A killed supervisor takes its child along.
		cmd = execCmd(bin, nil, nil, "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		child := childOf(t, cmd.Process.Pid, "sleep")
		cmd.Process.Kill()
		cmd.Wait()
		if !gone(child, 3*time.Second) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Error("the child outlived its SIGKILLed supervisor")
		}
	})

	t.Run("Lifeline", func(t *testing.T) {
		// A child that stops on SIGTERM, one that ignores it (and has a
		// child of its own): both are gone soon after stdin closes.
		for _, c := range []struct {
			argv []string
			sig  syscall.Signal
			took time.Duration // at least
		}{
			{[]string{"sleep", "30"}, syscall.SIGTERM, 0},
			{[]string{"sh", "-c", `trap '' TERM; sleep 30; echo not stopped`}, syscall.SIGKILL, 500 * time.Millisecond},
		} {
			cmd := execCmd(bin, []string{testbed.LifelineEnv + "=1"}, []string{"--grace", "500ms"}, c.argv...)
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			child := childOf(t, cmd.Process.Pid, c.argv[0])
			time.Sleep(200 * time.Millisecond)
			if !alive(child) || cmd.ProcessState != nil {
				t.Fatalf("%v ended before its lifeline did: %s", c.argv, out.String())
			}
			var grandchild int
			if c.argv[0] == "sh" {
				grandchild = childOf(t, child, "sleep")
			}
			begin := time.Now()
			w.Close()
			err = waitTimeout(t, cmd, 5*time.Second)
			took := time.Since(begin)
			if signalOf(cmd) != c.sig || took < c.took || took > 3*time.Second {
				t.Errorf("%v: lifeline ended; supervisor ended with %v after %s; want %v after %s..3s", c.argv, err, took.Round(time.Millisecond), c.sig, c.took)
			}
			// The group's SIGKILL went out as the supervisor ended; a
			// loaded machine may take a moment to deliver it.
			for _, pid := range []int{child, grandchild} {
				if pid > 0 && !gone(pid, 3*time.Second) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("%v: process %d outlived the lifeline by 3s", c.argv, pid)
				}
			}
			if strings.Contains(out.String(), "not stopped") {
				t.Errorf("%v: output %q", c.argv, out.String())
			}
		}
	})

	t.Run("CPUs", func(t *testing.T) {
		if runtime.NumCPU() < 2 {
			t.Skip("needs two CPUs to see a confinement")
		}
		last := strconv.Itoa(runtime.NumCPU() - 1)
		// The command runs on the CPUs named, wgbench does not pass the
		// variable on.
		cmd := execCmd(bin, []string{testbed.CPUsEnv + "=" + last}, nil, "sh", "-c",
			`grep Cpus_allowed_list /proc/self/status /proc/$PPID/status | cut -f2; echo "env=$WGBENCH_CPUS"`)
		out, err := cmd.Output()
		if want := last + "\n" + last + "\nenv=\n"; err != nil || string(out) != want {
			t.Errorf("confined to CPU %s: %q (%v); want the child and the supervisor on it and no variable:\n%s", last, out, err, want)
		}
		// wgbench itself: its facts say where it ran.
		cmd = exec.Command(bin, "agent", "facts")
		cmd.Env = append(os.Environ(), testbed.CPUsEnv+"=0,"+last)
		out, err = cmd.Output()
		var f struct {
			Allowed string `json:"allowed_cpus"`
			Cores   int    `json:"cores"`
		}
		want := "0," + last
		if last == "1" {
			want = "0-1"
		}
		if jerr := json.Unmarshal(out, &f); err != nil || jerr != nil || (f.Cores > 2 && f.Allowed != want) || (f.Cores <= 2 && f.Allowed != "") {
			t.Errorf("agent facts confined to 0,%s: allowed_cpus %q of %d cores (%v %v)", last, f.Allowed, f.Cores, err, jerr)
		}
		cmd = exec.Command(bin, "agent", "facts")
		cmd.Env = append(os.Environ(), testbed.CPUsEnv+"="+last)
		out, _ = cmd.Output()
		if json.Unmarshal(out, &f); f.Allowed != last {
			t.Errorf("agent facts confined to %s: allowed_cpus %q", last, f.Allowed)
		}
		// CPUs the host does not have: an error that says what to fix.
		cmd = exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), testbed.CPUsEnv+"=4000")
		out, err = cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "online CPUs are") || !strings.Contains(string(out), "inventory") {
			t.Errorf("confined to CPU 4000: %v: %s", err, out)
		}
	})
}
