// Package fakehost writes the sys/, proc/ and wgbench/ files of a made-up
// machine, in the layout facts.Read reads (and `wgbench facts snapshot`
// writes), so tests and fixtures can describe machines wgbench never ran
// on: a dual-socket server with its NIC on the far node, an edge box, a
// well-tuned gateway.
//
// CPUs are numbered as Linux numbers them on common x86 servers: socket
// by socket, then the second hardware thread of every core after all the
// first ones.
package fakehost

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Machine describes a made-up host.
type Machine struct {
	Hostname, Kernel, CPUModel string
	// Sockets × CoresPerSocket × ThreadsPerCore logical CPUs.
	Sockets, CoresPerSocket, ThreadsPerCore int
	// NUMA writes one NUMA node per socket; without it the host has no
	// node directories.
	NUMA bool
	// SMTControl is smt/control ("on", "off", "notsupported"); empty
	// leaves it out.
	SMTControl string
	// Governor is every CPU's cpufreq governor; empty means no cpufreq.
	Governor, FreqDriver string
	// IdleDriver and IdleStates describe cpuidle (every CPU alike).
	IdleDriver string
	IdleStates []IdleState
	Links      []Link
	// DefaultRoute is the device of the IPv4 default route.
	DefaultRoute string
	// Routes are more IPv4 routes of the main table.
	Routes []Route
	// Endpoints are WireGuard peers' endpoints, as `wgbench facts
	// snapshot` records them (wgbench/wg-endpoints).
	Endpoints []Endpoint
	// Irqbalance runs irqbalance (as PID 900).
	Irqbalance bool
	// NAPIThreads are threaded-NAPI kernel threads (PIDs from 1000).
	NAPIThreads []Thread
	Sysctls     map[string]string
	Cmdline     string
	// WireGuardModule is the module version; empty: not loaded.
	WireGuardModule string
}

// Route is an IPv4 route: destination prefix ("10.10.1.0/24"), device
// and next hop ("" for a connected prefix).
type Route struct {
	Dst, Dev, Via string
}

// Endpoint is a WireGuard peer's endpoint ("10.10.1.2:51820") on device
// Dev.
type Endpoint struct {
	Dev, Addr string
}

// IdleState is one cpuidle state.
type IdleState struct {
	Name      string
	LatencyUS int
	Disabled  bool
}

// Thread is a kernel thread and its allowed CPUs (a CPU list).
type Thread struct {
	Comm, CPUs string
}

// Link is a network interface.
type Link struct {
	Name string
	// Kind is physical, wireguard, tun or veth.
	Kind string
	MTU  int
	// State is the operstate; empty means up.
	State string
	// Speed is the link speed in Mbit/s; 0 writes none.
	Speed int
	// Physical links: driver, PCI address, NUMA node (-1 none), queues
	// (one IRQ each, named <name>-TxRx-<i>) and each IRQ's affinity (a
	// CPU list; the last one repeats).
	Driver      string
	Bus         string
	NUMANode    int
	Queues      int
	IRQAffinity []string
	// RPS maps an RX queue to its RPS mask.
	RPS map[int]string
	// Threaded is the threaded-NAPI flag: "0", "1", or "" for none.
	Threaded string
	// Features are ethtool features by kernel name ("on", "off [fixed]");
	// nil writes no features file.
	Features map[string]string
	// RSS: the indirection table (nil: not written), the UDP/IPv4 hash
	// fields in ethtool letters and the ntuple rule count (-1: unknown).
	Indirection []int
	UDP4Hash    string
	NTupleRules int
	IPv6        bool
	// Patched gives a WireGuard device the patched module's attributes.
	Patched *Patched
}

// Patched are the patched WireGuard module's attributes.
type Patched struct {
	InlineEn                 bool
	EncryptMask, DecryptMask string
	// Subdir puts the attributes below the device's wireguard/ folder
	// (the other place datapath/kernel looks for them).
	Subdir bool
}

// CPUs returns the number of logical CPUs of m.
func (m *Machine) CPUs() int { return m.Sockets * m.CoresPerSocket * max(1, m.ThreadsPerCore) }

// SocketCPUs returns the CPUs of socket s as a list string.
func (m *Machine) SocketCPUs(s int) string {
	var parts []string
	per := m.Sockets * m.CoresPerSocket
	for t := range max(1, m.ThreadsPerCore) {
		lo := t*per + s*m.CoresPerSocket
		parts = append(parts, fmt.Sprintf("%d-%d", lo, lo+m.CoresPerSocket-1))
	}
	return strings.Join(parts, ",")
}

// Write writes m below dir.
func Write(dir string, m *Machine) error {
	w := &writer{dir: dir}
	threads := max(1, m.ThreadsPerCore)
	per := m.Sockets * m.CoresPerSocket
	n := m.CPUs()
	w.file("proc/sys/kernel/hostname", m.Hostname)
	w.file("proc/sys/kernel/osrelease", m.Kernel)
	var cpuinfo strings.Builder
	for i := range n {
		fmt.Fprintf(&cpuinfo, "processor\t: %d\nmodel name\t: %s\n\n", i, m.CPUModel)
	}
	w.file("proc/cpuinfo", cpuinfo.String())
	w.file("sys/devices/system/cpu/online", fmt.Sprintf("0-%d", n-1))
	if m.SMTControl != "" {
		w.file("sys/devices/system/cpu/smt/control", m.SMTControl)
	}
	if m.IdleDriver != "" {
		w.file("sys/devices/system/cpu/cpuidle/current_driver", m.IdleDriver)
		w.file("sys/devices/system/cpu/cpuidle/current_governor", "menu")
	}
	for cpu := range n {
		d := fmt.Sprintf("sys/devices/system/cpu/cpu%d", cpu)
		core := cpu % per
		socket := core / m.CoresPerSocket
		w.file(d+"/topology/physical_package_id", strconv.Itoa(socket))
		w.file(d+"/topology/core_id", strconv.Itoa(core%m.CoresPerSocket))
		var sib []string
		for t := range threads {
			sib = append(sib, strconv.Itoa(t*per+core))
		}
		w.file(d+"/topology/thread_siblings_list", strings.Join(sib, ","))
		if m.Governor != "" {
			w.file(d+"/cpufreq/scaling_governor", m.Governor)
			w.file(d+"/cpufreq/scaling_driver", m.FreqDriver)
		}
		for i, st := range m.IdleStates {
			sd := fmt.Sprintf("%s/cpuidle/state%d", d, i)
			w.file(sd+"/name", st.Name)
			w.file(sd+"/latency", strconv.Itoa(st.LatencyUS))
			w.file(sd+"/disable", map[bool]string{false: "0", true: "1"}[st.Disabled])
		}
	}
	if m.NUMA {
		for s := range m.Sockets {
			w.file(fmt.Sprintf("sys/devices/system/node/node%d/cpulist", s), m.SocketCPUs(s))
		}
	}
	w.links(m)
	if m.Irqbalance {
		w.file("proc/900/comm", "irqbalance")
	}
	for i, th := range m.NAPIThreads {
		pid := 1000 + i
		w.file(fmt.Sprintf("proc/%d/comm", pid), th.Comm)
		w.file(fmt.Sprintf("proc/%d/status", pid), fmt.Sprintf("Name:\t%s\nCpus_allowed_list:\t%s\n", th.Comm, th.CPUs))
	}
	for k, v := range m.Sysctls {
		w.file("proc/sys/"+strings.ReplaceAll(k, ".", "/"), v)
	}
	if m.Cmdline != "" {
		w.file("proc/cmdline", m.Cmdline)
	}
	if m.WireGuardModule != "" {
		w.file("sys/module/wireguard/version", m.WireGuardModule)
	}
	route := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	if m.DefaultRoute != "" {
		route += m.DefaultRoute + "\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	}
	for _, r := range m.Routes {
		line, err := routeLine(r)
		if err != nil {
			return err
		}
		route += line
	}
	w.file("proc/net/route", route)
	if len(m.Endpoints) > 0 {
		var eps strings.Builder
		for _, e := range m.Endpoints {
			fmt.Fprintf(&eps, "%s %s\n", e.Dev, e.Addr)
		}
		w.file("wgbench/wg-endpoints", eps.String())
	}
	w.file("wgbench/wgbench-version", "v0.3.0")
	return w.err
}

// links writes each link's sysfs, ethtool and interrupt files, and the
// interrupt and IPv6 address tables of them all.
func (w *writer) links(m *Machine) {
	var irqs []string
	var inet6 strings.Builder
	irq := 100
	for idx, l := range m.Links {
		d := "sys/class/net/" + l.Name
		w.file(d+"/ifindex", strconv.Itoa(idx+2))
		w.file(d+"/mtu", strconv.Itoa(l.MTU))
		w.file(d+"/operstate", cmp.Or(l.State, "up"))
		if l.Speed > 0 {
			w.file(d+"/speed", strconv.Itoa(l.Speed))
		}
		iflink := idx + 2
		switch l.Kind {
		case "wireguard":
			w.wireguard(d, l)
		case "tun":
			w.file(d+"/type", "65534")
			w.file(d+"/uevent", "INTERFACE="+l.Name)
			w.file(d+"/tun_flags", "0x1001")
		case "veth":
			w.file(d+"/type", "1")
			w.file(d+"/uevent", "INTERFACE="+l.Name)
			iflink = 100 + idx
		default:
			irqs = append(irqs, w.nic(m, d, l, &irq)...)
		}
		w.file(d+"/iflink", strconv.Itoa(iflink))
		w.queues(d, l)
		if l.Threaded != "" {
			w.file(d+"/threaded", l.Threaded)
		}
		if l.Features != nil {
			w.features(l)
		}
		if l.IPv6 {
			fmt.Fprintf(&inet6, "20010db8000000000000000000000001 %02x 40 00 80 %8s\n", idx+2, l.Name)
		}
	}
	w.file("proc/interrupts", "            CPU0       CPU1\n"+strings.Join(irqs, "\n")+"\n")
	w.file("proc/net/if_inet6", inet6.String())
}

// wireguard writes a WireGuard link's type, and the patched module's knobs
// if it has them.
func (w *writer) wireguard(d string, l Link) {
	w.file(d+"/type", "65534")
	w.file(d+"/uevent", "DEVTYPE=wireguard\nINTERFACE="+l.Name)
	if p := l.Patched; p != nil {
		pd := d
		if p.Subdir {
			pd += "/wireguard"
		}
		w.file(pd+"/inline_en", map[bool]string{false: "0", true: "1"}[p.InlineEn])
		w.file(pd+"/encrypt_cpumask", p.EncryptMask)
		w.file(pd+"/decrypt_cpumask", p.DecryptMask)
		w.file(pd+"/peer_0/serial_work_cpu", "0")
	}
}

// nic writes a physical NIC's device files, one MSI-X interrupt per queue
// numbered from *irq on, and its ethtool answers; it returns the NIC's
// lines of /proc/interrupts.
func (w *writer) nic(m *Machine, d string, l Link, irq *int) []string {
	w.file(d+"/type", "1")
	w.file(d+"/uevent", "INTERFACE="+l.Name)
	w.file(d+"/device/uevent", "DRIVER="+l.Driver+"\nPCI_SLOT_NAME="+l.Bus)
	w.file(d+"/device/numa_node", strconv.Itoa(l.NUMANode))
	if l.NUMANode >= 0 && m.NUMA {
		w.file(d+"/device/local_cpulist", m.SocketCPUs(l.NUMANode))
	}
	var irqs []string
	for q := range l.Queues {
		n := *irq
		w.file(fmt.Sprintf("%s/device/msi_irqs/%d", d, n), "msix")
		aff := "0"
		if len(l.IRQAffinity) > 0 {
			aff = l.IRQAffinity[min(q, len(l.IRQAffinity)-1)]
		}
		w.file(fmt.Sprintf("proc/irq/%d/smp_affinity_list", n), aff)
		w.file(fmt.Sprintf("proc/irq/%d/effective_affinity_list", n), strings.SplitN(strings.SplitN(aff, ",", 2)[0], "-", 2)[0])
		irqs = append(irqs, fmt.Sprintf("%4d:          0          0  IR-PCI-MSIX-%s %d-edge      %s-TxRx-%d", n, l.Bus, q, l.Name, q))
		*irq++
	}
	w.ethtool(l)
	return irqs
}

// ethtool writes what ethtool says of a NIC's RSS indirection table, UDP
// hash fields and ntuple rules.
func (w *writer) ethtool(l Link) {
	if l.Indirection != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "RX flow hash indirection table for %s with %d RX ring(s):\n", l.Name, l.Queues)
		for i := 0; i < len(l.Indirection); i += 8 {
			fmt.Fprintf(&b, "%5d:", i)
			for _, q := range l.Indirection[i:min(i+8, len(l.Indirection))] {
				fmt.Fprintf(&b, "%6d", q)
			}
			b.WriteString("\n")
		}
		w.file("wgbench/ethtool/"+l.Name+"/rxfh-indir", b.String())
	}
	if l.UDP4Hash != "" {
		text := map[byte]string{'s': "IP SA", 'd': "IP DA", 'f': "L4 bytes 0 & 1 [TCP/UDP src port]", 'n': "L4 bytes 2 & 3 [TCP/UDP dst port]"}
		s := "UDP over IPV4 flows use these fields for computing Hash flow key:\n"
		for i := range len(l.UDP4Hash) {
			s += text[l.UDP4Hash[i]] + "\n"
		}
		w.file("wgbench/ethtool/"+l.Name+"/udp4-hash", s)
	}
	nt := fmt.Sprintf("%d RX rings available\n", l.Queues)
	if l.NTupleRules >= 0 {
		nt += fmt.Sprintf("Total %d rules\n", l.NTupleRules)
	}
	w.file("wgbench/ethtool/"+l.Name+"/ntuple", nt)
}

// queues writes the RPS and XPS masks of each of a link's queues (one at
// least).
func (w *writer) queues(d string, l Link) {
	for q := range max(1, l.Queues) {
		rps := "0"
		if v, ok := l.RPS[q]; ok {
			rps = v
		}
		w.file(fmt.Sprintf("%s/queues/rx-%d/rps_cpus", d, q), rps)
		w.file(fmt.Sprintf("%s/queues/tx-%d/xps_cpus", d, q), "0")
	}
}

// features writes what ethtool -k says of a link's offloads, sorted by name.
func (w *writer) features(l Link) {
	var b strings.Builder
	fmt.Fprintf(&b, "Features for %s:\n", l.Name)
	names := make([]string, 0, len(l.Features))
	for n := range l.Features {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s\n", n, l.Features[n])
	}
	w.file("wgbench/ethtool/"+l.Name+"/features", b.String())
}

// routeLine renders r as a line of proc/net/route (addresses in host
// byte order, little-endian).
func routeLine(r Route) (string, error) {
	p, err := netip.ParsePrefix(r.Dst)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("route %q: want an IPv4 prefix", r.Dst)
	}
	hexAddr := func(a netip.Addr) string {
		b := a.As4()
		return fmt.Sprintf("%08X", binary.LittleEndian.Uint32(b[:]))
	}
	mask := netip.AddrFrom4([4]byte{})
	if p.Bits() > 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-p.Bits()))
		mask = netip.AddrFrom4(b)
	}
	gw, flags := netip.AddrFrom4([4]byte{}), "0001"
	if r.Via != "" {
		if gw, err = netip.ParseAddr(r.Via); err != nil || !gw.Is4() {
			return "", fmt.Errorf("route %s via %q: want an IPv4 address", r.Dst, r.Via)
		}
		flags = "0003"
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t0\t0\t0\t%s\t0\t0\t0\n", r.Dev, hexAddr(p.Masked().Addr()), hexAddr(gw), flags, hexAddr(mask)), nil
}

type writer struct {
	dir string
	err error
}

func (w *writer) file(rel, content string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = err
		return
	}
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	w.err = os.WriteFile(p, []byte(content), 0o644)
}
