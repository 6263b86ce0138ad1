package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/testbed"
)

// WAN names two physical interfaces of this machine that become gw1's
// and gw2's WAN ports instead of a veth pair: two ports cabled to each
// other (a dual-port NIC looped back) give the run real IRQs, RSS and
// ntuple. The zero value means the veth pair.
type WAN struct {
	// GW1 and GW2 are interface names in the namespace wgbench runs in.
	GW1, GW2 string
}

// Set reports whether real ports were asked for.
func (w WAN) Set() bool { return w.GW1 != "" || w.GW2 != "" }

// wanJournal is the file in a run's state directory that records the
// ports' original state before they are moved, so that Teardown, or
// `wgbench testbed clean` after the run was killed, can give them back.
const wanJournal = "wan-ports.json"

// portState is one port's state before the run took it.
type portState struct {
	// Role is the gateway the port was moved to.
	Role string `json:"role"`
	// Name, Index and MAC identify the port; Name is restored.
	Name  string `json:"name"`
	Index int    `json:"index"`
	MAC   string `json:"mac"`
	MTU   int    `json:"mtu"`
	Up    bool   `json:"up"`
	// Addrs are its addresses (CIDR) but IPv6 link-local ones, which the
	// kernel makes itself.
	Addrs []string `json:"addrs,omitempty"`
	// Routes are the routes of the main table through it that the
	// kernel did not make from an address: destination (CIDR) and
	// gateway, "" when on-link.
	Routes []routeState `json:"routes,omitempty"`
}

type routeState struct {
	Dst    string `json:"dst"`
	Gw     string `json:"gw,omitempty"`
	Metric int    `json:"metric,omitempty"`
}

// journal is the content of wanJournal.
type journal struct {
	// HomeDev and HomeIno identify the network namespace the ports were
	// taken from; they go back there only.
	HomeDev uint64      `json:"home_dev"`
	HomeIno uint64      `json:"home_ino"`
	Ports   []portState `json:"ports"`
}

// checkPorts checks, in the namespace of h, that w names two different
// existing interfaces, neither the loopback nor a link of the default
// route, and returns them.
func checkPorts(h *netlink.Handle, w WAN) (map[string]netlink.Link, error) {
	if w.GW1 == "" || w.GW2 == "" {
		return nil, fmt.Errorf("WAN ports: give both gw1 and gw2 (got gw1=%q, gw2=%q)", w.GW1, w.GW2)
	}
	if w.GW1 == w.GW2 {
		return nil, fmt.Errorf("WAN ports: gw1 and gw2 both name %s; give two ports cabled to each other", w.GW1)
	}
	defaults := map[int]bool{}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, family)
		if err != nil {
			return nil, fmt.Errorf("WAN ports: list routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
				defaults[r.LinkIndex] = true
				for _, nh := range r.MultiPath {
					defaults[nh.LinkIndex] = true
				}
			}
		}
	}
	ports := map[string]netlink.Link{}
	for _, p := range []struct{ role, name string }{{testbed.GW1, w.GW1}, {testbed.GW2, w.GW2}} {
		l, err := h.LinkByName(p.name)
		if err != nil {
			var names []string
			if all, lerr := h.LinkList(); lerr == nil {
				for _, o := range all {
					if o.Attrs().Flags&net.FlagLoopback == 0 {
						names = append(names, o.Attrs().Name)
					}
				}
			}
			sort.Strings(names)
			return nil, fmt.Errorf("WAN port of %s: no interface %q here (interfaces: %s)", p.role, p.name, strings.Join(names, ", "))
		}
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 {
			return nil, fmt.Errorf("WAN port of %s: %s is the loopback interface", p.role, p.name)
		}
		if defaults[a.Index] {
			return nil, fmt.Errorf("WAN port of %s: %s carries this machine's default route; moving it into a namespace would cut the machine off — give two other ports", p.role, p.name)
		}
		ports[p.role] = l
	}
	return ports, nil
}

func isZeroMask(m net.IPMask) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// snapshot records the state of the ports in the namespace of h.
func snapshot(h *netlink.Handle, ports map[string]netlink.Link) ([]portState, error) {
	var out []portState
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		l := ports[role]
		a := l.Attrs()
		ps := portState{Role: role, Name: a.Name, Index: a.Index, MAC: a.HardwareAddr.String(), MTU: a.MTU, Up: a.Flags&net.FlagUp != 0}
		addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			if ad.IP.To4() == nil && ad.IP.IsLinkLocalUnicast() {
				continue
			}
			ps.Addrs = append(ps.Addrs, ad.IPNet.String())
		}
		routes, err := h.RouteList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("routes of %s: %w", a.Name, err)
		}
		for _, r := range routes {
			if r.Protocol == unix.RTPROT_KERNEL || r.Dst == nil || r.Table != unix.RT_TABLE_MAIN {
				continue
			}
			rs := routeState{Dst: r.Dst.String(), Metric: r.Priority}
			if r.Gw != nil {
				rs.Gw = r.Gw.String()
			}
			ps.Routes = append(ps.Routes, rs)
		}
		out = append(out, ps)
	}
	return out, nil
}

// writeJournal writes j to the state directory and syncs it: it must be
// on disk before a port moves.
func writeJournal(state string, j *journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(state, wanJournal+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(state, wanJournal))
}

func readJournal(state string) (*journal, error) {
	b, err := os.ReadFile(filepath.Join(state, wanJournal))
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(state, wanJournal), err)
	}
	return &j, nil
}

// homeNamespace returns a handle on the network namespace this process
// runs in (its threads not locked elsewhere) and the namespace's identity.
func homeNamespace() (netns.NsHandle, uint64, uint64, error) {
	type res struct {
		h   netns.NsHandle
		err error
	}
	c := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		h, err := netns.Get()
		c <- res{h, err}
	}()
	r := <-c
	if r.err != nil {
		return -1, 0, 0, fmt.Errorf("open this process's network namespace: %w", r.err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(r.h), &st); err != nil {
		r.h.Close()
		return -1, 0, 0, fmt.Errorf("stat this process's network namespace: %w", err)
	}
	return r.h, st.Dev, st.Ino, nil
}

// homeNS is this process's network namespace, open, with a netlink handle
// in it and the namespace's identity.
type homeNS struct {
	ns       netns.NsHandle
	nl       *netlink.Handle
	dev, ino uint64
}

// openHome opens this process's network namespace and a netlink handle in
// it; close releases both.
func openHome() (*homeNS, error) {
	ns, dev, ino, err := homeNamespace()
	if err != nil {
		return nil, err
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &homeNS{ns: ns, nl: nl, dev: dev, ino: ino}, nil
}

func (h *homeNS) close() {
	h.nl.Close()
	h.ns.Close()
}

// takePorts journals the ports' state, then moves each into its gateway's
// namespace as "wan" with addr, mtu (0: 1500) and up.
func (tb *Testbed) takePorts(w WAN, mtu int, nsh map[string]netns.NsHandle, handles map[string]*netlink.Handle) error {
	home, err := openHome()
	if err != nil {
		return err
	}
	defer home.close()
	hh := home.nl
	ports, err := checkPorts(hh, w)
	if err != nil {
		return err
	}
	states, err := snapshot(hh, ports)
	if err != nil {
		return fmt.Errorf("WAN ports: %w", err)
	}
	if err := writeJournal(tb.state, &journal{HomeDev: home.dev, HomeIno: home.ino, Ports: states}); err != nil {
		return fmt.Errorf("WAN ports: journal their state: %w", err)
	}
	tb.wanTaken = true
	if mtu == 0 {
		mtu = 1500
	}
	for _, p := range []struct {
		role string
		addr *net.IPNet
	}{{testbed.GW1, prefixNet(testbed.GW1WAN)}, {testbed.GW2, prefixNet(testbed.GW2WAN)}} {
		l := ports[p.role]
		name := l.Attrs().Name
		if err := hh.LinkSetDown(l); err != nil {
			return fmt.Errorf("WAN port %s: set down: %w", name, err)
		}
		if err := hh.LinkSetNsFd(l, int(nsh[p.role])); err != nil {
			return fmt.Errorf("WAN port %s: move into %s: %w", name, p.role, err)
		}
		nh := handles[p.role]
		in, err := findPort(nh, portState{Name: name, Index: l.Attrs().Index, MAC: l.Attrs().HardwareAddr.String()})
		if err != nil {
			return fmt.Errorf("WAN port %s in %s: %w", name, p.role, err)
		}
		if err := nh.LinkSetName(in, "wan"); err != nil {
			return fmt.Errorf("WAN port %s in %s: rename to wan: %w", name, p.role, err)
		}
		if err := nh.LinkSetMTU(in, mtu); err != nil {
			return fmt.Errorf("WAN port %s in %s: set MTU %d: %w", name, p.role, mtu, err)
		}
		if err := nh.AddrAdd(in, &netlink.Addr{IPNet: p.addr}); err != nil {
			return fmt.Errorf("WAN port %s in %s: add %s: %w", name, p.role, p.addr, err)
		}
		if err := nh.LinkSetUp(in); err != nil {
			return fmt.Errorf("WAN port %s in %s: set up: %w", name, p.role, err)
		}
	}
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		if err := waitCarrier(handles[role], "wan", portCarrierTimeout); err != nil {
			return fmt.Errorf("WAN port %s in %s: %w", ports[role].Attrs().Name, role, err)
		}
	}
	return nil
}

// portCarrierTimeout bounds the wait for a WAN port's link after it was
// set up.
const portCarrierTimeout = 20 * time.Second

// waitCarrier waits until link name in h has its carrier (LOWER_UP): a
// physical port set up negotiates its link for a moment, and a datapath
// started before that loses its first handshakes.
func waitCarrier(h *netlink.Handle, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no carrier %s after it was set up (operstate %s): is the port cabled to the other one?", timeout, l.Attrs().OperState)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findPort finds ps in the namespace of h: by index and MAC, else by MAC
// alone (an index can change when a port moves).
func findPort(h *netlink.Handle, ps portState) (netlink.Link, error) {
	if l, err := h.LinkByIndex(ps.Index); err == nil && l.Attrs().HardwareAddr.String() == ps.MAC {
		return l, nil
	}
	all, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	for _, l := range all {
		if ps.MAC != "" && l.Attrs().HardwareAddr.String() == ps.MAC {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no interface with index %d or MAC %s: %w", ps.Index, ps.MAC, os.ErrNotExist)
}

// errOtherNamespace says a journal's ports came from another namespace.
var errOtherNamespace = errors.New("ports from another namespace")

// restorePorts gives the journaled ports in state back to this process's
// namespace, with their names, MTU, addresses, routes and up/down state.
// gwNS returns the path of a gateway's namespace. It is a no-op without
// a journal and safe to repeat; the journal is removed once every port
// is back.
func restorePorts(state string, gwNS func(role string) string) ([]string, error) {
	j, err := readJournal(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	home, err := openHome()
	if err != nil {
		return nil, err
	}
	defer home.close()
	if home.dev != j.HomeDev || home.ino != j.HomeIno {
		return nil, fmt.Errorf("WAN ports %s were taken from another network namespace (inode %d) than this one (%d); run `wgbench testbed clean` there, or with --force here to give them up: %w", portNames(j.Ports), j.HomeIno, home.ino, errOtherNamespace)
	}
	var errs []error
	var restored []string
	for _, ps := range j.Ports {
		if err := restorePort(home.nl, home.ns, ps, gwNS(ps.Role)); err != nil {
			errs = append(errs, fmt.Errorf("give WAN port %s back from %s: %w", ps.Name, ps.Role, err))
			continue
		}
		restored = append(restored, ps.Name)
	}
	if len(errs) == 0 {
		if err := os.Remove(filepath.Join(state, wanJournal)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return restored, errors.Join(errs...)
}

func portNames(ps []portState) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.Name)
	}
	return strings.Join(n, " and ")
}

func restorePort(hh *netlink.Handle, home netns.NsHandle, ps portState, nsPath string) error {
	// Still in the gateway's namespace? Bring it home under its name.
	if g, err := netns.GetFromPath(nsPath); err == nil {
		gh, herr := netlink.NewHandleAt(g)
		if herr != nil {
			g.Close()
			return herr
		}
		l, ferr := findPort(gh, ps)
		if ferr == nil {
			err = moveHome(gh, l, ps, home)
		}
		gh.Close()
		g.Close()
		if ferr == nil && err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("open %s: %w", nsPath, err)
	}
	l, err := findPort(hh, ps)
	if err != nil {
		return fmt.Errorf("not in %s nor here: %w", filepath.Base(nsPath), err)
	}
	if l.Attrs().Name != ps.Name {
		if err := hh.LinkSetDown(l); err != nil {
			return err
		}
		if err := hh.LinkSetName(l, ps.Name); err != nil {
			return fmt.Errorf("rename %s to %s: %w", l.Attrs().Name, ps.Name, err)
		}
	}
	if err := hh.LinkSetMTU(l, ps.MTU); err != nil {
		return fmt.Errorf("set MTU %d: %w", ps.MTU, err)
	}
	have := map[string]bool{}
	if addrs, err := hh.AddrList(l, netlink.FAMILY_ALL); err == nil {
		for _, a := range addrs {
			have[a.IPNet.String()] = true
		}
	}
	for _, s := range ps.Addrs {
		if have[s] {
			continue
		}
		a, err := netlink.ParseAddr(s)
		if err != nil {
			return err
		}
		if err := hh.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s: %w", s, err)
		}
	}
	if ps.Up {
		if err := hh.LinkSetUp(l); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	} else if err := hh.LinkSetDown(l); err != nil {
		return fmt.Errorf("set down: %w", err)
	}
	for _, r := range ps.Routes {
		_, dst, err := net.ParseCIDR(r.Dst)
		if err != nil {
			return err
		}
		rt := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Gw: net.ParseIP(r.Gw), Priority: r.Metric}
		if err := hh.RouteAdd(rt); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("route %s via %s: %w", r.Dst, r.Gw, err)
		}
	}
	return nil
}

// moveHome takes l, in the namespace of gh, down, renames it to its
// original name and moves it into home.
func moveHome(gh *netlink.Handle, l netlink.Link, ps portState, home netns.NsHandle) error {
	if err := gh.LinkSetDown(l); err != nil {
		return fmt.Errorf("set down: %w", err)
	}
	if l.Attrs().Name != ps.Name {
		if err := gh.LinkSetName(l, ps.Name); err != nil {
			return fmt.Errorf("rename %s to %s: %w", l.Attrs().Name, ps.Name, err)
		}
	}
	if err := gh.LinkSetNsFd(l, int(home)); err != nil {
		return fmt.Errorf("move back: %w", err)
	}
	return nil
}

// checkHomePorts runs checkPorts in this process's namespace.
func checkHomePorts(w WAN) error {
	home, err := openHome()
	if err != nil {
		return err
	}
	defer home.close()
	_, err = checkPorts(home.nl, w)
	return err
}
