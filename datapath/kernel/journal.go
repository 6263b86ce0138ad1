package kernel

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/undo"
)

// A Journal keeps on disk what a kernel engine changed on its host — the
// links it made and every knob with its value before — so that UndoJournal
// can put the host back after the engine died without cleaning up
// (SIGKILL, the OOM killer, a crash). Each entry is written right after
// its change, before the next one: a process killed in between loses at
// most the change it was making. A clean Close removes the journal.
//
// The file holds JSON lines: a header naming the engine's process, then
// one entry per change. It never holds keys or configuration.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// journalEntry is one line of a journal.
type journalEntry struct {
	// Kind is journalHeader, or what was changed: journalLink (a link
	// made), journalFile (a sysfs or procfs file), journalFeature (an
	// ethtool feature), journalRule (an ntuple rule), journalAffinity (a
	// thread's CPUs).
	Kind string `json:"kind"`
	// PID and Start name the engine's process in the header: its pid and
	// start time (field 22 of /proc/<pid>/stat), which tell a reused pid
	// apart.
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	Knob  string `json:"knob,omitempty"`
	// Dev is the link (journalLink) or the NIC (journalFeature,
	// journalRule).
	Dev string `json:"dev,omitempty"`
	// Path is the file (journalFile) or the feature name
	// (journalFeature).
	Path   string `json:"path,omitempty"`
	Before string `json:"before,omitempty"`
	// Loc is an ntuple rule's location.
	Loc uint32 `json:"loc,omitempty"`
}

const (
	journalHeader   = "header"
	journalLink     = "link"
	journalFile     = "file"
	journalFeature  = "feature"
	journalRule     = "rule"
	journalAffinity = "affinity"
)

// ErrJournalExists is returned by CreateJournal when an earlier engine
// left its journal behind.
var ErrJournalExists = errors.New("an earlier kernel engine's journal is still there")

// CreateJournal creates the journal at path for the calling process. A
// journal left there by an engine that died is not overwritten: the
// error wraps ErrJournalExists and says to undo it first.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w at %s: put the host back first with `wgbench agent undo --journal %s`", ErrJournalExists, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal{path: path, f: f}
	start, err := processStart(os.Getpid())
	if err != nil {
		return nil, errors.Join(err, j.Remove())
	}
	if err := j.add(journalEntry{Kind: journalHeader, PID: os.Getpid(), Start: start}); err != nil {
		return nil, errors.Join(err, j.Remove())
	}
	return j, nil
}

// Path returns where the journal is.
func (j *Journal) Path() string { return j.path }

// add appends one entry. A nil journal keeps nothing.
func (j *Journal) add(e journalEntry) error {
	if j == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal closed")
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return nil
}

// Remove closes and deletes the journal: the host is back as it was.
func (j *Journal) Remove() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var errs []error
	if j.f != nil {
		errs = append(errs, j.f.Close())
		j.f = nil
	}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close closes the journal and keeps it on disk, for UndoJournal.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// processStart returns the start time of process pid, in clock ticks
// since boot (field 22 of /proc/<pid>/stat).
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); the start time is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// ErrJournalOwnerAlive is returned by UndoJournal while the engine that
// wrote the journal still runs: it undoes its changes itself on SIGTERM.
var ErrJournalOwnerAlive = errors.New("the kernel engine that wrote the journal is still running")

// UndoJournal puts back what the journal at path records, newest first,
// through host (whose Ethtool may be nil: the running kernel's in the
// calling thread's namespace), and removes it. Settings whose object is
// gone (a NIC or a thread removed meanwhile) count as restored; links
// are deleted only if they still are WireGuard links. It returns one line
// per action. A missing journal is fs.ErrNotExist; a journal whose engine
// still runs is ErrJournalOwnerAlive and is left alone.
func UndoJournal(path string, host Host) ([]string, error) {
	entries, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	h := entries[0]
	if start, err := processStart(h.PID); err == nil && start == h.Start {
		return nil, fmt.Errorf("%w (pid %d): stop it with SIGTERM and it restores the host itself", ErrJournalOwnerAlive, h.PID)
	}
	eth := host.Ethtool
	if eth == nil {
		e, err := OpenEthtool()
		if err != nil {
			return nil, err
		}
		defer e.Close()
		eth = e
	}
	var done []string
	var errs []error
	for i := len(entries) - 1; i >= 1; i-- {
		line, err := undoEntry(entries[i], host, eth)
		if err != nil && !undo.Gone(err) {
			errs = append(errs, fmt.Errorf("undo %s %s%s: %w", entries[i].Kind, entries[i].Dev, entries[i].Path, err))
			continue
		}
		if err != nil {
			line += " (gone already)"
		}
		done = append(done, line)
	}
	if len(errs) > 0 {
		return done, fmt.Errorf("journal %s kept: %w", path, errors.Join(errs...))
	}
	if err := os.Remove(path); err != nil {
		return done, err
	}
	return done, nil
}

// readJournal parses the journal at path; the first entry is its header.
func readJournal(path string) ([]journalEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var entries []journalEntry
	for i, l := range lines {
		var e journalEntry
		if err := json.Unmarshal(l, &e); err != nil {
			// The last line may be cut short by the kill; nothing
			// after it was changed.
			if i > 0 && i == len(lines)-1 {
				break
			}
			return nil, fmt.Errorf("%s:%d: not a journal entry: %w", path, i+1, err)
		}
		if (i == 0) != (e.Kind == journalHeader) {
			return nil, fmt.Errorf("%s:%d: a %q entry is out of place (the header comes first, once)", path, i+1, e.Kind)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: empty, not a kernel engine journal", path)
	}
	return entries, nil
}

// undoEntry puts back one change and says what it did.
func undoEntry(e journalEntry, host Host, eth Ethtool) (string, error) {
	switch e.Kind {
	case journalFile:
		return fmt.Sprintf("%s: %s back to %q", e.Knob, e.Path, e.Before), host.Files.Write(e.Path, e.Before)
	case journalFeature:
		return fmt.Sprintf("%s: ethtool -K %s %s %s", e.Knob, e.Dev, e.Path, e.Before), eth.SetFeature(e.Dev, e.Path, e.Before == "on")
	case journalRule:
		nt, ok := eth.(NtupleEthtool)
		if !ok {
			return "", errors.New("this ethtool interface cannot delete ntuple rules")
		}
		err := nt.DeleteFlowRule(e.Dev, e.Loc)
		if errors.Is(err, unix.ENOENT) {
			err = fs.ErrNotExist
		}
		return fmt.Sprintf("%s: ethtool -N %s delete %d", e.Knob, e.Dev, e.Loc), err
	case journalAffinity:
		// A NAPI thread lives as long as its device, which is deleted
		// below (its link entry is older).
		return fmt.Sprintf("%s: %s left to go with its device", e.Knob, e.Path), nil
	case journalLink:
		l, err := netlink.LinkByName(e.Dev)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return "link " + e.Dev + " deleted", fs.ErrNotExist
		}
		if err != nil {
			return "", err
		}
		if l.Type() != "wireguard" {
			return "", fmt.Errorf("link %s is a %s link now, not the WireGuard link the engine made; left alone", e.Dev, l.Type())
		}
		return "link " + e.Dev + " deleted", netlink.LinkDel(l)
	}
	return "", fmt.Errorf("unknown journal entry kind %q", e.Kind)
}
