package kernel

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeTree is a temporary /sys and /proc: a Tree over t.TempDir() whose
// writes to a tunnel's "threaded" attribute start NAPI threads (new
// /proc/<pid>/comm files), as the kernel does.
type fakeTree struct {
	Tree
	t       *testing.T
	mu      sync.Mutex
	nextPID int
	napiID  int
}

// newFakeTree makes a tree with files (canonical path → content).
func newFakeTree(t *testing.T, files map[string]string) *fakeTree {
	t.Helper()
	root := t.TempDir()
	ft := &fakeTree{Tree: Tree{Sys: filepath.Join(root, "sys"), Proc: filepath.Join(root, "proc")}, t: t, nextPID: 1000, napiID: 8193}
	for p, v := range files {
		ft.put(p, v)
	}
	return ft
}

func (ft *fakeTree) put(path, value string) {
	ft.t.Helper()
	p, err := ft.real(path)
	if err != nil {
		ft.t.Fatal(err)
	}
	if strings.HasSuffix(path, "/") {
		if err := os.MkdirAll(p, 0o755); err != nil {
			ft.t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		ft.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
		ft.t.Fatal(err)
	}
}

// Write implements Files, starting a NAPI thread for a device that turns
// threaded on for the first time.
func (ft *fakeTree) Write(path, value string) error {
	old, _ := ft.Tree.Read(path)
	if err := ft.Tree.Write(path, value); err != nil {
		return err
	}
	if dev, ok := strings.CutSuffix(strings.TrimPrefix(path, "/sys/class/net/"), "/threaded"); ok && value == "1" && old != "1" {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		threads, _ := NAPIThreads(ft.Tree, dev)
		for _, th := range threads {
			if th.PID >= 1000 { // started by this tree for dev before
				return nil
			}
		}
		ft.put(fmt.Sprintf("/proc/%d/comm", ft.nextPID), cut15(fmt.Sprintf("napi/%s-%d", dev, ft.napiID)))
		ft.nextPID++
		ft.napiID++
	}
	return nil
}

func cut15(s string) string {
	if len(s) > taskCommLen-1 {
		return s[:taskCommLen-1]
	}
	return s
}

// snapshot returns every file of the tree and its content.
func (ft *fakeTree) snapshot() map[string]string {
	ft.t.Helper()
	out := map[string]string{}
	for _, m := range []struct{ canon, root string }{{"/sys", ft.Sys}, {"/proc", ft.Proc}} {
		filepath.WalkDir(m.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(m.root, p)
			out[m.canon+"/"+rel] = strings.TrimSpace(string(b))
			return nil
		})
	}
	return out
}

// fakeAffinity keeps thread affinities in a map; unknown threads have
// every CPU of all.
type fakeAffinity struct {
	mu   sync.Mutex
	all  []int
	cpus map[int][]int
	dead map[int]bool
}

func newFakeAffinity(all ...int) *fakeAffinity {
	return &fakeAffinity{all: all, cpus: map[int][]int{}, dead: map[int]bool{}}
}

func (a *fakeAffinity) Get(pid int) ([]int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead[pid] {
		return nil, unix.ESRCH
	}
	if c, ok := a.cpus[pid]; ok {
		return slices.Clone(c), nil
	}
	return slices.Clone(a.all), nil
}

func (a *fakeAffinity) Set(pid int, cpus []int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead[pid] {
		return unix.ESRCH
	}
	a.cpus[pid] = slices.Sorted(slices.Values(cpus))
	return nil
}

// fakeEthtool keeps NIC features in a map.
type fakeEthtool struct {
	mu     sync.Mutex
	feats  map[string]map[string]Feature // dev → name → state
	rules  map[string]map[uint32]FlowRule
	closed bool
}

// InsertFlowRule takes the lowest free location, as drivers do for
// RX_CLS_LOC_ANY; like them it refuses while ntuple filters are off.
func (e *fakeEthtool) InsertFlowRule(dev string, r FlowRule) (uint32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.feats[dev][featNtuple].Active {
		return 0, fmt.Errorf("ethtool -N %s: %w", dev, unix.EINVAL)
	}
	if e.rules[dev] == nil {
		e.rules[dev] = map[uint32]FlowRule{}
	}
	loc := uint32(0)
	for ; ; loc++ {
		if _, ok := e.rules[dev][loc]; !ok {
			break
		}
	}
	e.rules[dev][loc] = r
	return loc, nil
}

func (e *fakeEthtool) DeleteFlowRule(dev string, loc uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.rules[dev][loc]; !ok {
		return fmt.Errorf("ethtool -N %s delete %d: %w", dev, loc, unix.ENOENT)
	}
	delete(e.rules[dev], loc)
	return nil
}

func (e *fakeEthtool) rulesOf(dev string) map[uint32]FlowRule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[uint32]FlowRule{}
	for l, r := range e.rules[dev] {
		out[l] = r
	}
	return out
}

func (e *fakeEthtool) Feature(dev, name string) (Feature, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fs, ok := e.feats[dev]
	if !ok {
		return Feature{}, unix.ENODEV
	}
	f, ok := fs[name]
	if !ok {
		return Feature{}, fmt.Errorf("feature %s: %w", name, ErrNoFeature)
	}
	return f, nil
}

func (e *fakeEthtool) SetFeature(dev, name string, on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.feats[dev][name]
	if !ok {
		return fmt.Errorf("feature %s: %w", name, ErrNoFeature)
	}
	if f.Active != on && !f.Changeable {
		return fmt.Errorf("%s %s is fixed", dev, name)
	}
	f.Active = on
	e.feats[dev][name] = f
	return nil
}

func (e *fakeEthtool) Close() error { e.closed = true; return nil }

func (e *fakeEthtool) state() map[string]map[string]Feature {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]map[string]Feature{}
	for d, fs := range e.feats {
		out[d] = map[string]Feature{}
		for n, f := range fs {
			out[d][n] = f
		}
	}
	return out
}
