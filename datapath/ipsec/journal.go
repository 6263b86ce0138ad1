package ipsec

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/wgbench/wgbench/internal/undo"
)

// Journal keeps on disk what an ipsec engine installed — SAs, policies,
// routes — each entry written before its change, so that UndoJournal can
// remove them after the engine was killed. It is an undo.Journal and never
// holds keys. A clean Close removes it.
type Journal = undo.Journal[entry]

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
	return undo.CreateJournal(path, func(pid int, start uint64) entry {
		return entry{Kind: kindHeader, PID: pid, Start: start}
	})
}

func isHeader(e entry) bool { return e.Kind == kindHeader }

// IsJournal says whether the file at path is an ipsec engine's journal.
func IsJournal(path string) bool { return undo.IsJournal(path, isHeader) }

// UndoJournal removes what the journal at path records, newest first,
// then the journal; it refuses while the engine that wrote it runs
// (undo.ErrOwnerAlive). It says what it did, one line per change.
func UndoJournal(path string) ([]string, error) { return undoEntries(path, true) }

func undoEntries(path string, checkOwner bool) ([]string, error) {
	entries, err := undo.ReadJournal(path, "ipsec", isHeader)
	if err != nil {
		return nil, err
	}
	if checkOwner {
		if err := undo.OwnerGone(entries[0].PID, entries[0].Start); err != nil {
			return nil, err
		}
	}
	return undo.Replay(path, entries, undoEntry)
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

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
