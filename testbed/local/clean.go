package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Leftover is what a run left behind, found by Clean.
type Leftover struct {
	// Tag is the run's tag.
	Tag string
	// Namespaces are the run's namespace names.
	Namespaces []string
	// Owner is the pid of the run that made them, 0 when unknown.
	Owner int
	// Live is true when the owner still runs: Clean leaves it alone
	// unless forced.
	Live bool
	// Killed are the pids Clean ended.
	Killed []int
	// Ports are the physical WAN ports (Options.WAN) Clean gave back to
	// this namespace with their journaled state.
	Ports []string
	// Kept says why Clean left the run's namespaces in place: its ports
	// could not be given back. "" when it removed them.
	Kept string
}

// Clean finds the namespaces and state of earlier runs and removes those
// whose owner is gone (all of them with force): the processes inside their
// namespaces are stopped, the namespaces deleted (with their links and TUN
// devices), stale WireGuard control sockets and state directories removed.
// Physical WAN ports a run took are first given back, as its journal
// recorded them; a run whose ports cannot be given back is kept, but for
// ports taken from another namespace, which force gives up.
// With dryRun it only reports.
func Clean(force, dryRun bool) ([]Leftover, error) {
	byTag := map[string]*Leftover{}
	entries, err := os.ReadDir(NetnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) {
			continue
		}
		tag, _, ok := strings.Cut(strings.TrimPrefix(name, Prefix), "-")
		if !ok {
			continue
		}
		lo := byTag[tag]
		if lo == nil {
			lo = &Leftover{Tag: tag}
			byTag[tag] = lo
		}
		lo.Namespaces = append(lo.Namespaces, name)
	}
	states, _ := os.ReadDir(StateDir)
	for _, e := range states {
		if byTag[e.Name()] == nil {
			byTag[e.Name()] = &Leftover{Tag: e.Name()}
		}
	}
	var out []Leftover
	var errs []error
	for tag, lo := range byTag {
		lo.Owner = readOwner(filepath.Join(StateDir, tag, "owner"))
		lo.Live = lo.Owner > 0 && alive(lo.Owner)
		if !dryRun && (!lo.Live || force) {
			for _, ns := range lo.Namespaces {
				killed, err := killInNamespaceList(filepath.Join(NetnsDir, ns))
				lo.Killed = append(lo.Killed, killed...)
				if err != nil {
					errs = append(errs, err)
				}
			}
			ports, err := restorePorts(filepath.Join(StateDir, tag), func(role string) string {
				return filepath.Join(NetnsDir, NamespaceName(tag, role))
			})
			lo.Ports = ports
			if errors.Is(err, errOtherNamespace) && force {
				// Given up: physical ports return to the initial
				// namespace when theirs is deleted, virtual ones go.
				err = nil
			}
			if err != nil {
				lo.Kept = err.Error()
				errs = append(errs, fmt.Errorf("run %s: %w; its namespaces are kept", tag, err))
				sort.Strings(lo.Namespaces)
				out = append(out, *lo)
				continue
			}
			for _, ns := range lo.Namespaces {
				if err := netns.DeleteNamed(ns); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns, err))
				}
			}
			if err := os.RemoveAll(filepath.Join(StateDir, tag)); err != nil {
				errs = append(errs, err)
			}
		}
		sort.Strings(lo.Namespaces)
		out = append(out, *lo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out, errors.Join(errs...)
}

// killInNamespace ends every process whose network namespace is the one
// bind-mounted at nsPath.
func killInNamespace(nsPath string) error {
	_, err := killInNamespaceList(nsPath)
	return err
}

func killInNamespaceList(nsPath string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(nsPath, &want); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat %s: %w", nsPath, err)
	}
	pids := pidsInNamespace(want.Dev, want.Ino)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return pids, nil
}

// pidsInNamespace lists the processes whose network namespace is (dev, ino).
func pidsInNamespace(dev uint64, ino uint64) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil {
			continue
		}
		if st.Dev == dev && st.Ino == ino {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readOwner(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
