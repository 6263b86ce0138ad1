package ipsec

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IndexDir holds one file per tunnel, NETNS-NAME.json, with its addresses
// and SPIs (no keys), where ReadStats finds the tunnel's SAs by name
// alone. The network namespace's inode tells apart the two gateways of
// the local testbed, which name their tunnels alike and share one file
// system.
var IndexDir = "/run/wgbench-ipsec"

// indexPath is where tunnel name's index is, for the calling thread's
// network namespace.
func indexPath(name string) string {
	var st syscall.Stat_t
	ns := "0"
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err == nil {
		ns = strconv.FormatUint(st.Ino, 10)
	}
	return filepath.Join(IndexDir, ns+"-"+name+".json")
}

// index is what IndexDir keeps of a tunnel.
type index struct {
	Local  netip.Addr `json:"local"`
	Remote netip.Addr `json:"remote"`
	OutSPI uint32     `json:"out_spi"`
	InSPI  uint32     `json:"in_spi"`
}

// Engine is a set of ESP tunnels in the calling thread's network
// namespace.
type Engine struct {
	names   []string
	indexes []string // their index files
	journal *Journal
	log     *slog.Logger
}

// Up installs every tunnel: its two SAs, its out, in and forward
// policies and a route to the prefix behind the other end via the other
// end's WAN address, each journalled at journalPath before the next
// change. On error everything is removed again.
func Up(tunnels []*Tunnel, journalPath string, log *slog.Logger) (_ *Engine, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(tunnels) == 0 {
		return nil, errors.New("ipsec: no tunnels")
	}
	j, err := CreateJournal(journalPath)
	if err != nil {
		return nil, err
	}
	e := &Engine{journal: j, log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	if err := os.MkdirAll(IndexDir, 0o700); err != nil {
		return nil, fmt.Errorf("ipsec: make %s: %w", IndexDir, err)
	}
	for _, t := range tunnels {
		if err := e.add(t); err != nil {
			return nil, fmt.Errorf("ipsec tunnel %s: %w", t.Name, err)
		}
		e.names = append(e.names, t.Name)
		log.Debug("ipsec tunnel up", "name", t.Name, "local", t.Local, "remote", t.Remote, "route", t.Route,
			"out_spi", fmt.Sprintf("0x%x", t.Out.SPI), "in_spi", fmt.Sprintf("0x%x", t.In.SPI))
	}
	return e, nil
}

// add installs one tunnel.
func (e *Engine) add(t *Tunnel) error {
	aead, err := kernelAEAD(t.Cipher)
	if err != nil {
		return err
	}
	for _, sa := range []struct {
		src, dst netip.Addr
		sa       SA
	}{{t.Local, t.Remote, t.Out}, {t.Remote, t.Local, t.In}} {
		st := &netlink.XfrmState{Src: sa.src.AsSlice(), Dst: sa.dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP,
			Mode: netlink.XFRM_MODE_TUNNEL, Spi: int(sa.sa.SPI), Reqid: t.Reqid, ReplayWindow: 128,
			Aead: &netlink.XfrmStateAlgo{Name: aead, Key: sa.sa.Key, ICVLen: icvBits}}
		if err := e.journal.Add(entry{Kind: kindState, Src: sa.src, Dst: sa.dst, SPI: sa.sa.SPI}); err != nil {
			return err
		}
		if err := netlink.XfrmStateAdd(st); err != nil {
			return fmt.Errorf("add SA 0x%x: %w", sa.sa.SPI, noESP(err, aead))
		}
	}
	for _, p := range []struct {
		src, dst   netip.Prefix
		tsrc, tdst netip.Addr
		dir        netlink.Dir
	}{
		{t.Behind, t.Route, t.Local, t.Remote, netlink.XFRM_DIR_OUT},
		{t.Route, t.Behind, t.Remote, t.Local, netlink.XFRM_DIR_IN},
		{t.Route, t.Behind, t.Remote, t.Local, netlink.XFRM_DIR_FWD},
	} {
		pol := &netlink.XfrmPolicy{Src: ipNet(p.src), Dst: ipNet(p.dst), Dir: p.dir,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: p.tsrc.AsSlice(), Dst: p.tdst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: t.Reqid}}}
		if err := e.journal.Add(entry{Kind: kindPolicy, SrcNet: p.src, DstNet: p.dst, Dir: int(p.dir)}); err != nil {
			return err
		}
		if err := netlink.XfrmPolicyAdd(pol); err != nil {
			return fmt.Errorf("add %s policy %s → %s: %w", p.dir, p.src, p.dst, err)
		}
	}
	if err := e.journal.Add(entry{Kind: kindRoute, DstNet: t.Route, Via: t.Remote}); err != nil {
		return err
	}
	if err := netlink.RouteAdd(&netlink.Route{Dst: ipNet(t.Route), Gw: t.Remote.AsSlice()}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("route %s via %s: %w", t.Route, t.Remote, err)
	}
	path := indexPath(t.Name)
	if err := writeIndex(path, t); err != nil {
		return err
	}
	e.indexes = append(e.indexes, path)
	return nil
}

// noESP explains the kernel's answer when it lacks ESP or the AEAD.
func noESP(err error, aead string) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("this kernel has no ESP or no %s (modprobe esp4 xfrm_algo, the AEAD's crypto modules gcm, chacha20poly1305 and seqiv, and drbg, the default RNG seqiv draws from): %w", aead, err)
	}
	return err
}

// Devices names the tunnels (ESP makes no devices).
func (e *Engine) Devices() []string { return e.names }

// Close removes everything Up installed, from its journal, and the
// journal with it.
func (e *Engine) Close() error {
	var errs []error
	if e.journal != nil {
		e.journal.Close()
		if _, err := undoEntries(e.journal.Path(), false); err != nil {
			errs = append(errs, err)
		}
		e.journal = nil
	}
	for _, p := range e.indexes {
		os.Remove(p)
	}
	e.indexes = nil
	os.Remove(IndexDir) // only when empty
	e.names = nil
	return errors.Join(errs...)
}

// ipNet converts a prefix.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Check adds and deletes an ESP SA with each AEAD in the calling
// thread's network namespace to learn whether the kernel has ESP and
// both AEADs.
func Check() error {
	var failed []string
	for _, cipher := range []string{"AES-256-GCM", "CHACHA20-POLY1305"} {
		sa, err := newSA()
		if err != nil {
			return err
		}
		st := &netlink.XfrmState{Src: net.ParseIP("192.0.2.1"), Dst: net.ParseIP("192.0.2.2"), Proto: netlink.XFRM_PROTO_ESP,
			Mode: netlink.XFRM_MODE_TUNNEL, Spi: int(sa.SPI), Aead: &netlink.XfrmStateAlgo{Name: AEADs[cipher], Key: sa.Key, ICVLen: icvBits}}
		if err := netlink.XfrmStateAdd(st); err != nil {
			if errors.Is(err, unix.EPERM) {
				return errors.New("adding an ESP SA needs root (CAP_NET_ADMIN)")
			}
			failed = append(failed, fmt.Sprintf("%s: %v", AEADs[cipher], err))
			continue
		}
		netlink.XfrmStateDel(st)
	}
	if len(failed) > 0 {
		return fmt.Errorf("this kernel cannot do ESP with %s: the ipsec datapath needs the esp4 and xfrm_algo modules, the AEADs' crypto and the default RNG (drbg) that ESP's seqiv draws from", strings.Join(failed, "; "))
	}
	return nil
}

// Stats are one tunnel's SA counters, from the kernel's xfrm state
// statistics.
type Stats struct {
	// Added is when the SAs were installed.
	Added time.Time
	// InBytes and OutBytes count the bytes the inbound SA decrypted and
	// the outbound one encrypted (the inner packets'); InPackets and
	// OutPackets the packets.
	InBytes, OutBytes, InPackets, OutPackets uint64
	// Failed counts packets the inbound SA dropped (integrity, replay).
	Failed uint32
}

// ReadStats reads tunnel name's SA counters in the calling thread's
// network namespace.
func ReadStats(name string) (Stats, error) {
	b, err := os.ReadFile(indexPath(name))
	if err != nil {
		return Stats{}, fmt.Errorf("ipsec %s: no such tunnel here: %w", name, err)
	}
	var ix index
	if err := jsonUnmarshal(b, &ix); err != nil {
		return Stats{}, fmt.Errorf("ipsec %s: %w", name, err)
	}
	var st Stats
	for _, sa := range []struct {
		src, dst netip.Addr
		spi      uint32
		out      bool
	}{{ix.Local, ix.Remote, ix.OutSPI, true}, {ix.Remote, ix.Local, ix.InSPI, false}} {
		s, err := netlink.XfrmStateGet(&netlink.XfrmState{Src: sa.src.AsSlice(), Dst: sa.dst.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Spi: int(sa.spi)})
		if err != nil {
			return Stats{}, fmt.Errorf("ipsec %s: read SA 0x%x: %w", name, sa.spi, err)
		}
		if sa.out {
			st.OutBytes, st.OutPackets = s.Statistics.Bytes, s.Statistics.Packets
			st.Added = time.Unix(int64(s.Statistics.AddTime), 0)
		} else {
			st.InBytes, st.InPackets, st.Failed = s.Statistics.Bytes, s.Statistics.Packets, s.Statistics.Failed
		}
	}
	return st, nil
}

// writeIndex records t's addresses and SPIs for ReadStats at path.
func writeIndex(path string, t *Tunnel) error {
	b, err := jsonMarshal(index{Local: t.Local, Remote: t.Remote, OutSPI: t.Out.SPI, InSPI: t.In.SPI})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
