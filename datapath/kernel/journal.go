package kernel

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/undo"
)

// A Journal keeps on disk what a kernel engine changed on its host — the
// links it made and every knob with its value before — so that UndoJournal
// can put the host back after the engine died without cleaning up. It is
// an undo.Journal: JSON lines, a header naming the engine's process, then
// one entry per change, written right after it. It never holds keys or
// configuration.
type Journal = undo.Journal[journalEntry]

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

// ErrJournalExists is wrapped by CreateJournal when an earlier engine
// left its journal behind.
var ErrJournalExists = undo.ErrJournalExists

// CreateJournal creates the journal at path for the calling process. A
// journal left there by an engine that died is not overwritten: the
// error wraps ErrJournalExists and says to undo it first.
func CreateJournal(path string) (*Journal, error) {
	return undo.CreateJournal(path, func(pid int, start uint64) journalEntry {
		return journalEntry{Kind: journalHeader, PID: pid, Start: start}
	})
}

// ErrJournalOwnerAlive is wrapped by UndoJournal while the engine that
// wrote the journal still runs: it undoes its changes itself on SIGTERM.
var ErrJournalOwnerAlive = undo.ErrOwnerAlive

// UndoJournal puts back what the journal at path records, newest first,
// through host (whose Ethtool may be nil: the running kernel's in the
// calling thread's namespace), and removes it. Settings whose object is
// gone (a NIC or a thread removed meanwhile) count as restored; links
// are deleted only if they still are WireGuard links. It returns one line
// per action. A missing journal is fs.ErrNotExist; a journal whose engine
// still runs is ErrJournalOwnerAlive and is left alone.
func UndoJournal(path string, host Host) ([]string, error) {
	entries, err := undo.ReadJournal(path, "kernel engine", func(e journalEntry) bool { return e.Kind == journalHeader })
	if err != nil {
		return nil, err
	}
	if err := undo.OwnerGone(entries[0].PID, entries[0].Start); err != nil {
		return nil, err
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
	return undo.Replay(path, entries, func(e journalEntry) (string, error) {
		line, err := undoEntry(e, host, eth)
		if line == "" {
			line = e.Kind + " " + e.Dev + e.Path
		}
		return line, err
	})
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
