package ipsec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Journal keeps on disk what an ipsec engine installed — SAs, policies,
// routes — each entry written before its change, so that UndoJournal can
// remove them after the engine was killed. It never holds keys. A clean
// Close removes it.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// entry is one line of a journal.
type entry struct {
	Kind string `json:"kind"`
	// PID and Start name the engine's process in the header.
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	// Src, Dst and SPI name an SA.
	Src netip.Addr `json:"src,omitzero"`
	Dst netip.Addr `json:"dst,omitzero"`
	SPI uint32     `json:"spi,omitempty"`
	// SrcNet, DstNet and Dir name a policy; DstNet and Via a route.
	SrcNet netip.Prefix `json:"src_net,omitzero"`
	DstNet netip.Prefix `json:"dst_net,omitzero"`
	Dir    int          `json:"dir,omitempty"`
	Via    netip.Addr   `json:"via,omitzero"`
}

const (
	kindHeader = "ipsec"
	kindState  = "state"
	kindPolicy = "policy"
	kindRoute  = "route"
)

// CreateJournal creates the journal at path for the calling process; one
// left by a killed engine must be undone first.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("an earlier ipsec engine's journal is still at %s: put the host back first with `wgbench agent undo --journal %s`", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal{path: path, f: f}
	start, err := processStart(os.Getpid())
	if err == nil {
		err = j.add(entry{Kind: kindHeader, PID: os.Getpid(), Start: start})
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return j, nil
}

func (j *Journal) add(e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return nil
}

// IsJournal says whether the file at path is an ipsec engine's journal.
func IsJournal(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	var e entry
	return json.Unmarshal([]byte(line), &e) == nil && e.Kind == kindHeader
}

// UndoJournal removes what the journal at path records, newest first,
// then the journal; it refuses while the engine that wrote it runs. It
// says what it did, one line per change.
func UndoJournal(path string) ([]string, error) { return undoEntries(path, true) }

func undoEntries(path string, checkAlive bool) ([]string, error) {
	entries, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	if checkAlive && alive(entries[0].PID, entries[0].Start) {
		return nil, fmt.Errorf("the ipsec engine that wrote %s (pid %d) still runs; stop it instead", path, entries[0].PID)
	}
	var done []string
	var errs []error
	for i := len(entries) - 1; i >= 1; i-- {
		line, err := undoEntry(entries[i])
		if err != nil && !gone(err) {
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

// gone says a change was undone already.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, fs.ErrNotExist)
}

func undoEntry(e entry) (string, error) {
	switch e.Kind {
	case kindState:
		line := fmt.Sprintf("ESP SA %s → %s spi 0x%x deleted", e.Src, e.Dst, e.SPI)
		return line, netlink.XfrmStateDel(&netlink.XfrmState{Src: e.Src.AsSlice(), Dst: e.Dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Spi: int(e.SPI)})
	case kindPolicy:
		d := netlink.Dir(e.Dir)
		line := fmt.Sprintf("%s policy %s → %s deleted", d, e.SrcNet, e.DstNet)
		return line, netlink.XfrmPolicyDel(&netlink.XfrmPolicy{Src: ipNet(e.SrcNet), Dst: ipNet(e.DstNet), Dir: d})
	case kindRoute:
		line := fmt.Sprintf("route %s via %s deleted", e.DstNet, e.Via)
		return line, netlink.RouteDel(&netlink.Route{Dst: ipNet(e.DstNet), Gw: e.Via.AsSlice()})
	}
	return "", fmt.Errorf("unknown journal entry kind %q", e.Kind)
}

func readJournal(path string) ([]entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var entries []entry
	for i, l := range lines {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			if i > 0 && i == len(lines)-1 {
				break // cut short by the kill; nothing after it changed
			}
			return nil, fmt.Errorf("%s:%d: not an ipsec journal entry: %w", path, i+1, err)
		}
		if (i == 0) != (e.Kind == kindHeader) {
			return nil, fmt.Errorf("%s:%d: a %q entry is out of place", path, i+1, e.Kind)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: empty, not an ipsec journal", path)
	}
	return entries, nil
}

func splitFields(s string) []string { return strings.Fields(s) }

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
