// Package facts collects what a host is, on the host itself (the `wgbench
// agent facts` and `wgbench facts` verbs): kernel and tools; CPUs, sockets,
// NUMA nodes, hyper-threading, frequency governor and idle states; every
// network link with its driver, NUMA node, queues, IRQs and their
// affinity, RPS/XPS masks, offloads, RSS and flow-steering rules; the
// WireGuard devices with their threaded-NAPI flag and the patched
// module's inline attributes; irqbalance and the threaded-NAPI kernel
// threads; and the sysctls that matter to a gateway. Results are compared
// fairly with them and the tuner fits its suggestions to them.
//
// Everything is read from files below a root: "/" on the live host, or a
// snapshot directory taken with Snapshot on another machine, so a host can
// be analysed anywhere. What the kernel only tells through ethtool (the
// offloads, the RSS indirection table, the UDP hash fields and the ntuple
// rules) is asked over the ethtool ioctl on the live host and stored in
// the snapshot under wgbench/ethtool/<dev>/ in the text format of
// `ethtool -k`, `ethtool -x` and friends, so a snapshot can also be put
// together by hand.
//
// Nothing fails for want of a fact: what cannot be read is left empty and
// said in Notes (or in the link's Offloads.Error and RSS.Error).
package facts

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/version"
	"github.com/wgbench/wgbench/results"
)

// extraDir is the snapshot folder for what the live host has no file for.
const extraDir = "wgbench"

// Host is everything the facts know about one host. Its first fields are
// results.HostFacts', so the JSON of a Host reads as a HostFacts too (the
// runner stores that summary in run.json).
type Host struct {
	results.Machine
	// AllowedCPUs are the CPUs wgbench's processes were confined to on
	// the host (the SSH inventory's cores), when not all online ones.
	AllowedCPUs CPUList `json:"allowed_cpus,omitempty"`

	// Source is "live" for facts read on the host, or "snapshot <dir>".
	Source string `json:"source"`
	// CPU describes the processors.
	CPU CPU `json:"cpu"`
	// Nodes lists the NUMA nodes and their CPUs (one node when the host
	// exposes no NUMA information).
	Nodes []NUMANode `json:"nodes"`
	// Links are the network interfaces, loopback left out.
	Links []Link `json:"links"`
	// DefaultRoute is the device of the IPv4 (else IPv6) default route.
	DefaultRoute string `json:"default_route,omitempty"`
	// Routes are the main routing table's routes.
	Routes []Route `json:"routes,omitempty"`
	// Endpoints are the WireGuard peers' endpoints and the links they
	// are routed through.
	Endpoints []Endpoint `json:"wg_endpoints,omitempty"`
	// Underlay is the link the tunnels are carried on, and why that one
	// (ChooseUnderlay).
	Underlay *Underlay `json:"underlay,omitempty"`
	// Irqbalance says whether the irqbalance daemon runs.
	Irqbalance Service `json:"irqbalance"`
	// NAPIThreads are the threaded-NAPI kernel threads (napi/<dev>-<id>)
	// with the CPUs they may run on.
	NAPIThreads []Thread `json:"napi_threads,omitempty"`
	// Sysctls holds the values of SysctlNames that could be read.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// BootParams are the kernel command-line parameters about idle
	// states, isolation and IRQ affinity (the rest of the command line is
	// not recorded).
	BootParams []string `json:"boot_params,omitempty"`
}

// CPU describes a host's processors.
type CPU struct {
	// Online are the online logical CPUs.
	Online CPUList `json:"online"`
	// Sockets is the number of physical packages.
	Sockets int `json:"sockets"`
	// PhysicalCores is the number of distinct cores (hyper-threads of one
	// core counted once).
	PhysicalCores int `json:"physical_cores"`
	// ThreadsPerCore is the most hardware threads of one core.
	ThreadsPerCore int `json:"threads_per_core"`
	// SMT is /sys/devices/system/cpu/smt/control: on, off, forceoff,
	// notsupported, notimplemented; empty when absent.
	SMT string `json:"smt,omitempty"`
	// Siblings lists the groups of hardware threads that share a core,
	// only groups of two or more.
	Siblings []CPUList `json:"siblings,omitempty"`
	// FreqDriver is the cpufreq scaling driver; empty without cpufreq.
	FreqDriver string `json:"freq_driver,omitempty"`
	// Governors maps each cpufreq governor in use to its CPUs.
	Governors map[string]CPUList `json:"governors,omitempty"`
	// IdleDriver and IdleGovernor are the cpuidle driver and governor.
	IdleDriver   string `json:"idle_driver,omitempty"`
	IdleGovernor string `json:"idle_governor,omitempty"`
	// IdleStates are the cpuidle states, shallowest first.
	IdleStates []IdleState `json:"idle_states,omitempty"`
}

// IdleState is one cpuidle state across the CPUs.
type IdleState struct {
	// Index is the state's number (stateN).
	Index int    `json:"index"`
	Name  string `json:"name"`
	// LatencyUS is the exit latency in microseconds (of the first CPU
	// that has the state).
	LatencyUS int `json:"latency_us"`
	// Enabled and Disabled are the CPUs where the state is allowed or
	// turned off.
	Enabled  CPUList `json:"enabled,omitempty"`
	Disabled CPUList `json:"disabled,omitempty"`
}

// NUMANode is one NUMA node.
type NUMANode struct {
	ID   int     `json:"id"`
	CPUs CPUList `json:"cpus"`
}

// Link kinds.
const (
	KindPhysical  = "physical"  // has a device (PCI, virtio, …)
	KindWireGuard = "wireguard" // kernel WireGuard
	KindTun       = "tun"       // TUN/TAP (wireguard-go, the inline engine)
	KindVeth      = "veth"      // one end of a veth pair
	KindBridge    = "bridge"
	KindVirtual   = "virtual" // any other software device
)

// Link is one network interface.
type Link struct {
	Name string `json:"name"`
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// DevType is the DEVTYPE of the interface's uevent, if any.
	DevType string `json:"devtype,omitempty"`
	MTU     int    `json:"mtu"`
	// State is the operstate: up, down, unknown, …
	State string `json:"state,omitempty"`
	// SpeedMbps is the link speed in Mbit/s; 0 when unknown.
	SpeedMbps int `json:"speed_mbps,omitempty"`
	// Driver is the device driver (physical links).
	Driver string `json:"driver,omitempty"`
	// Bus is the device's bus address, e.g. 0000:3b:00.0.
	Bus string `json:"bus,omitempty"`
	// NUMANode is the device's NUMA node; -1 when unknown or not NUMA.
	NUMANode int `json:"numa_node"`
	// LocalCPUs are the CPUs the device reports as local.
	LocalCPUs CPUList `json:"local_cpus,omitempty"`
	// RxQueues and TxQueues count the queues in sysfs.
	RxQueues int `json:"rx_queues"`
	TxQueues int `json:"tx_queues"`
	// RPS and XPS map queue names (rx-0, tx-0) to their non-empty CPU
	// masks.
	RPS map[string]CPUList `json:"rps,omitempty"`
	XPS map[string]CPUList `json:"xps,omitempty"`
	// IRQs are the device's interrupts.
	IRQs []IRQ `json:"irqs,omitempty"`
	// Threaded is the threaded-NAPI flag (/sys/class/net/<dev>/threaded);
	// nil when the kernel has none.
	Threaded *bool `json:"threaded,omitempty"`
	// IPv6 is true when the link has a global IPv6 address.
	IPv6 bool `json:"ipv6,omitempty"`
	// Offloads are the link's offload features.
	Offloads Offloads `json:"offloads"`
	// RSS describes receive-side scaling (physical links).
	RSS *RSS `json:"rss,omitempty"`
	// WireGuard holds what WireGuard devices expose.
	WireGuard *WireGuard `json:"wireguard,omitempty"`
}

// IRQ is one interrupt of a device.
type IRQ struct {
	Number int    `json:"irq"`
	Name   string `json:"name,omitempty"`
	// Affinity is smp_affinity_list; Effective is effective_affinity_list.
	Affinity  CPUList `json:"affinity,omitempty"`
	Effective CPUList `json:"effective,omitempty"`
}

// The offload features the facts record, by their kernel names (the
// names `ethtool -k` prints after its aliases).
const (
	FeatureGRO       = "rx-gro"
	FeatureGSO       = "tx-generic-segmentation"
	FeatureUDPGROFwd = "rx-udp-gro-forwarding"
	FeatureGROList   = "rx-gro-list"
	FeatureGROHW     = "rx-gro-hw"
	FeatureLRO       = "rx-lro"
	FeatureTSO       = "tx-tcp-segmentation"
	FeatureUSO       = "tx-udp-segmentation"
	FeatureNTuple    = "rx-ntuple-filter"
	FeatureRXHash    = "rx-hashing"
	FeatureRXCsum    = "rx-checksum"
)

// Features lists the recorded features in display order.
var Features = []string{FeatureGRO, FeatureGSO, FeatureUDPGROFwd, FeatureGROList, FeatureGROHW,
	FeatureLRO, FeatureTSO, FeatureUSO, FeatureNTuple, FeatureRXHash, FeatureRXCsum}

// Offloads are a link's offload features.
type Offloads struct {
	// Source says where they were read: "ethtool ioctl" or the snapshot
	// file.
	Source string `json:"source,omitempty"`
	// Error says why they could not be read; Features is then empty.
	Error string `json:"error,omitempty"`
	// Features maps feature names (Feature* constants) to "on", "off",
	// "on [fixed]" or "off [fixed]" (fixed: the driver does not let it
	// change).
	Features map[string]string `json:"features,omitempty"`
}

// Feature returns whether the feature is on, whether it is fixed, and
// whether it is known at all.
func (o Offloads) Feature(name string) (on, fixed, known bool) {
	v, ok := o.Features[name]
	if !ok {
		return false, false, false
	}
	return strings.HasPrefix(v, "on"), strings.Contains(v, "[fixed]"), true
}

// RSS is a link's receive-side scaling set-up.
type RSS struct {
	// Rings is the number of receive rings RSS spreads over; 0 unknown.
	Rings int `json:"rings,omitempty"`
	// Indirection is the RSS indirection table (entry → ring).
	Indirection []int `json:"indirection,omitempty"`
	// UDP4Hash is the hashed fields of UDP over IPv4 in ethtool's letters
	// ("sdfn": addresses and both ports; "sd": addresses only); empty when
	// unknown.
	UDP4Hash string `json:"udp4_hash,omitempty"`
	// NTupleRules is the number of ntuple (flow steering) rules; -1 when
	// unknown.
	NTupleRules int `json:"ntuple_rules"`
	// Error says what could not be read.
	Error string `json:"error,omitempty"`
}

// Queues returns the distinct rings the indirection table uses, or Rings
// when the table is unknown.
func (r *RSS) Queues() int {
	if r == nil {
		return 0
	}
	if len(r.Indirection) > 0 {
		seen := map[int]bool{}
		for _, q := range r.Indirection {
			seen[q] = true
		}
		return len(seen)
	}
	return r.Rings
}

// PortsHashed reports whether UDP over IPv4 is hashed on the ports, and
// whether that is known.
func (r *RSS) PortsHashed() (hashed, known bool) {
	if r == nil || r.UDP4Hash == "" {
		return false, false
	}
	return strings.Contains(r.UDP4Hash, "f") && strings.Contains(r.UDP4Hash, "n"), true
}

// WireGuard is what a kernel WireGuard device exposes in sysfs, including
// the attributes of the patched "inline" module (HPSR 2025, Sec. IV-C).
type WireGuard struct {
	// Patched is true when the device has the patched module's
	// attributes.
	Patched bool `json:"patched"`
	// InlineEnabled is the patched module's inline_en.
	InlineEnabled *bool `json:"inline_en,omitempty"`
	// EncryptCPUs and DecryptCPUs are the patched module's crypto masks.
	EncryptCPUs CPUList `json:"encrypt_cpus,omitempty"`
	DecryptCPUs CPUList `json:"decrypt_cpus,omitempty"`
	// SerialWorkCPUs maps peer_<N> to its serial_work_cpu.
	SerialWorkCPUs map[string]int `json:"serial_work_cpus,omitempty"`
	// AttrDir is the folder of the attributes below the device's sysfs
	// directory: "" (directly in it) or "wireguard".
	AttrDir string `json:"attr_dir,omitempty"`
}

// AttrPath returns the sysfs path of a patched attribute of device dev.
func (w *WireGuard) AttrPath(dev, name string) string {
	if w != nil && w.AttrDir != "" {
		return "/sys/class/net/" + dev + "/" + w.AttrDir + "/" + name
	}
	return "/sys/class/net/" + dev + "/" + name
}

// Service is a daemon and its processes.
type Service struct {
	Running bool  `json:"running"`
	PIDs    []int `json:"pids,omitempty"`
}

// Thread is a kernel thread and where it may run.
type Thread struct {
	PID  int     `json:"pid"`
	Comm string  `json:"comm"`
	CPUs CPUList `json:"cpus,omitempty"`
}

// SysctlNames are the sysctls recorded, as paths below /proc/sys with
// dots.
var SysctlNames = []string{
	"net.core.rmem_max", "net.core.wmem_max", "net.core.rmem_default", "net.core.wmem_default",
	"net.core.netdev_max_backlog", "net.core.netdev_budget", "net.core.busy_poll", "net.core.busy_read",
	"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
}

// Tunnels returns the tunnel links: kernel WireGuard devices and TUN
// devices (wireguard-go, the inline engine).
func (h *Host) Tunnels() []Link {
	var out []Link
	for _, l := range h.Links {
		if l.Kind == KindWireGuard || l.Kind == KindTun {
			out = append(out, l)
		}
	}
	return out
}

// Link returns the link named name.
func (h *Host) Link(name string) (Link, bool) {
	for _, l := range h.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// NodeOf returns the NUMA node of cpu, or -1.
func (h *Host) NodeOf(cpu int) int {
	for _, n := range h.Nodes {
		if n.CPUs.Contains(cpu) {
			return n.ID
		}
	}
	return -1
}

// Node returns NUMA node id.
func (h *Host) Node(id int) (NUMANode, bool) {
	for _, n := range h.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NUMANode{}, false
}

// Summary returns the facts results.HostFacts records in run.json.
func (h *Host) Summary() results.HostFacts {
	return results.HostFacts{Machine: h.Machine, AllowedCPUs: h.AllowedCPUs.String()}
}

// FromSummary makes a Host of the summary a run recorded, for runs
// without full facts.
func FromSummary(s results.HostFacts) *Host {
	h := &Host{Machine: s.Machine, Source: "run.json summary"}
	h.Notes = append([]string{"summary only (run.json): links, governor, idle states and IRQs unknown"}, s.Notes...)
	h.AllowedCPUs, _ = cpuset.Parse(s.AllowedCPUs)
	return h
}

// RunFile is the name of the file, in a run folder, that holds the full
// facts of the host with the given role.
func RunFile(role string) string { return "facts-" + role + ".json" }

// Collect reads the facts of the host it runs on. It does not fail: what
// it cannot read is left empty and explained in Notes.
func Collect(ctx context.Context) *Host {
	h, _ := collect(ctx, &tree{root: "/"}, true)
	return h
}

// Read reads the facts of a snapshot (or any tree with the host's sys/
// and proc/ below root). It fails only when root holds neither.
func Read(ctx context.Context, root string) (*Host, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("facts root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("facts root %s is not a directory", root)
	}
	_, errSys := os.Stat(filepath.Join(root, "sys"))
	_, errProc := os.Stat(filepath.Join(root, "proc"))
	if errSys != nil && errProc != nil {
		return nil, fmt.Errorf("facts root %s has neither sys/ nor proc/: give the directory a snapshot was written to (wgbench facts snapshot DIR)", root)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("facts root: %w", err)
	}
	if abs == "/" {
		return Collect(ctx), nil
	}
	return collect(ctx, &tree{root: abs}, false)
}

// Snapshot reads the facts of this host and copies every file they come
// from into out (which must not exist or be empty), with what ethtool
// tells under out/wgbench/. Read(out) then gives the same facts on any
// machine.
func Snapshot(ctx context.Context, out string) (*Host, error) {
	return snapshot(ctx, "/", out, true)
}

// snapshot copies what the facts of the tree at root read into out.
func snapshot(ctx context.Context, root, out string, live bool) (*Host, error) {
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("snapshot: %s is not empty; give a new directory", out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	rec := &recorder{out: out, filters: map[string]func([]byte) []byte{"proc/cmdline": filterCmdline}}
	h, err := collect(ctx, &tree{root: root, rec: rec}, live)
	if err != nil {
		return h, err
	}
	rec.extra("README", []byte("Facts snapshot written by `wgbench facts snapshot` ("+h.Wgbench+").\n"+
		"Read it anywhere with: wgbench facts --root DIR, wgbench tune --root DIR.\n"+
		"ethtool/<dev>/ holds what only ethtool tells, in ethtool's text formats.\n"))
	if len(rec.errs) > 0 {
		return h, fmt.Errorf("snapshot %s incomplete: %w", out, errors.Join(rec.errs...))
	}
	return h, nil
}

// collect reads every fact below t. live says the tree is this host's own
// root, so tools may be run and ethtool asked.
func collect(ctx context.Context, t *tree, live bool) (*Host, error) {
	h := &Host{Source: "live"}
	if !live {
		h.Source = "snapshot " + t.root
	}
	note := func(format string, args ...any) { h.Notes = append(h.Notes, fmt.Sprintf(format, args...)) }
	h.Hostname, _ = t.read("proc/sys/kernel/hostname")
	h.Kernel, _ = t.read("proc/sys/kernel/osrelease")
	if live {
		if h.Hostname == "" {
			h.Hostname, _ = os.Hostname()
		}
		var u unix.Utsname
		if h.Kernel == "" && unix.Uname(&u) == nil {
			h.Kernel = unix.ByteSliceToString(u.Release[:])
		}
	}
	if b, err := t.readBytes("proc/cpuinfo"); err == nil {
		h.CPUModel = cpuModel(b)
	}
	readCPU(t, h)
	if h.Cores == 0 && live {
		h.Cores = runtime.NumCPU()
		h.CPU.Online = make(CPUList, h.Cores)
		for i := range h.CPU.Online {
			h.CPU.Online[i] = i
		}
		note("no CPU list in /sys; assuming %d CPUs", h.Cores)
	}
	if live {
		if allowed, err := affinity(); err == nil && len(allowed) > 0 && !h.CPU.Online.SubsetOf(allowed) {
			h.AllowedCPUs = allowed
		}
	}
	readNodes(t, h)
	readLinks(t, h, live)
	h.Routes = readRoutes(t)
	readEndpoints(t, h, live)
	h.Underlay = ChooseUnderlay(h, nil)
	readProcs(t, h)
	readSysctls(t, h)
	readBootParams(t, h)
	switch {
	case t.exists("sys/module/wireguard"):
		h.WireGuard = "loaded"
		if v, err := t.read("sys/module/wireguard/version"); err == nil && v != "" {
			h.WireGuard = "loaded " + v
		}
	default:
		h.WireGuard = "not loaded"
	}
	if live {
		h.Wgbench = version.String()
		if out, err := exec.CommandContext(ctx, "iperf3", "--version").Output(); err == nil {
			h.Iperf3 = iperfVersion(out)
		} else {
			note("iperf3 not found: install it (apt-get install iperf3)")
		}
		t.rec.extra("wgbench-version", []byte(h.Wgbench+"\n"))
		if h.Iperf3 != "" {
			t.rec.extra("iperf3-version", []byte(h.Iperf3+"\n"))
		}
	} else {
		h.Wgbench, _ = t.read(filepath.Join(extraDir, "wgbench-version"))
		h.Iperf3, _ = t.read(filepath.Join(extraDir, "iperf3-version"))
	}
	return h, nil
}

// cpuModel returns the first "model name" of a cpuinfo file.
func cpuModel(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// iperfVersion extracts "3.12" from "iperf 3.12 (cJSON 1.7.15)".
func iperfVersion(out []byte) string {
	fields := strings.Fields(string(out))
	if len(fields) >= 2 && fields[0] == "iperf" {
		return fields[1]
	}
	return strings.TrimSpace(string(out))
}

// affinity returns the CPUs this process may run on.
func affinity() (CPUList, error) { return cpuset.GetAffinity(0) }
