package progress

import (
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainOutputHasNoBar(t *testing.T) {
	var b strings.Builder
	r := New(&b, false)
	r.Plan(4, time.Second)
	r.Begin("wggo t=1")
	r.Printf("line %d", 1)
	r.Done("1.00 Gbit/s")
	r.Close()
	if got := b.String(); got != "line 1\n" {
		t.Errorf("output %q, want only the line (no bar, no escapes) when not a terminal", got)
	}
}

func TestTerminalBarAndTimeLeft(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	var b strings.Builder
	r := New(&b, true)
	r.now = c.now
	r.Plan(4, 10*time.Second)
	if got := r.Left(); got != 40*time.Second {
		t.Errorf("planned time left = %s, want 40s", got)
	}
	r.Begin("wggo tunnels=2 rep 1/2")
	c.t = c.t.Add(6 * time.Second)
	r.Done("2.31 Gbit/s")
	// One step took 6s: three left take 18s.
	if got := r.Left(); got != 18*time.Second {
		t.Errorf("time left after one 6s step = %s, want 18s", got)
	}
	st := r.Status()
	for _, want := range []string{"[#####---------------] 1/4", "wggo tunnels=2 rep 1/2", "last 2.31 Gbit/s", "~18s left"} {
		if !strings.Contains(st, want) {
			t.Errorf("status %q lacks %q", st, want)
		}
	}
	r.Printf("a line")
	out := b.String()
	if !strings.Contains(out, "\r\033[Ka line\n") {
		t.Errorf("a printed line must clear the bar first: %q", out)
	}
	r.Close()
	if !strings.HasSuffix(b.String(), "\r\033[K") {
		t.Errorf("Close must clear the bar: %q", b.String())
	}
}
