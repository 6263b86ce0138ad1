package procset

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// cmdProc is a real process on this machine.
type cmdProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *cmdProc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }
func (p *cmdProc) Done() <-chan struct{}      { return p.done }

// start runs the shell script and kills it at the end of the test.
func start(t *testing.T, script string) *cmdProc {
	t.Helper()
	p := &cmdProc{cmd: exec.Command("sh", "-c", script), done: make(chan struct{})}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// deaf ignores every signal: only abandon ends it.
type deaf struct{ done chan struct{} }

func (d *deaf) Signal(os.Signal) error { return nil }
func (d *deaf) Done() <-chan struct{}  { return d.done }

func TestStop(t *testing.T) {
	tests := []struct {
		name   string
		script string
		signal syscall.Signal // what ended it
	}{
		{"ends on TERM", "sleep 30", syscall.SIGTERM},
		{"ignores TERM, killed", "trap '' TERM; sleep 30 & wait; sleep 30", syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.script)
			time.Sleep(100 * time.Millisecond) // let the shell set its trap
			Stop(p, 300*time.Millisecond, func() { t.Error("abandon called for a process that ended") })
			select {
			case <-p.done:
			default:
				t.Fatal("Stop returned before the process ended")
			}
			ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != tt.signal {
				t.Errorf("process ended with %v, want signal %v", p.cmd.ProcessState, tt.signal)
			}
		})
	}
}

func TestStopAbandons(t *testing.T) {
	d := &deaf{done: make(chan struct{})}
	abandoned := false
	t0 := time.Now()
	Stop(d, 50*time.Millisecond, func() { abandoned = true; close(d.done) })
	if !abandoned {
		t.Fatal("a process deaf to signals was not abandoned")
	}
	if el := time.Since(t0); el < 100*time.Millisecond {
		t.Errorf("abandoned after %v, before two graces of 50ms", el)
	}
}

func TestWatchStopsOnCancel(t *testing.T) {
	p := start(t, "sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	Watch(ctx, p, time.Second, nil)
	select {
	case <-p.done:
		t.Fatal("the process ended before its context did")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the process outlived its context")
	}
}

func TestSet(t *testing.T) {
	var s Set[*cmdProc]
	a, err := s.Start(func() (*cmdProc, error) { return start(t, "sleep 30"), nil })
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, "sleep 30")
	s.Add(b)
	boom := errors.New("boom")
	if _, err := s.Start(func() (*cmdProc, error) { return nil, boom }); err != boom {
		t.Fatalf("Start returned %v, want the start function's error", err)
	}
	s.Remove(b)
	live, first := s.Close()
	if !first || len(live) != 1 || live[0] != a {
		t.Fatalf("Close = %v, %v; want [a], true", live, first)
	}
	if !s.Closed() {
		t.Error("Closed is false after Close")
	}
	if _, err := s.Start(func() (*cmdProc, error) { t.Error("start called on a closed set"); return nil, nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Start on a closed set: %v, want ErrClosed", err)
	}
	if _, first := s.Close(); first {
		t.Error("second Close says it was the first")
	}
	StopAll(live, time.Second, nil)
	select {
	case <-a.done:
	default:
		t.Error("StopAll returned before the process ended")
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"one", 3, "one"},
		{"a\nb\nc", 3, "a\nb\nc"},
		{"a\nb\nc\nd\ne", 2, "d\ne"},
		{"a\nb\n", 1, ""},
	}
	for _, tt := range tests {
		if got := LastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
