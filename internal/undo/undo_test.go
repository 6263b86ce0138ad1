package undo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestGone(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ENOENT", unix.ENOENT, true},
		{"fs.ErrNotExist", fs.ErrNotExist, true},
		{"os.ErrNotExist", os.ErrNotExist, true},
		{"path error ENOENT", &fs.PathError{Op: "write", Path: "/sys/class/net/x/threaded", Err: unix.ENOENT}, true},
		{"wrapped fs.ErrNotExist", fmt.Errorf("write rps_cpus: %w", fs.ErrNotExist), true},
		{"ESRCH", unix.ESRCH, true},
		{"wrapped ESRCH", fmt.Errorf("sched_setaffinity: %w", unix.ESRCH), true},
		{"ENODEV", unix.ENODEV, true},
		{"path error ENODEV", &fs.PathError{Op: "write", Path: "/sys/class/net/x/mtu", Err: unix.ENODEV}, true},
		{"EADDRNOTAVAIL", unix.EADDRNOTAVAIL, true},
		{"netlink.LinkNotFoundError", netlink.LinkNotFoundError{}, true},
		{"wrapped netlink.LinkNotFoundError", fmt.Errorf("find link: %w", netlink.LinkNotFoundError{}), true},
		{"EPERM", unix.EPERM, false},
		{"EACCES path error", &fs.PathError{Op: "write", Path: "/proc/sys/net/ipv4/ip_forward", Err: unix.EACCES}, false},
		{"EEXIST", unix.EEXIST, false},
		{"EBUSY", unix.EBUSY, false},
		{"EINVAL", unix.EINVAL, false},
		{"plain error", errors.New("link not found"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Gone(tt.err); got != tt.want {
				t.Errorf("Gone(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		results []error // per step, oldest first
		// wantErrs are the substrings the joined error holds; none means nil.
		wantErrs   []string
		wantUndone []string // newest first
	}{
		{name: "empty"},
		{
			name:       "all succeed",
			results:    []error{nil, nil, nil},
			wantUndone: []string{"step 2", "step 1", "step 0"},
		},
		{
			name:       "gone counts as undone",
			results:    []error{unix.ESRCH, fmt.Errorf("x: %w", fs.ErrNotExist), netlink.LinkNotFoundError{}},
			wantUndone: []string{"step 2", "step 1", "step 0"},
		},
		{
			name:       "keeps going after failures and joins them",
			results:    []error{boom, nil, unix.EPERM, unix.ENODEV},
			wantErrs:   []string{"undo step 0: boom", "undo step 2: operation not permitted"},
			wantUndone: []string{"step 3", "step 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stack
			var ran []string
			for i, res := range tt.results {
				what := fmt.Sprintf("step %d", i)
				s.Push(what, func() error { ran = append(ran, what); return res })
			}
			if s.Len() != len(tt.results) {
				t.Fatalf("Len = %d, want %d", s.Len(), len(tt.results))
			}
			var undone []string
			err := s.RunEach(func(what string) { undone = append(undone, what) })
			var wantRan []string
			for i := len(tt.results) - 1; i >= 0; i-- {
				wantRan = append(wantRan, fmt.Sprintf("step %d", i))
			}
			if !slices.Equal(ran, wantRan) {
				t.Errorf("ran %q, want %q (newest first, every step)", ran, wantRan)
			}
			if !slices.Equal(undone, tt.wantUndone) {
				t.Errorf("reported undone %q, want %q", undone, tt.wantUndone)
			}
			if len(tt.wantErrs) == 0 && err != nil {
				t.Errorf("Run: %v, want nil", err)
			}
			if len(tt.wantErrs) > 0 && err == nil {
				t.Fatalf("Run: nil, want an error holding %q", tt.wantErrs)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run error %q lacks %q", err, w)
				}
			}
			if tt.wantErrs != nil && !errors.Is(err, tt.results[0]) {
				t.Errorf("Run error %q does not wrap the oldest step's error", err)
			}
			if s.Len() != 0 {
				t.Errorf("after Run, Len = %d, want 0", s.Len())
			}
			ran = nil
			if err := s.Run(); err != nil || len(ran) != 0 {
				t.Errorf("second Run: %v, ran %q; want nothing to do", err, ran)
			}
		})
	}
}

func TestStackReuseAndChanges(t *testing.T) {
	var s Stack
	var ran []string
	push := func(what string) { s.Push(what, func() error { ran = append(ran, what); return nil }) }
	push("a")
	push("b")
	if got, want := s.Changes(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %q, want %q (oldest first)", got, want)
	}
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	push("c")
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "a", "c"}; !slices.Equal(ran, want) {
		t.Errorf("ran %q, want %q: a Run must not replay steps already run", ran, want)
	}
	if got := s.Changes(); len(got) != 0 {
		t.Errorf("Changes after Run = %q, want none", got)
	}
}
