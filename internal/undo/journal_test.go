package undo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testEntry is a journal entry of a made-up engine.
type testEntry struct {
	Kind  string `json:"kind"`
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	Name  string `json:"name,omitempty"`
}

func isTestHeader(e testEntry) bool { return e.Kind == "header" }

func TestReadJournal(t *testing.T) {
	const header = `{"kind":"header","pid":1,"start":2}`
	const entry = `{"kind":"file","name":"/sys/x"}`
	tests := []struct {
		name, text string
		entries    int
		err        string
	}{
		{"whole", header + "\n" + entry + "\n", 2, ""},
		{"last line cut by the kill", header + "\n" + entry + "\n" + `{"kind":"fi`, 2, ""},
		{"broken line in the middle", header + "\n" + `{"ki` + "\n" + entry + "\n", 0, "j:2: not a test engine journal entry"},
		{"no header", entry + "\n", 0, "j:1: an entry is out of place"},
		{"two headers", header + "\n" + header + "\n", 0, "j:2: an entry is out of place"},
		{"empty", "", 0, "empty, not a test engine journal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadJournal(path, "test engine", isTestHeader)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadJournal error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != tt.entries {
				t.Fatalf("ReadJournal = %d entries, %v; want %d", len(got), err, tt.entries)
			}
		})
	}
}

// TestJournalReplay writes a journal as a process would, leaves it as a
// killed one does, and replays it: newest first, gone steps counted as
// undone, a failed step keeping the journal.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	header := func(pid int, start uint64) testEntry { return testEntry{Kind: "header", PID: pid, Start: start} }
	j, err := CreateJournal(path, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := j.Add(testEntry{Kind: "x", Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateJournal(path, header); !errors.Is(err, ErrJournalExists) || !strings.Contains(err.Error(), "wgbench agent undo --journal "+path) {
		t.Errorf("second CreateJournal: %v, want ErrJournalExists saying how to undo", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if !IsJournal(path, isTestHeader) {
		t.Errorf("IsJournal(%s) = false", path)
	}
	entries, err := ReadJournal(path, "test", isTestHeader)
	if err != nil {
		t.Fatal(err)
	}
	if err := OwnerGone(entries[0].PID, entries[0].Start); !errors.Is(err, ErrOwnerAlive) {
		t.Errorf("OwnerGone for this very process: %v, want ErrOwnerAlive", err)
	}
	if err := OwnerGone(entries[0].PID, entries[0].Start+1); err != nil {
		t.Errorf("OwnerGone for a reused pid: %v, want nil", err)
	}

	fail := true
	undoOne := func(e testEntry) (string, error) {
		switch {
		case e.Name == "b" && fail:
			return "b", errors.New("busy")
		case e.Name == "a":
			return "a", fmt.Errorf("a: %w", fs.ErrNotExist)
		}
		return e.Name, nil
	}
	done, err := Replay(path, entries, undoOne)
	if err == nil || !strings.Contains(err.Error(), "undo b: busy") || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Replay with a failing step: %v", err)
	}
	if want := []string{"c", "a (gone already)"}; !slices.Equal(done, want) {
		t.Errorf("Replay did %q, want %q", done, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("journal gone after a failed replay: %v", err)
	}
	fail = false
	if done, err = Replay(path, entries, undoOne); err != nil || len(done) != 3 {
		t.Fatalf("Replay = %q, %v", done, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left after a whole replay: %v", err)
	}
}

func TestProcessStart(t *testing.T) {
	a, err := ProcessStart(os.Getpid())
	if err != nil || a == 0 {
		t.Fatalf("ProcessStart(self) = %d, %v", a, err)
	}
	if !Alive(os.Getpid(), a) || Alive(os.Getpid(), a+1) || Alive(0, 0) {
		t.Errorf("Alive disagrees with ProcessStart")
	}
}
