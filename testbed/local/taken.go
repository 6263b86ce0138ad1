package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wgbench/wgbench/testbed"
)

// TakenError says that a run tag cannot be used because one of the names
// it would create already exists: a namespace wgb-<tag>-<role> or the
// state directory /run/wgbench/<tag>. Provision returns it before touching
// any of them; what exists belongs to someone else and is left as it is.
type TakenError struct {
	// Tag is the run tag asked for.
	Tag string
	// Namespaces are the tag's namespace names that exist.
	Namespaces []string
	// State is the tag's state directory when it exists, else "".
	State string
	// Owner is the pid recorded in the state directory, 0 when there is
	// none.
	Owner int
	// OwnerAlive says the owner still runs.
	OwnerAlive bool
	// RunPids are the processes inside the namespaces that carry
	// WGBENCH_RUN=<tag> in their environment: a wgbench run's.
	RunPids []int
	// OtherPids are the other processes inside the namespaces, with
	// their command names.
	OtherPids []int
	OtherCmds []string
}

// Live says the names look like those of a wgbench run in progress: its
// owner runs, or, with no owner on record, processes of the run do.
func (e *TakenError) Live() bool {
	return e.OwnerAlive || (e.Owner == 0 && len(e.RunPids) > 0)
}

func (e *TakenError) Error() string {
	var b strings.Builder
	b.WriteString("local testbed: ")
	switch len(e.Namespaces) {
	case 0:
		fmt.Fprintf(&b, "run tag %s is taken: %s already exists", e.Tag, e.State)
	case 1:
		fmt.Fprintf(&b, "namespace %s already exists", e.Namespaces[0])
	default:
		fmt.Fprintf(&b, "namespaces %s already exist", strings.Join(e.Namespaces, ", "))
	}
	b.WriteString(": ")
	switch {
	case e.Live():
		fmt.Fprintf(&b, "it looks like a live wgbench run with tag %s (", e.Tag)
		var why []string
		if e.OwnerAlive {
			why = append(why, fmt.Sprintf("its wgbench process %d runs", e.Owner))
		}
		if len(e.RunPids) > 0 {
			verb := "carries"
			if len(e.RunPids) > 1 {
				verb = "carry"
			}
			why = append(why, fmt.Sprintf("%s %s %s=%s", pidList(e.RunPids, "process"), verb, RunEnv, e.Tag))
		}
		b.WriteString(strings.Join(why, "; "))
		b.WriteString("). wgbench does not touch what it did not create: wait for that run to end, or run with another --tag (or none: a free one is picked)")
	case e.State != "" || len(e.RunPids) > 0:
		// Not live: the state directory says whose it was.
		b.WriteString("it is left over by a wgbench run that is gone (")
		if e.Owner > 0 {
			fmt.Fprintf(&b, "its wgbench process %d no longer runs", e.Owner)
		} else {
			fmt.Fprintf(&b, "%s records no owner", e.State)
		}
		if n := len(e.RunPids); n == 1 {
			fmt.Fprintf(&b, "; its process %d still runs", e.RunPids[0])
		} else if n > 1 {
			fmt.Fprintf(&b, "; its %s still run", pidList(e.RunPids, "process"))
		}
		b.WriteString("). Remove it with `wgbench testbed clean`, or run with another --tag")
	default:
		b.WriteString("no wgbench run owns it")
		if len(e.OtherPids) > 0 {
			var ps []string
			for i, pid := range e.OtherPids {
				ps = append(ps, fmt.Sprintf("%d (%s)", pid, e.OtherCmds[i]))
			}
			fmt.Fprintf(&b, ", but processes run in it: %s", strings.Join(ps, ", "))
		}
		b.WriteString(". If it is a leftover of wgbench, remove it with `wgbench testbed clean`; if something else made it, run with another --tag (or none: a free one is picked)")
	}
	return b.String()
}

func pidList(pids []int, noun string) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	if len(pids) == 1 {
		return noun + " " + s[0]
	}
	return noun + "es " + strings.Join(s, ", ")
}

// checkTag returns a *TakenError when any name tag would create exists,
// else nil. Names in mine (state directory path or namespace name) are
// this run's own and not reported. It only looks.
func checkTag(tag string, mine map[string]bool) error {
	e := &TakenError{Tag: tag}
	state := filepath.Join(StateDir, tag)
	if _, err := os.Lstat(state); !mine[state] && !errors.Is(err, os.ErrNotExist) {
		e.State = state
		e.Owner = readOwner(filepath.Join(state, "owner"))
		e.OwnerAlive = e.Owner > 0 && alive(e.Owner)
	}
	for _, role := range testbed.Roles {
		name := NamespaceName(tag, role)
		path := filepath.Join(NetnsDir, name)
		if _, err := os.Lstat(path); mine[name] || errors.Is(err, os.ErrNotExist) {
			continue
		}
		e.Namespaces = append(e.Namespaces, name)
		var st syscall.Stat_t
		if syscall.Stat(path, &st) != nil {
			continue
		}
		for _, pid := range pidsInNamespace(st.Dev, st.Ino) {
			if runOf(pid) == tag {
				e.RunPids = append(e.RunPids, pid)
			} else {
				e.OtherPids = append(e.OtherPids, pid)
				e.OtherCmds = append(e.OtherCmds, commOf(pid))
			}
		}
	}
	if e.State == "" && len(e.Namespaces) == 0 {
		return nil
	}
	return e
}

// runOf returns the WGBENCH_RUN value in pid's environment, or "".
func runOf(pid int) string {
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(RunEnv+"=")); ok {
			return string(v)
		}
	}
	return ""
}

// commOf returns pid's command name, or "?".
func commOf(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
