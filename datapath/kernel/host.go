package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
)

// ErrUnsupported marks a knob this host cannot apply: the kernel, the NIC
// or the machine lacks what it needs. Its message starts every such error:
// "not supported on this host: <reason>".
var ErrUnsupported = errors.New("not supported on this host")

// ErrNeedsPatchedModule marks a knob of the patched "inline" WireGuard
// module (inline_en, encrypt_cpumask, …) on a kernel whose module lacks
// the attribute.
var ErrNeedsPatchedModule = errors.New("needs the patched inline module")

// unsupported returns an ErrUnsupported error with the reason.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// Files reads and writes the kernel's attribute files. Paths are absolute
// and canonical ("/sys/class/net/wg0/threaded", "/proc/42/comm"), so that
// records show where a change was made, whatever tree an implementation
// maps them to. Missing files are errors that satisfy
// errors.Is(err, fs.ErrNotExist).
type Files interface {
	// Read returns the content of a file, surrounding space trimmed.
	Read(path string) (string, error)
	// Write writes value to an existing file in one write; it never
	// creates a file.
	Write(path, value string) error
	// List returns the names in a directory, sorted.
	List(dir string) ([]string, error)
}

// Tree is the Files of a directory tree: paths under /sys are looked up
// under Sys, those under /proc under Proc. LocalTree is the running
// kernel's; tests point a Tree at a temporary directory.
type Tree struct {
	Sys  string
	Proc string
}

// LocalTree returns the Tree of the running kernel, /sys and /proc.
func LocalTree() Tree { return Tree{Sys: "/sys", Proc: "/proc"} }

func (t Tree) real(path string) (string, error) {
	clean := filepath.Clean(path)
	for _, m := range []struct{ prefix, root string }{{"/sys", t.Sys}, {"/proc", t.Proc}} {
		if clean == m.prefix || strings.HasPrefix(clean, m.prefix+"/") {
			if m.root == "" {
				return "", fmt.Errorf("%s: no %s tree configured", path, m.prefix)
			}
			return filepath.Join(m.root, strings.TrimPrefix(clean, m.prefix)), nil
		}
	}
	return "", fmt.Errorf("%s: not a path under /sys or /proc", path)
}

// Read implements Files.
func (t Tree) Read(path string) (string, error) {
	p, err := t.real(path)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, unwrapPath(err))
	}
	return strings.TrimSpace(string(b)), nil
}

// Write implements Files.
func (t Tree) Write(path, value string) error {
	p, err := t.real(path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	_, werr := f.Write([]byte(value + "\n"))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, unwrapPath(err))
	}
	return nil
}

// List implements Files.
func (t Tree) List(dir string) ([]string, error) {
	p, err := t.real(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, unwrapPath(err))
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path is the mapped
// one; the callers name the canonical path instead.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// exists reports whether path can be read as a file or directory.
func exists(f Files, path string) bool {
	if _, err := f.Read(path); err == nil {
		return true
	}
	_, err := f.List(path)
	return err == nil
}

// Affinity reads and sets the CPU affinity of threads.
type Affinity interface {
	// Get returns the CPUs thread pid may run on, sorted.
	Get(pid int) ([]int, error)
	// Set restricts thread pid to cpus.
	Set(pid int, cpus []int) error
}

// schedAffinity is the Affinity of the running kernel:
// sched_getaffinity(2) and sched_setaffinity(2).
type schedAffinity struct{}

func (schedAffinity) Get(pid int) ([]int, error) { return cpuset.GetAffinity(pid) }

func (schedAffinity) Set(pid int, cpus []int) error {
	return cpuset.SetAffinity(pid, cpuset.Set(cpus).Sorted())
}

// Host is everything of the machine the tuner touches besides netlink.
// The zero value is not usable; LocalHost returns the running kernel's.
type Host struct {
	// Files maps /sys and /proc.
	Files Files
	// Affinity pins threads.
	Affinity Affinity
	// Ethtool reads and sets NIC features. Nil means the running kernel's,
	// opened by the tuner in the calling thread's network namespace.
	Ethtool Ethtool
	// NAPILock serialises enabling threaded NAPI with finding the threads
	// it creates, across processes: the kernel names the threads by
	// device name only, and two namespaces of one machine (the local
	// testbed's gateways) have devices of the same name. Empty means no
	// lock.
	NAPILock string
}

// DefaultNAPILock is the lock file LocalHost uses.
const DefaultNAPILock = "/run/wgbench-napi.lock"

// LocalHost returns the Host of the running kernel.
func LocalHost() Host {
	return Host{Files: LocalTree(), Affinity: schedAffinity{}, NAPILock: DefaultNAPILock}
}
