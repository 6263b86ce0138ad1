// Package procset keeps the processes a testbed driver started on its
// hosts: the set of those still running, the watcher that stops one when
// its context ends, and the stop-all of teardown. The local and SSH
// drivers share it, so both stop processes the same way.
package procset

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is what the set needs of a started process.
type Proc interface {
	// Signal delivers sig to the process.
	Signal(sig os.Signal) error
	// Done is closed once the process has ended.
	Done() <-chan struct{}
}

// ErrClosed is what Set.Start returns once the set is closed.
var ErrClosed = errors.New("process set is closed")

// Set is the processes of one testbed that have started and not yet
// ended. The zero value is an empty, open set; it is safe for concurrent
// use.
type Set[P interface {
	comparable
	Proc
}] struct {
	mu     sync.Mutex
	live   map[P]struct{}
	closed bool
}

// Start calls start, which starts a process, and adds the process it
// returns. Both happen under the set's lock, so a Close that runs
// meanwhile sees the new process. Once the set is closed, Start returns
// ErrClosed without calling start.
func (s *Set[P]) Start(start func() (P, error)) (P, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		var zero P
		return zero, ErrClosed
	}
	p, err := start()
	if err != nil {
		return p, err
	}
	s.add(p)
	return p, nil
}

// Add adds p, a process that has started (also after Close).
func (s *Set[P]) Add(p P) {
	s.mu.Lock()
	s.add(p)
	s.mu.Unlock()
}

func (s *Set[P]) add(p P) {
	if s.live == nil {
		s.live = map[P]struct{}{}
	}
	s.live[p] = struct{}{}
}

// Remove drops p: it has ended, or someone else stops it.
func (s *Set[P]) Remove(p P) {
	s.mu.Lock()
	delete(s.live, p)
	s.mu.Unlock()
}

// Closed reports whether Close has been called.
func (s *Set[P]) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the set and returns the processes in it, to be stopped
// (StopAll). first is false when the set was closed already.
func (s *Set[P]) Close() (live []P, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = !s.closed
	s.closed = true
	live = make([]P, 0, len(s.live))
	for p := range s.live {
		live = append(live, p)
	}
	return live, first
}

// Watch stops p if ctx ends before p does (see Stop). It returns at once;
// the watching goroutine ends with p.
func Watch(ctx context.Context, p Proc, grace time.Duration, abandon func()) {
	go func() {
		select {
		case <-ctx.Done():
			Stop(p, grace, abandon)
		case <-p.Done():
		}
	}()
}

// Stop sends p SIGTERM and, if it has not ended after grace, SIGKILL. If
// abandon is nil Stop then waits for p to end; otherwise it waits another
// grace at most and then calls abandon (which should make p end, as far
// as the driver is concerned: an SSH session is closed, say).
func Stop(p Proc, grace time.Duration, abandon func()) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		return
	case <-time.After(grace):
	}
	p.Signal(syscall.SIGKILL)
	if abandon == nil {
		<-p.Done()
		return
	}
	select {
	case <-p.Done():
	case <-time.After(grace):
		abandon()
	}
}

// StopAll stops the processes in parallel, each as Stop does, and returns
// when Stop has returned for all of them. abandon, when not nil, is
// Stop's abandon for each process.
func StopAll[P Proc](procs []P, grace time.Duration, abandon func(P)) {
	var wg sync.WaitGroup
	for _, p := range procs {
		var ab func()
		if abandon != nil {
			ab = func() { abandon(p) }
		}
		wg.Go(func() { Stop(p, grace, ab) })
	}
	wg.Wait()
}

// LastLines keeps the last n lines of s: the tail of a process's output
// that an error message quotes.
func LastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
