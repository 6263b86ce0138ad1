package facts

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/probes/facts/fakehost"
	"github.com/wgbench/wgbench/results"
)

func TestCPUModel(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got, want := cpuModel([]byte(in)), "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"; got != want {
		t.Errorf("cpuModel = %q, want %q", got, want)
	}
	if got := cpuModel(nil); got != "" {
		t.Errorf("cpuModel(empty) = %q, want empty", got)
	}
}

func TestIperfVersion(t *testing.T) {
	for in, want := range map[string]string{
		"iperf 3.12 (cJSON 1.7.15)\nLinux host 6.1\n": "3.12",
		"iperf 3.9\n": "3.9",
		"weird":       "weird",
	} {
		if got := iperfVersion([]byte(in)); got != want {
			t.Errorf("iperfVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPULists(t *testing.T) {
	for _, tc := range []struct {
		list, mask string
		want       CPUList
	}{
		{"", "0", nil},
		{"0", "1", CPUList{0}},
		{"0-3,8", "10f", CPUList{0, 1, 2, 3, 8}},
		{"16-31", "ffff0000", CPUList{16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}},
		{"0,32", "1,00000001", CPUList{0, 32}},
	} {
		got, err := cpuset.Parse(tc.list)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("cpuset.Parse(%q) = %v, %v; want %v", tc.list, got, err, tc.want)
		}
		got, err = cpuset.ParseMask(tc.mask)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("cpuset.ParseMask(%q) = %v, %v; want %v", tc.mask, got, err, tc.want)
		}
		if tc.want != nil {
			if s := tc.want.String(); s != tc.list {
				t.Errorf("%v.String() = %q, want %q", tc.want, s, tc.list)
			}
			if m := tc.want.Mask(); m != tc.mask {
				t.Errorf("%v.Mask() = %q, want %q", tc.want, m, tc.mask)
			}
		}
	}
	for _, bad := range []string{"x", "3-1", "-1", "1-", "99999"} {
		if _, err := cpuset.Parse(bad); err == nil {
			t.Errorf("cpuset.Parse(%q) succeeded, want an error", bad)
		}
	}
	for _, bad := range []string{"xyz", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255,256,257"} {
		if _, err := cpuset.ParseMask(bad); err == nil {
			t.Errorf("cpuset.ParseMask(%.20q…) succeeded, want an error", bad)
		}
	}
	var l CPUList
	for in, want := range map[string]CPUList{`"0-2"`: {0, 1, 2}, `[3,1,1]`: {1, 3}} {
		if err := json.Unmarshal([]byte(in), &l); err != nil || !slices.Equal(l, want) {
			t.Errorf("unmarshal %s = %v, %v; want %v", in, l, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"a":1}`), &l); err == nil {
		t.Error("unmarshal of an object succeeded, want an error")
	}
}

func TestEthtoolFormats(t *testing.T) {
	// As `ethtool -k` prints it, aliases and indentation included.
	f := parseFeatures(`Features for eth0:
rx-checksumming: on
tcp-segmentation-offload: on
	tx-tcp-segmentation: on
generic-segmentation-offload: on
generic-receive-offload: off
large-receive-offload: off [fixed]
ntuple-filters: off
rx-udp-gro-forwarding: on
`)
	want := map[string]string{FeatureRXCsum: "on", FeatureTSO: "on", FeatureGSO: "on", FeatureGRO: "off",
		FeatureLRO: "off [fixed]", FeatureNTuple: "off", FeatureUDPGROFwd: "on"}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("parseFeatures (-want +got):\n%s", d)
	}
	if got := parseFeatures(formatFeatures("eth0", want)); !cmp.Equal(got, want) {
		t.Errorf("features round trip = %v, want %v", got, want)
	}

	table := []int{0, 1, 2, 3, 0, 1, 2, 3, 0, 1}
	rings, got := parseIndir(formatIndir("eth0", 4, table) + "RSS hash key:\n6d:5a:56:da\n")
	if rings != 4 || !slices.Equal(got, table) {
		t.Errorf("indirection round trip = %d %v, want 4 %v", rings, got, table)
	}
	for _, letters := range []string{"sd", "sdfn", "none"} {
		if got := parseUDP4Hash(formatUDP4Hash(letters)); got != letters {
			t.Errorf("UDP4 hash round trip %q = %q", letters, got)
		}
	}
	if r, n := parseNtuple("8 RX rings available\nTotal 3 rules\n\nFilter: 1\n"); r != 8 || n != 3 {
		t.Errorf("parseNtuple = %d, %d; want 8, 3", r, n)
	}
	if _, n := parseNtuple(formatNtuple(2, -1)); n != -1 {
		t.Errorf("unknown rule count read back as %d", n)
	}
}

// server is a dual-socket machine with its NIC on node 1.
func server() *fakehost.Machine {
	return &fakehost.Machine{
		Hostname: "gw2", Kernel: "6.8.0", CPUModel: "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz",
		Sockets: 2, CoresPerSocket: 4, ThreadsPerCore: 2, NUMA: true, SMTControl: "on",
		Governor: "powersave", FreqDriver: "intel_pstate", IdleDriver: "intel_idle",
		IdleStates: []fakehost.IdleState{{Name: "POLL"}, {Name: "C1", LatencyUS: 2}, {Name: "C6", LatencyUS: 170, Disabled: true}},
		Links: []fakehost.Link{
			{Name: "ens1f0", Kind: "physical", MTU: 9000, Driver: "mlx5_core", Bus: "0000:98:00.0", NUMANode: 1, Queues: 4,
				IRQAffinity: []string{"4", "5", "0-15"}, RPS: map[int]string{1: "f0"}, Threaded: "0",
				Features:    map[string]string{FeatureGRO: "on", FeatureUDPGROFwd: "off", FeatureNTuple: "off"},
				Indirection: []int{0, 1, 2, 3, 0, 1, 2, 3}, UDP4Hash: "sd", NTupleRules: 0, IPv6: true},
			{Name: "wg0", Kind: "wireguard", MTU: 8920, Threaded: "1", Patched: &fakehost.Patched{InlineEn: true, EncryptMask: "f0", DecryptMask: "0f"}},
			{Name: "wg1", Kind: "wireguard", MTU: 1420, Patched: &fakehost.Patched{DecryptMask: "3", Subdir: true}},
			{Name: "tun0", Kind: "tun", MTU: 1420},
			{Name: "veth0", Kind: "veth", MTU: 1500},
		},
		DefaultRoute: "ens1f0", Irqbalance: true,
		NAPIThreads:     []fakehost.Thread{{Comm: "napi/wg0-0", CPUs: "0-15"}},
		Sysctls:         map[string]string{"net.core.rmem_max": "212992", "net.core.netdev_max_backlog": "1000"},
		Cmdline:         "BOOT_IMAGE=/vmlinuz root=/dev/sda1 secret=hunter2 intel_idle.max_cstate=1 isolcpus=2,3 quiet",
		WireGuardModule: "1.0.0",
	}
}

func writeMachine(t *testing.T, m *fakehost.Machine) string {
	t.Helper()
	dir := t.TempDir()
	if err := fakehost.Write(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadFakeServer(t *testing.T) {
	h, err := Read(context.Background(), writeMachine(t, server()))
	if err != nil {
		t.Fatal(err)
	}
	if h.Hostname != "gw2" || h.Kernel != "6.8.0" || h.Cores != 16 || h.NUMANodes != 2 || h.WireGuard != "loaded 1.0.0" || h.Wgbench != "v0.3.0" {
		t.Errorf("host = %q %q %d cores %d nodes %q %q", h.Hostname, h.Kernel, h.Cores, h.NUMANodes, h.WireGuard, h.Wgbench)
	}
	wantCPU := CPU{
		Online: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Sockets: 2, PhysicalCores: 8, ThreadsPerCore: 2, SMT: "on",
		Siblings:   []CPUList{{0, 8}, {1, 9}, {2, 10}, {3, 11}, {4, 12}, {5, 13}, {6, 14}, {7, 15}},
		FreqDriver: "intel_pstate", Governors: map[string]CPUList{"powersave": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		IdleDriver: "intel_idle", IdleGovernor: "menu",
		IdleStates: []IdleState{
			{Index: 0, Name: "POLL", Enabled: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
			{Index: 1, Name: "C1", LatencyUS: 2, Enabled: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
			{Index: 2, Name: "C6", LatencyUS: 170, Disabled: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		},
	}
	if d := cmp.Diff(wantCPU, h.CPU); d != "" {
		t.Errorf("CPU (-want +got):\n%s", d)
	}
	wantNodes := []NUMANode{{0, CPUList{0, 1, 2, 3, 8, 9, 10, 11}}, {1, CPUList{4, 5, 6, 7, 12, 13, 14, 15}}}
	if d := cmp.Diff(wantNodes, h.Nodes); d != "" {
		t.Errorf("nodes (-want +got):\n%s", d)
	}
	nic, ok := h.Link("ens1f0")
	if !ok {
		t.Fatalf("no ens1f0 in %+v", h.Links)
	}
	off := false
	wantNIC := Link{
		Name: "ens1f0", Kind: KindPhysical, MTU: 9000, State: "up", Driver: "mlx5_core", NUMANode: 1,
		LocalCPUs: CPUList{4, 5, 6, 7, 12, 13, 14, 15}, RxQueues: 4, TxQueues: 4,
		RPS: map[string]CPUList{"rx-1": {4, 5, 6, 7}},
		IRQs: []IRQ{
			{Number: 100, Name: "ens1f0-TxRx-0", Affinity: CPUList{4}, Effective: CPUList{4}},
			{Number: 101, Name: "ens1f0-TxRx-1", Affinity: CPUList{5}, Effective: CPUList{5}},
			{Number: 102, Name: "ens1f0-TxRx-2", Affinity: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Effective: CPUList{0}},
			{Number: 103, Name: "ens1f0-TxRx-3", Affinity: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Effective: CPUList{0}},
		},
		Threaded: &off, IPv6: true,
		Offloads: Offloads{Source: "wgbench/ethtool/ens1f0/features",
			Features: map[string]string{FeatureGRO: "on", FeatureUDPGROFwd: "off", FeatureNTuple: "off"}},
		RSS: &RSS{Rings: 4, Indirection: []int{0, 1, 2, 3, 0, 1, 2, 3}, UDP4Hash: "sd", NTupleRules: 0},
	}
	if d := cmp.Diff(wantNIC, nic); d != "" {
		t.Errorf("NIC (-want +got):\n%s", d)
	}
	if q := nic.RSS.Queues(); q != 4 {
		t.Errorf("RSS queues = %d, want 4", q)
	}
	if hashed, known := nic.RSS.PortsHashed(); hashed || !known {
		t.Errorf("PortsHashed = %v, %v; want false, true (sd)", hashed, known)
	}
	wg, _ := h.Link("wg0")
	on := true
	wantWG := &WireGuard{Patched: true, InlineEnabled: &on, EncryptCPUs: CPUList{4, 5, 6, 7}, DecryptCPUs: CPUList{0, 1, 2, 3},
		SerialWorkCPUs: map[string]int{"peer_0": 0}}
	if wg.Kind != KindWireGuard || wg.Threaded == nil || !*wg.Threaded || !cmp.Equal(wg.WireGuard, wantWG) {
		t.Errorf("wg0 = kind %s threaded %v %+v; want wireguard, threaded, %+v", wg.Kind, wg.Threaded, wg.WireGuard, wantWG)
	}
	if !strings.Contains(wg.Offloads.Error, "not in the snapshot") {
		t.Errorf("wg0 offloads error = %q, want it to say they are not in the snapshot", wg.Offloads.Error)
	}
	for name, kind := range map[string]string{"tun0": KindTun, "veth0": KindVeth} {
		if l, _ := h.Link(name); l.Kind != kind {
			t.Errorf("%s kind = %q, want %q", name, l.Kind, kind)
		}
	}
	if wg1, _ := h.Link("wg1"); wg1.WireGuard == nil || !wg1.WireGuard.Patched || !slices.Equal(wg1.WireGuard.DecryptCPUs, CPUList{0, 1}) {
		t.Errorf("wg1 (attributes under wireguard/) = %+v", wg1.WireGuard)
	}
	if got := len(h.Tunnels()); got != 3 {
		t.Errorf("%d tunnels, want 3 (wg0, wg1, tun0)", got)
	}
	if h.DefaultRoute != "ens1f0" || !h.Irqbalance.Running || !slices.Equal(h.Irqbalance.PIDs, []int{900}) {
		t.Errorf("default route %q, irqbalance %+v", h.DefaultRoute, h.Irqbalance)
	}
	if d := cmp.Diff([]Thread{{PID: 1000, Comm: "napi/wg0-0", CPUs: CPUList{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}}, h.NAPIThreads); d != "" {
		t.Errorf("NAPI threads (-want +got):\n%s", d)
	}
	if h.Sysctls["net.core.rmem_max"] != "212992" || len(h.Sysctls) != 2 {
		t.Errorf("sysctls = %v", h.Sysctls)
	}
	if d := cmp.Diff([]string{"intel_idle.max_cstate=1", "isolcpus=2,3"}, h.BootParams); d != "" {
		t.Errorf("boot params (-want +got):\n%s", d)
	}
	if h.NodeOf(12) != 1 || h.NodeOf(99) != -1 {
		t.Errorf("NodeOf(12) = %d, NodeOf(99) = %d", h.NodeOf(12), h.NodeOf(99))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, root := range []string{filepath.Join(dir, "missing"), dir} {
		if _, err := Read(context.Background(), root); err == nil {
			t.Errorf("Read(%s) succeeded, want an error", root)
		}
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Read(context.Background(), file); err == nil {
		t.Error("Read(file) succeeded, want an error")
	}
}

// TestSnapshotTree snapshots a tree with symbolic links laid out like
// sysfs (relative links between class and devices, an absolute one) and
// checks the snapshot reads the same.
func TestSnapshotTree(t *testing.T) {
	src := writeMachine(t, server())
	// Move ens1f0 where sysfs keeps it and link it back, as sysfs does.
	real := filepath.Join(src, "sys/devices/pci0000:00/0000:98:00.0/net/ens1f0")
	os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.Rename(filepath.Join(src, "sys/class/net/ens1f0"), real); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("../../devices/pci0000:00/0000:98:00.0/net/ens1f0", filepath.Join(src, "sys/class/net/ens1f0")))
	dev := filepath.Join(real, "device")
	must(t, os.Rename(dev, filepath.Join(src, "sys/devices/pci0000:00/0000:98:00.0/dev")))
	must(t, os.Symlink("/sys/devices/pci0000:00/0000:98:00.0/dev", dev)) // absolute: resolved inside the root
	want, err := Read(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if nic, _ := want.Link("ens1f0"); nic.NUMANode != 1 || len(nic.IRQs) != 4 {
		t.Fatalf("source tree misread through links: %+v", nic)
	}
	out := filepath.Join(t.TempDir(), "snap")
	if _, err := snapshot(context.Background(), src, out, false); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "proc/cmdline")); err != nil || strings.Contains(string(b), "secret") {
		t.Errorf("snapshot cmdline = %q, %v; want only the recorded parameters", b, err)
	}
	got, err := Read(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	ignoreSource := cmp.FilterPath(func(p cmp.Path) bool {
		s := p.String()
		return s == "Source" || strings.HasSuffix(s, "Offloads.Source")
	}, cmp.Ignore())
	if d := cmp.Diff(want, got, ignoreSource); d != "" {
		t.Errorf("snapshot reads differently (-source +snapshot):\n%s", d)
	}
	if _, err := snapshot(context.Background(), src, out, false); err == nil {
		t.Error("snapshot into a non-empty directory succeeded, want an error")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSummaryIsHostFacts(t *testing.T) {
	h, err := Read(context.Background(), writeMachine(t, server()))
	if err != nil {
		t.Fatal(err)
	}
	h.AllowedCPUs = CPUList{0, 1, 2, 3, 8} // as on an SSH host given cores
	// The runner decodes `wgbench agent facts` output into HostFacts.
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var hf results.HostFacts
	if err := json.Unmarshal(b, &hf); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(h.Summary(), hf); d != "" {
		t.Errorf("HostFacts decoded from the full JSON differ from Summary (-summary +decoded):\n%s", d)
	}
	back := FromSummary(hf)
	if hf.AllowedCPUs != "0-3,8" || !slices.Equal(back.AllowedCPUs, h.AllowedCPUs) {
		t.Errorf("allowed CPUs %v recorded as %q, read back as %v", h.AllowedCPUs, hf.AllowedCPUs, back.AllowedCPUs)
	}
	if back.Cores != 16 || back.NUMANodes != 2 || back.Source != "run.json summary" {
		t.Errorf("FromSummary = %+v", back)
	}
}

func TestCollectThisHost(t *testing.T) {
	f := Collect(context.Background())
	if f.Kernel == "" || f.Cores < 1 || f.Cores > runtime.NumCPU()*64 || f.NUMANodes < 1 || f.Wgbench == "" || f.Source != "live" {
		t.Errorf("Collect() = %+v; want kernel, cores, ≥1 NUMA node, wgbench version", f)
	}
	if len(f.CPU.Online) != f.Cores {
		t.Errorf("cores = %d but online = %v", f.Cores, f.CPU.Online)
	}
	for _, l := range f.Links {
		if l.Offloads.Error == "" && l.Offloads.Source != "ethtool ioctl" {
			t.Errorf("%s: offloads with no error and source %q", l.Name, l.Offloads.Source)
		}
	}
}

// TestSnapshotThisHost snapshots the live host and reads it back.
func TestSnapshotThisHost(t *testing.T) {
	out := filepath.Join(t.TempDir(), "snap")
	live, err := Snapshot(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	// Processes and IRQ affinities may change between the two reads;
	// the machine's shape may not.
	if got.Cores != live.Cores || got.Kernel != live.Kernel || got.CPUModel != live.CPUModel ||
		!cmp.Equal(got.CPU.IdleStates, live.CPU.IdleStates) || !cmp.Equal(got.Nodes, live.Nodes) || len(got.Links) != len(live.Links) {
		t.Errorf("snapshot of this host reads differently:\nlive     %+v\nsnapshot %+v", live, got)
	}
	for i, l := range live.Links {
		g := got.Links[i]
		if g.Name != l.Name || g.Kind != l.Kind || g.MTU != l.MTU || !cmp.Equal(g.Offloads.Features, l.Offloads.Features) {
			t.Errorf("link %s: live %+v, snapshot %+v", l.Name, l, g)
		}
	}
}
