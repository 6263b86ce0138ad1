// Package local is the default testbed driver: the four hosts are network
// namespaces on this machine, joined by veth pairs, addressed as in the
// testbed package's plan. Names carry a per-run tag, so two runs never
// collide, and Clean removes what a crashed run left behind.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/internal/procset"
)

// Where named namespaces and run state live.
const (
	// NetnsDir is where named network namespaces are bind-mounted (as by
	// `ip netns add`).
	NetnsDir = "/run/netns"
	// StateDir holds one directory per live run: its owner pid and the
	// hosts' temporary files.
	StateDir = "/run/wgbench"
	// Prefix starts every namespace name wgbench creates.
	Prefix = "wgb-"
)

// Options configure a local testbed.
type Options struct {
	// Tunnels and FlowsPerTunnel size the per-flow addresses on source and
	// drain: the largest values of the run's sweep.
	Tunnels, FlowsPerTunnel int
	// MTU of the LAN and WAN links; 0 keeps the veth default (1500).
	MTU int
	// Binary is the wgbench executable used for on-host verbs and the
	// namespace trampoline; empty means this executable.
	Binary string
	// Tag forces the per-run tag (tests); empty picks a random free one.
	Tag string
	// WAN, when set, names two interfaces of this machine, cabled to each
	// other, that become gw1's and gw2's WAN ports for the run instead of
	// a veth pair. Their state is journaled in the run's state directory
	// and restored by Teardown, or by Clean after a crash.
	WAN WAN
}

// Testbed is a provisioned local testbed.
type Testbed struct {
	tag    string
	binary string
	state  string
	hosts  map[string]*host

	procs procset.Set[*proc]
	// wanTaken is set once the WAN ports' journal is written.
	wanTaken bool
}

// testHookBeforeNamespace, when set (tests), runs before each namespace
// is created.
var testHookBeforeNamespace func(name string)

// NamespaceName returns the name of role's namespace for tag.
func NamespaceName(tag, role string) string { return Prefix + tag + "-" + role }

// Provision creates the four namespaces, links, addresses and routes. On
// error everything created so far is removed.
func Provision(ctx context.Context, opts Options) (tb *Testbed, err error) {
	if opts.Tunnels < 1 || opts.Tunnels > testbed.MaxTunnels || opts.FlowsPerTunnel < 1 || opts.FlowsPerTunnel > testbed.MaxFlowsPerTunnel {
		return nil, fmt.Errorf("local testbed: %d tunnels × %d flows is outside 1..%d × 1..%d", opts.Tunnels, opts.FlowsPerTunnel, testbed.MaxTunnels, testbed.MaxFlowsPerTunnel)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("local testbed: network namespaces need root; run wgbench as root (sudo)")
	}
	if opts.WAN.Set() {
		// Refuse bad ports before creating anything.
		if err := checkHomePorts(opts.WAN); err != nil {
			return nil, fmt.Errorf("local testbed: %w", err)
		}
	}
	bin := opts.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("local testbed: find the wgbench binary: %w", err)
		}
	}
	tag := opts.Tag
	if tag == "" {
		if tag, err = freeTag(); err != nil {
			return nil, err
		}
	} else if !validTag(tag) {
		return nil, fmt.Errorf("local testbed: tag %q: want 4 hex digits such as 3fa2", tag)
	} else if err := checkTag(tag, nil); err != nil {
		// Someone else's names: say whose, and touch none of them.
		return nil, err
	}
	// The state directory claims the tag: Mkdir fails if another run
	// took it meanwhile.
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("local testbed: %w", err)
	}
	state := filepath.Join(StateDir, tag)
	if err := os.Mkdir(state, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			if terr := checkTag(tag, nil); terr != nil {
				return nil, terr
			}
		}
		return nil, fmt.Errorf("local testbed: claim tag %s: %w", tag, err)
	}
	made := &Testbed{tag: tag, binary: bin, state: state, hosts: map[string]*host{}}
	tb = made
	defer func() {
		// Error returns have set tb to nil already: undo through made.
		if err != nil {
			err = errors.Join(err, made.Teardown())
			tb = nil
		}
	}()
	if err := os.WriteFile(filepath.Join(tb.state, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("local testbed: %w", err)
	}
	for _, role := range testbed.Roles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := &host{tb: tb, role: role, ns: NamespaceName(tag, role), tmp: filepath.Join(tb.state, role)}
		if err := os.MkdirAll(h.tmp, 0o700); err != nil {
			return nil, fmt.Errorf("local testbed: %w", err)
		}
		if testHookBeforeNamespace != nil {
			testHookBeforeNamespace(h.ns)
		}
		if err := createNamespace(h.ns); err != nil {
			if errors.Is(err, os.ErrExist) {
				// Made by someone else since checkTag looked: leave it
				// alone, undo only what this run made.
				mine := map[string]bool{state: true}
				for _, o := range tb.hosts {
					mine[o.ns] = true
				}
				if terr := checkTag(tag, mine); terr != nil {
					return nil, terr
				}
			}
			return nil, fmt.Errorf("local testbed: create namespace %s: %w", h.ns, err)
		}
		tb.hosts[role] = h
	}
	if err := tb.wire(opts); err != nil {
		return nil, fmt.Errorf("local testbed: %w", err)
	}
	return tb, nil
}

// Tag returns the per-run tag in every name this testbed made.
func (tb *Testbed) Tag() string { return tb.tag }

// Host returns the host of role.
func (tb *Testbed) Host(role string) testbed.Host { return tb.hosts[role] }

// Hosts returns the four hosts by role.
func (tb *Testbed) Hosts() map[string]testbed.Host {
	m := make(map[string]testbed.Host, len(tb.hosts))
	for r, h := range tb.hosts {
		m[r] = h
	}
	return m
}

// link is one veth pair between two hosts.
type link struct {
	a, b         string // roles
	name         string // device name on both sides
	addrA, addrB netip.Prefix
}

var links = []link{
	{testbed.GW1, testbed.Source, "lan", testbed.GW1LAN, testbed.SourceLAN},
	{testbed.GW1, testbed.GW2, "wan", testbed.GW1WAN, testbed.GW2WAN},
	{testbed.GW2, testbed.Drain, "lan", testbed.GW2LAN, testbed.DrainLAN},
}

// wire creates the links, addresses, routes and forwarding.
func (tb *Testbed) wire(opts Options) error {
	handles := map[string]*netlink.Handle{}
	nsh := map[string]netns.NsHandle{}
	defer func() {
		for _, h := range handles {
			h.Close()
		}
		for _, n := range nsh {
			n.Close()
		}
	}()
	if err := tb.openNamespaces(nsh, handles); err != nil {
		return err
	}
	for _, l := range links {
		if l.name == "wan" && opts.WAN.Set() {
			if err := tb.takePorts(opts.WAN, opts.MTU, nsh, handles); err != nil {
				return err
			}
			continue
		}
		if err := addVeth(l, opts.MTU, nsh, handles); err != nil {
			return err
		}
	}
	if err := addFlowAddrs(handles, opts.Tunnels, opts.FlowsPerTunnel); err != nil {
		return err
	}
	if err := addRoutes(handles); err != nil {
		return err
	}
	for _, gw := range []string{testbed.GW1, testbed.GW2} {
		if err := inNamespace(nsh[gw], func() error {
			return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
		}); err != nil {
			return fmt.Errorf("%s: enable forwarding: %w", gw, err)
		}
	}
	return nil
}

// openNamespaces opens each host's namespace and a netlink handle in it,
// by role, into nsh and handles (which the caller closes), and sets each
// namespace's loopback up.
func (tb *Testbed) openNamespaces(nsh map[string]netns.NsHandle, handles map[string]*netlink.Handle) error {
	for role, h := range tb.hosts {
		n, err := netns.GetFromName(h.ns)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", h.ns, err)
		}
		nsh[role] = n
		nh, err := netlink.NewHandleAt(n)
		if err != nil {
			return fmt.Errorf("netlink in %s: %w", h.ns, err)
		}
		handles[role] = nh
		lo, err := nh.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("%s: find lo: %w", role, err)
		}
		if err := nh.LinkSetUp(lo); err != nil {
			return fmt.Errorf("%s: set lo up: %w", role, err)
		}
	}
	return nil
}

// addVeth creates link l as a veth pair between its two hosts, with the
// MTU if it is set, and gives each end its address and sets it up.
func addVeth(l link, mtu int, nsh map[string]netns.NsHandle, handles map[string]*netlink.Handle) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = l.name
	if mtu > 0 {
		attrs.MTU = mtu
	}
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: l.name, PeerNamespace: netlink.NsFd(nsh[l.b])}
	if err := handles[l.a].LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s between %s and %s: %w", l.name, l.a, l.b, err)
	}
	for _, side := range []struct {
		role string
		addr netip.Prefix
	}{{l.a, l.addrA}, {l.b, l.addrB}} {
		nh := handles[side.role]
		dev, err := nh.LinkByName(l.name)
		if err != nil {
			return fmt.Errorf("%s: find %s: %w", side.role, l.name, err)
		}
		if mtu > 0 {
			if err := nh.LinkSetMTU(dev, mtu); err != nil {
				return fmt.Errorf("%s: set MTU of %s to %d: %w", side.role, l.name, mtu, err)
			}
		}
		if err := nh.AddrAdd(dev, &netlink.Addr{IPNet: prefixNet(side.addr)}); err != nil {
			return fmt.Errorf("%s: add %s to %s: %w", side.role, side.addr, l.name, err)
		}
		if err := nh.LinkSetUp(dev); err != nil {
			return fmt.Errorf("%s: set %s up: %w", side.role, l.name, err)
		}
	}
	return nil
}

// addFlowAddrs adds each flow's address to the LAN link of its site: the
// source address on the source, the destination on the drain.
func addFlowAddrs(handles map[string]*netlink.Handle, tunnels, flowsPerTunnel int) error {
	for _, site := range []string{testbed.Source, testbed.Drain} {
		nh := handles[site]
		dev, err := nh.LinkByName("lan")
		if err != nil {
			return fmt.Errorf("%s: find lan: %w", site, err)
		}
		for t := 0; t < tunnels; t++ {
			for f := 0; f < flowsPerTunnel; f++ {
				src, dst, err := testbed.FlowAddrs(t, f)
				if err != nil {
					return err
				}
				a := src
				if site == testbed.Drain {
					a = dst
				}
				if err := nh.AddrAdd(dev, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(a, 32))}); err != nil {
					return fmt.Errorf("%s: add flow address %s: %w", site, a, err)
				}
			}
		}
	}
	return nil
}

// addRoutes routes each site through its gateway, and each gateway to the
// flow addresses of its own site.
func addRoutes(handles map[string]*netlink.Handle) error {
	routes := []struct {
		role string
		dst  netip.Prefix
		via  netip.Addr
	}{
		{testbed.Source, netip.MustParsePrefix("0.0.0.0/0"), testbed.GW1LAN.Addr()},
		{testbed.Drain, netip.MustParsePrefix("0.0.0.0/0"), testbed.GW2LAN.Addr()},
		{testbed.GW1, testbed.SourceSite, testbed.SourceLAN.Addr()},
		{testbed.GW2, testbed.DrainSite, testbed.DrainLAN.Addr()},
	}
	for _, r := range routes {
		if err := handles[r.role].RouteAdd(&netlink.Route{Dst: prefixNet(r.dst.Masked()), Gw: r.via.AsSlice()}); err != nil {
			return fmt.Errorf("%s: route %s via %s: %w", r.role, r.dst, r.via, err)
		}
	}
	return nil
}

// Teardown stops every process the testbed started, deletes the namespaces
// (which removes their links and devices) and the run's state directory.
// It is safe to call more than once.
func (tb *Testbed) Teardown() error {
	procs, _ := tb.procs.Close()
	procset.StopAll(procs, 5*time.Second, nil)
	var errs []error
	// Processes started outside our bookkeeping (children of children)
	// would keep a namespace's devices alive: kill what is left in them.
	for _, h := range tb.hosts {
		if err := killInNamespace(filepath.Join(NetnsDir, h.ns)); err != nil {
			errs = append(errs, err)
		}
	}
	if tb.wanTaken {
		// Give the WAN ports back before their namespaces go; if that
		// fails, keep everything for `wgbench testbed clean`.
		if _, err := restorePorts(tb.state, func(role string) string {
			return filepath.Join(NetnsDir, NamespaceName(tb.tag, role))
		}); err != nil {
			return errors.Join(append(errs, fmt.Errorf("%w; the namespaces and %s are kept: run `wgbench testbed clean`", err, tb.state))...)
		}
		tb.wanTaken = false
	}
	for _, h := range tb.hosts {
		if err := netns.DeleteNamed(h.ns); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", h.ns, err))
		}
	}
	if err := os.RemoveAll(tb.state); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// createNamespace creates a named network namespace without moving any of
// this process's threads into it for good: the work runs on a locked
// thread that is discarded afterwards. It fails with an error matching
// os.ErrExist, and changes nothing, when the name exists; on any other
// failure it removes the mount point it made.
func createNamespace(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		errc <- func() error {
			if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(NetnsDir, name)
			// O_EXCL: an existing name, whoever made it, is never reused.
			f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
			if err != nil {
				return err
			}
			f.Close()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				os.Remove(path)
				return fmt.Errorf("unshare: %w", err)
			}
			self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
			if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
				os.Remove(path)
				return fmt.Errorf("bind-mount on %s: %w", path, err)
			}
			return nil
		}()
	}()
	return <-errc
}

// inNamespace runs fn on a thread inside ns; the thread is discarded.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// freeTag picks a random tag no namespace uses yet.
func freeTag() (string, error) {
	for i := 0; i < 16; i++ {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if tag := hex.EncodeToString(b[:]); !tagInUse(tag) {
			return tag, nil
		}
	}
	return "", errors.New("local testbed: no free run tag; run `wgbench testbed clean`")
}

// tagInUse reports whether a namespace or state directory has tag.
func tagInUse(tag string) bool {
	if _, err := os.Stat(filepath.Join(StateDir, tag)); !errors.Is(err, os.ErrNotExist) {
		return true
	}
	for _, role := range testbed.Roles {
		if _, err := os.Stat(filepath.Join(NetnsDir, NamespaceName(tag, role))); !errors.Is(err, os.ErrNotExist) {
			return true
		}
	}
	return false
}

func validTag(tag string) bool {
	if len(tag) != 4 {
		return false
	}
	_, err := hex.DecodeString(tag)
	return err == nil && strings.ToLower(tag) == tag
}

// prefixNet converts p to the net.IPNet netlink takes, keeping the host
// bits (an address on a link) as they are.
func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// InScratchNamespace runs fn on a thread inside a new, unnamed network
// namespace that disappears when fn returns: a place to probe what the
// kernel supports without touching the host's own network.
func InScratchNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("create a network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
