package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Fact is one line of `wgbench doctor` about the kernel datapath: a fact
// that holds (OK) or a warning with advice.
type Fact struct {
	OK     bool
	Fact   string
	Advice string
}

// Doctor reads what the kernel datapath can use on this host: the
// WireGuard module, threaded NAPI, the NUMA nodes, and the NIC of the
// default route (queues, IRQs, NUMA node, ntuple filters, UDP GRO
// forwarding). It changes nothing. Call it in the host's own network
// namespace, with files mapping its /sys and /proc.
func Doctor(files Files) []Fact {
	var out []Fact
	ok := func(format string, args ...any) {
		out = append(out, Fact{OK: true, Fact: fmt.Sprintf(format, args...)})
	}
	warn := func(advice, format string, args ...any) {
		out = append(out, Fact{Fact: fmt.Sprintf(format, args...), Advice: advice})
	}

	switch v, where := wireGuardModule(files); {
	case where == "loaded":
		ok("WireGuard module loaded%s", v)
	case where != "":
		ok("WireGuard module %s (loads on first use)", where)
	default:
		warn("the kernel datapath is skipped here; use a kernel with CONFIG_WIREGUARD (make test-kernel tests it in one under QEMU)",
			"no WireGuard module in this kernel")
	}

	nets, _ := files.List("/sys/class/net")
	threaded := ""
	for _, n := range nets {
		if _, err := files.Read("/sys/class/net/" + n + "/threaded"); err == nil {
			threaded = n
			break
		}
	}
	if threaded != "" {
		ok("threaded NAPI supported (/sys/class/net/%s/threaded exists)", threaded)
	} else {
		warn("threaded_napi (and napi_cpus, numa_node) fail here; list them under optional or use Linux 5.12 or later",
			"no threaded NAPI: no /sys/class/net/*/threaded")
	}

	nodes, _ := files.List("/sys/devices/system/node")
	var desc []string
	for _, n := range nodes {
		if !strings.HasPrefix(n, "node") {
			continue
		}
		cpus, err := files.Read("/sys/devices/system/node/" + n + "/cpulist")
		if err == nil {
			desc = append(desc, fmt.Sprintf("%s CPUs %s", n, cpus))
		}
	}
	switch len(desc) {
	case 0:
		ok("no NUMA information (one node): numa_node has nothing to place")
	case 1:
		ok("1 NUMA node (%s): numa_node -1 is skipped when optional", desc[0])
	default:
		ok("%d NUMA nodes: %s", len(desc), strings.Join(desc, "; "))
	}

	out = append(out, nicFacts(files)...)
	return out
}

// wireGuardModule says whether WireGuard is loaded (with " version X"),
// built in or available as a module.
func wireGuardModule(files Files) (version, where string) {
	if _, err := files.List("/sys/module/wireguard"); err == nil {
		if v, err := files.Read("/sys/module/wireguard/version"); err == nil {
			return " (version " + v + ")", "loaded"
		}
		return "", "loaded"
	}
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return "", ""
	}
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	for _, f := range []struct{ file, where string }{{"modules.builtin", "built in"}, {"modules.dep", "available"}} {
		if b, err := os.ReadFile(filepath.Join(dir, f.file)); err == nil && strings.Contains(string(b), "/wireguard.ko") {
			return "", f.where
		}
	}
	return "", ""
}

// nicFacts describes the NIC of the default route, the WAN NIC of a
// gateway whose default route faces its peer.
func nicFacts(files Files) []Fact {
	nic, err := defaultRouteLink()
	if err != nil {
		return []Fact{{Fact: "no default route: " + err.Error(), Advice: "the WAN knobs need the WAN NIC; pass it with --wan-dev"}}
	}
	var out []Fact
	base := "/sys/class/net/" + nic
	queues, _ := files.List(base + "/queues")
	rx, tx := 0, 0
	for _, q := range queues {
		switch {
		case strings.HasPrefix(q, "rx-"):
			rx++
		case strings.HasPrefix(q, "tx-"):
			tx++
		}
	}
	parts := []string{fmt.Sprintf("%d rx / %d tx queues", rx, tx)}
	if _, err := files.List(base + "/device"); err != nil {
		parts = append(parts, "no device (a virtual NIC: no IRQs or NUMA node to tune)")
	} else {
		if irqs, err := files.List(base + "/device/msi_irqs"); err == nil {
			parts = append(parts, fmt.Sprintf("%d MSI IRQs (%s)", len(irqs), strings.Join(irqs, ",")))
			if qs, err := QueueIRQs(files, nic); err == nil {
				var m []string
				for _, q := range qs {
					m = append(m, fmt.Sprintf("rx-%d→IRQ %d", q.Queue, q.IRQ))
				}
				parts = append(parts, "irq_cpus can place "+strings.Join(m, " "))
			} else {
				parts = append(parts, "irq_cpus cannot act: "+strings.TrimPrefix(err.Error(), ErrUnsupported.Error()+": "))
			}
		} else {
			parts = append(parts, "no MSI IRQs visible")
		}
		if n, err := files.Read(base + "/device/numa_node"); err == nil {
			parts = append(parts, "NUMA node "+n)
		}
	}
	out = append(out, Fact{OK: true, Fact: fmt.Sprintf("WAN NIC %s (default route): %s", nic, strings.Join(parts, ", "))})

	eth, err := OpenEthtool()
	if err != nil {
		return append(out, Fact{Fact: "cannot read NIC features: " + err.Error(), Advice: "run as root"})
	}
	defer eth.Close()
	for _, f := range []struct {
		feat, knob, what string
	}{
		{featNtuple, KnobSteering, "ntuple filters"},
		{featUDPGROForwarding, KnobUDPGROForwarding, "UDP GRO forwarding"},
	} {
		st, err := eth.Feature(nic, f.feat)
		switch {
		case errors.Is(err, ErrNoFeature):
			out = append(out, Fact{Fact: fmt.Sprintf("the kernel has no %s feature", f.feat), Advice: f.knob + " fails here; list it under optional"})
		case err != nil:
			out = append(out, Fact{Fact: fmt.Sprintf("cannot read %s of %s: %v", f.feat, nic, err), Advice: "run as root"})
		case st.Active || st.Changeable:
			out = append(out, Fact{OK: true, Fact: fmt.Sprintf("WAN NIC %s has %s (%s %s)", nic, f.what, f.feat, onOff(st.Active))})
		default:
			out = append(out, Fact{Fact: fmt.Sprintf("WAN NIC %s has no %s (%s fixed off)", nic, f.what, f.feat),
				Advice: f.knob + " fails on this NIC; list it under optional"})
		}
	}
	return out
}

// defaultRouteLink names the link of the IPv4 default route.
func defaultRouteLink() (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && r.Dst.Mask != nil && isZeroMask(r.Dst.Mask) {
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return "", fmt.Errorf("link of the default route: %w", err)
			}
			return l.Attrs().Name, nil
		}
	}
	return "", errors.New("no IPv4 default route")
}

func isZeroMask(m []byte) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// PatchedAttributes lists the patched inline module's attributes
// (inline_en, encrypt_cpumask, decrypt_cpumask, peer_<N>/serial_work_cpu)
// found on a throw-away WireGuard device with one peer. It creates the
// device in the calling thread's network namespace, which must be a
// scratch one (`wgbench doctor` uses testbed/local.InScratchNamespace),
// mounts a sysfs of that namespace on a temporary directory to read
// them, and removes both. An empty list means the stock module.
func PatchedAttributes() ([]string, error) {
	dir, err := os.MkdirTemp("", "wgbench-sysfs-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)
	if err := unix.Mount("sysfs", dir, "sysfs", 0, ""); err != nil {
		return nil, fmt.Errorf("mount a sysfs for the scratch namespace: %w", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	const name = "wgbdoctor0"
	if err := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return nil, fmt.Errorf("create a wireguard link: %w", err)
	}
	defer func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	}()
	c, err := wgctrl.New()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	if err := c.ConfigureDevice(name, wgtypes.Config{Peers: []wgtypes.PeerConfig{{PublicKey: k.PublicKey()}}}); err != nil {
		return nil, fmt.Errorf("add a peer: %w", err)
	}
	files := Tree{Sys: dir, Proc: "/proc"}
	var found []string
	for _, a := range []string{"inline_en", "encrypt_cpumask", "decrypt_cpumask"} {
		if _, err := findPatched(files, name, a); err == nil {
			found = append(found, a)
		}
	}
	for _, d := range patchedDirs {
		base := "/sys/class/net/" + name
		if d != "" {
			base += "/" + d
		}
		names, _ := files.List(base)
		for _, n := range names {
			if _, err := files.Read(base + "/" + n + "/serial_work_cpu"); strings.HasPrefix(n, "peer_") && err == nil {
				found = append(found, "peer_<N>/serial_work_cpu")
				return found, nil
			}
		}
	}
	return found, nil
}
