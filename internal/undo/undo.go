// Package undo keeps the changes a program made to a host, newest on top,
// and reverts them newest first. Every part of wgbench that changes a host
// (addresses, routes, sysfs knobs, ethtool features, ntuple rules) records
// the way back here, so that "every change is undone" has one meaning:
// every step is tried, steps whose object is gone already count as undone
// (see Gone), and the other failures are joined into one error.
package undo

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Stack records how to revert changes, newest on top. The zero value is
// an empty stack ready to use. It is safe for concurrent use.
type Stack struct {
	mu    sync.Mutex
	steps []step
}

type step struct {
	what string
	undo func() error
}

// Push records a change: what describes it (as in "route 10.0.0.0/24 via
// 10.1.0.1"; errors read "undo <what>: ...") and undo reverts it.
func (s *Stack) Push(what string, undo func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step{what, undo})
}

// Len reports how many changes are recorded.
func (s *Stack) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps)
}

// Changes describes the recorded changes, oldest first.
func (s *Stack) Changes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.steps))
	for i, st := range s.steps {
		out[i] = st.what
	}
	return out
}

// Run reverts every recorded change, newest first, and empties the stack,
// which may then be used again. It is best-effort: every step is tried
// even after a failure, a step whose error satisfies Gone counts as
// undone, and the other failures are joined, each as "undo <what>: <err>".
func (s *Stack) Run() error { return s.RunEach(nil) }

// RunEach is Run that also calls undone, when it is not nil, with the
// description of each step undone or found gone already, in the order
// they are run.
func (s *Stack) RunEach(undone func(what string)) error {
	s.mu.Lock()
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()
	var errs []error
	for _, st := range slices.Backward(steps) {
		if err := st.undo(); err != nil && !Gone(err) {
			errs = append(errs, fmt.Errorf("undo %s: %w", st.what, err))
			continue
		}
		if undone != nil {
			undone(st.what)
		}
	}
	return errors.Join(errs...)
}

// Gone reports whether err, returned while reverting a change, means that
// the object the change was made to no longer exists, so there is nothing
// left to revert. Those are:
//
//   - fs.ErrNotExist, which ENOENT also satisfies: a sysfs or procfs file
//     gone with its device, queue or thread; a netlink object (a rule, a
//     neighbour) or an ethtool ntuple rule that is not there.
//   - ESRCH: a route deleted already (netlink answers "no such process"),
//     or a thread that exited before its affinity was put back.
//   - ENODEV: a network device deleted meanwhile (netlink calls by index,
//     ethtool, writes to a removed device's attributes).
//   - EADDRNOTAVAIL: an address no longer on its link.
//   - netlink.LinkNotFoundError: LinkByName or LinkByIndex found no link;
//     it wraps no errno, so it is matched by its type.
func Gone(err error) bool {
	if err == nil {
		return false
	}
	var nf netlink.LinkNotFoundError
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) ||
		errors.Is(err, unix.EADDRNOTAVAIL) || errors.As(err, &nf)
}
