// Package progress shows how far a long run is: plain lines when the output
// is not a terminal (CI, pipes, files), and a live status bar under them on
// a terminal.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Reporter prints progress lines and, on a terminal, a status bar with the
// current step, the last figure and the time left. It is safe for
// concurrent use; the zero value is not usable: call New.
type Reporter struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	now     func() time.Time
	total   int
	done    int
	perStep time.Duration // estimate before the first step ends
	started time.Time
	current string
	last    string
	barLen  int // length of the bar on screen, 0 when none
}

// New returns a Reporter writing to w. tty selects the live bar; see IsTerminal.
func New(w io.Writer, tty bool) *Reporter {
	return &Reporter{w: w, tty: tty, now: time.Now}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Plan sets the number of steps to come and the expected time of one.
func (r *Reporter) Plan(steps int, perStep time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total, r.perStep, r.started, r.done = steps, perStep, r.now(), 0
	r.redraw()
}

// Begin names the step under way.
func (r *Reporter) Begin(step string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current = step
	r.redraw()
}

// Done marks a step finished with its headline figure ("2.31 Gbit/s").
func (r *Reporter) Done(figure string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	r.last = figure
	r.redraw()
}

// Printf prints a line above the bar.
func (r *Reporter) Printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, format+"\n", args...)
	r.redraw()
}

// Close removes the bar.
func (r *Reporter) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
}

// Left estimates the time to finish: the mean time of the steps done so
// far (or the planned time per step before any) times the steps left.
func (r *Reporter) Left() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.left()
}

func (r *Reporter) left() time.Duration {
	rest := r.total - r.done
	if rest <= 0 {
		return 0
	}
	per := r.perStep
	if r.done > 0 {
		per = r.now().Sub(r.started) / time.Duration(r.done)
	}
	return per * time.Duration(rest)
}

// Status renders the bar's text.
func (r *Reporter) Status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status()
}

func (r *Reporter) status() string {
	const width = 20
	filled := 0
	if r.total > 0 {
		filled = min(width, width*r.done/r.total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat("-", width-filled), r.done, r.total)
	if r.current != "" {
		b.WriteString("  " + r.current)
	}
	if r.last != "" {
		b.WriteString("  last " + r.last)
	}
	fmt.Fprintf(&b, "  ~%s left", r.left().Round(time.Second))
	return b.String()
}

func (r *Reporter) clear() {
	if r.tty && r.barLen > 0 {
		fmt.Fprint(r.w, "\r\033[K")
		r.barLen = 0
	}
}

func (r *Reporter) redraw() {
	if !r.tty || r.total == 0 {
		return
	}
	s := r.status()
	fmt.Fprint(r.w, "\r\033[K"+s)
	r.barLen = len(s)
}
