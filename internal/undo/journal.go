package undo

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
)

// A Journal is an undo stack kept on disk, for changes that must be put
// back even when the process that made them dies without cleaning up
// (SIGKILL, the OOM killer, a crash). The file holds JSON lines: a header
// naming the owning process (its pid and start time, which tell a reused
// pid apart), then one entry per change, each written right after its
// change and before the next one, so a process killed in between loses at
// most the change it was making. E is the engine's entry type, which also
// carries the header; it must never hold keys.
type Journal[E any] struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// ErrJournalExists is wrapped by CreateJournal when an earlier process
// left its journal behind.
var ErrJournalExists = errors.New("an earlier engine's journal is still there")

// ErrOwnerAlive is wrapped by Replay while the process that wrote the
// journal still runs: it undoes its changes itself on SIGTERM.
var ErrOwnerAlive = errors.New("the engine that wrote the journal is still running")

// CreateJournal creates the journal at path for the calling process,
// whose header is made by header from its pid and start time. A journal
// left there by a process that died is not overwritten: the error wraps
// ErrJournalExists and says how to undo it first.
func CreateJournal[E any](path string, header func(pid int, start uint64) E) (*Journal[E], error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w at %s: put the host back first with `wgbench agent undo --journal %s`", ErrJournalExists, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal[E]{path: path, f: f}
	start, err := ProcessStart(os.Getpid())
	if err != nil {
		return nil, errors.Join(err, j.Remove())
	}
	if err := j.Add(header(os.Getpid(), start)); err != nil {
		return nil, errors.Join(err, j.Remove())
	}
	return j, nil
}

// Path returns where the journal is.
func (j *Journal[E]) Path() string { return j.path }

// Add appends one entry. A nil journal keeps nothing.
func (j *Journal[E]) Add(e E) error {
	if j == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal entry: %w", err)
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
func (j *Journal[E]) Remove() error {
	if j == nil {
		return nil
	}
	errs := []error{j.Close()}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close closes the journal and keeps it on disk, for Replay.
func (j *Journal[E]) Close() error {
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

// ReadJournal parses the journal at path, whose first entry, and only
// that, is a header (isHeader); what names the journal's kind in errors
// ("kernel engine"). A last line cut short by a kill is dropped: nothing
// after it was changed.
func ReadJournal[E any](path, what string, isHeader func(E) bool) ([]E, error) {
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
	var entries []E
	for i, l := range lines {
		var e E
		if err := json.Unmarshal(l, &e); err != nil {
			if i > 0 && i == len(lines)-1 {
				break
			}
			return nil, fmt.Errorf("%s:%d: not a %s journal entry: %w", path, i+1, what, err)
		}
		if (i == 0) != isHeader(e) {
			return nil, fmt.Errorf("%s:%d: an entry is out of place (the header comes first, once)", path, i+1)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: empty, not a %s journal", path, what)
	}
	return entries, nil
}

// IsJournal says whether the file at path starts with a header that
// isHeader accepts.
func IsJournal[E any](path string, isHeader func(E) bool) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	var e E
	return json.Unmarshal([]byte(line), &e) == nil && isHeader(e)
}

// OwnerGone returns nil when the process that wrote a journal, pid
// started at start (its header), no longer runs, and an error wrapping
// ErrOwnerAlive while it does.
func OwnerGone(pid int, start uint64) error {
	if Alive(pid, start) {
		return fmt.Errorf("%w (pid %d): stop it with SIGTERM and it restores the host itself", ErrOwnerAlive, pid)
	}
	return nil
}

// Replay undoes the entries after the header (entries[0]), newest first,
// with undo, which says what it did; then it removes the journal at path.
// A step whose error satisfies Gone counts as undone ("(gone already)");
// the other failures are joined and keep the journal. It returns one line
// per step.
func Replay[E any](path string, entries []E, undo func(E) (string, error)) ([]string, error) {
	var done []string
	var errs []error
	for i := len(entries) - 1; i >= 1; i-- {
		line, err := undo(entries[i])
		if err != nil && !Gone(err) {
			errs = append(errs, fmt.Errorf("undo %s: %w", line, err))
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
	return done, os.Remove(path)
}

// ProcessStart returns the start time of process pid, in clock ticks
// since boot (field 22 of /proc/<pid>/stat).
func ProcessStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after it follow the last ')'.
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

// Alive says whether process pid, started at start (ProcessStart), still
// runs.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	s, err := ProcessStart(pid)
	return err == nil && s == start
}
