package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// taskCommLen is the kernel's TASK_COMM_LEN: thread names are cut to 15
// bytes.
const taskCommLen = 16

// NAPIThread is a kernel thread that runs a NAPI poll function in
// threaded mode.
type NAPIThread struct {
	// PID is the thread's id.
	PID int `json:"pid"`
	// Comm is its name, "napi/<dev>-<napi id>" cut to 15 bytes.
	Comm string `json:"comm"`
}

// NAPICommMatches reports whether comm may be the name of a NAPI thread
// of device dev. The kernel names them "napi/<dev>-<napi id>" (the id is 0
// for WireGuard's). Since Linux 5.17 /proc/<pid>/comm shows a kernel
// thread's full name; before, names were cut to 15 bytes, and for long
// device names only those are compared. The name never tells devices of
// the same name in two network namespaces apart.
func NAPICommMatches(comm, dev string) bool {
	prefix := "napi/" + dev + "-"
	if rest, ok := strings.CutPrefix(comm, prefix); ok && rest != "" {
		for _, r := range rest {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return len(comm) == taskCommLen-1 && len(prefix) >= taskCommLen-1 && comm == prefix[:taskCommLen-1]
}

// NAPIThreads lists the processes under /proc of f whose name matches
// dev's NAPI threads (see NAPICommMatches), by pid.
func NAPIThreads(f Files, dev string) ([]NAPIThread, error) {
	names, err := f.List("/proc")
	if err != nil {
		return nil, err
	}
	var out []NAPIThread
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		comm, err := f.Read("/proc/" + n + "/comm")
		if err != nil {
			continue // exited meanwhile
		}
		if NAPICommMatches(comm, dev) {
			out = append(out, NAPIThread{PID: pid, Comm: comm})
		}
	}
	slices.SortFunc(out, func(a, b NAPIThread) int { return a.PID - b.PID })
	return out, nil
}

// allNAPIComms returns the names of every NAPI thread, for error messages.
func allNAPIComms(f Files) []string {
	names, _ := f.List("/proc")
	out := []string{}
	for _, n := range names {
		if comm, err := f.Read("/proc/" + n + "/comm"); err == nil && strings.HasPrefix(comm, "napi/") {
			out = append(out, n+":"+comm)
		}
	}
	return out
}

// newThreads returns the threads of after whose pid is not in before.
func newThreads(before, after []NAPIThread) []NAPIThread {
	var out []NAPIThread
	for _, t := range after {
		if !slices.ContainsFunc(before, func(b NAPIThread) bool { return b.PID == t.PID }) {
			out = append(out, t)
		}
	}
	return out
}

// lockFile takes an exclusive flock on path, creating it, and returns the
// function that releases it. An empty path takes no lock.
func lockFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock %s: its directory is missing (mount a tmpfs on /run): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
