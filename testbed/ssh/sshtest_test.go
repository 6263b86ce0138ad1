package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	cryptossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/local"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// sshd is the path of OpenSSH's server (Debian's openssh-server).
const sshd = "/usr/sbin/sshd"

// lab is four "machines" for the SSH driver: the namespaces of a local
// testbed, cabled but without addresses (net-setup's job), each with a
// management veth into this namespace and its own sshd.
type lab struct {
	owner    *testing.T // the test the lab lives as long as
	local    *local.Testbed
	dir      string
	bin      string
	key      string // client key file
	hostKeys map[string]cryptossh.PublicKey
	addrs    map[string]string // role → ssh address
	sshd     map[string]testbed.Process
	macs     map[string]string // role → MAC of its lan
}

// mgmtAddrs are the management addresses of host i of lab group g: a /30
// per host from 198.18.254.0/24, which no flow of the addressing plan
// uses; each group of four /30s serves one lab.
func mgmtAddrs(g, i int) (root, host netip.Prefix) {
	base := 16*g + 4*i
	root = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 254, byte(base + 1)}), 30)
	host = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 254, byte(base + 2)}), 30)
	return root, host
}

// freeGroup picks a group of management addresses no interface of this
// namespace uses (another lab may be up in a parallel test process).
func freeGroup(t *testing.T) int {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, a := range addrs {
		if ip := a.IP.To4(); ip != nil && ip[0] == 198 && ip[1] == 18 && ip[2] == 254 {
			used[int(ip[3])/16] = true
		}
	}
	for g := 0; g < 16; g++ {
		if !used[g] {
			return g
		}
	}
	t.Skip("every management address group in 198.18.254.0/24 is in use")
	return 0
}

// newLab builds the lab or skips when the test cannot run here.
func newLab(t *testing.T) *lab {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(sshd); err != nil {
		t.Skipf("needs OpenSSH's server at %s (apt-get install openssh-server): %v", sshd, err)
	}
	bin := testutil.Wgbench(t)
	l := &lab{owner: t, dir: t.TempDir(), bin: bin, hostKeys: map[string]cryptossh.PublicKey{}, addrs: map[string]string{}, sshd: map[string]testbed.Process{}, macs: map[string]string{}}
	tb, err := local.Provision(context.Background(), local.Options{Tunnels: 1, FlowsPerTunnel: 1, Binary: bin})
	if err != nil {
		t.Fatalf("local testbed: %v", err)
	}
	l.local = tb
	t.Cleanup(func() {
		if err := tb.Teardown(); err != nil {
			t.Errorf("local teardown: %v", err)
		}
	})
	// sshd wants its privilege separation directory.
	if _, err := os.Stat("/run/sshd"); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	// The client's key.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	l.key = filepath.Join(l.dir, "id_ed25519")
	writeKey(t, l.key, priv)
	signer, _ := cryptossh.NewSignerFromKey(priv)
	authorized := filepath.Join(l.dir, "authorized_keys")
	if err := os.WriteFile(authorized, cryptossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	group := freeGroup(t)
	for i, role := range testbed.Roles {
		ns := local.NamespaceName(tb.Tag(), role)
		l.strip(t, ns, role)
		rootAddr, hostAddr := mgmtAddrs(group, i)
		l.mgmt(t, ns, fmt.Sprintf("wgm%s%d", tb.Tag(), i), rootAddr, hostAddr)
		l.addrs[role] = net.JoinHostPort(hostAddr.Addr().String(), "22")
		l.startSSHD(t, role, hostAddr.Addr(), authorized)
	}
	return l
}

func writeKey(t *testing.T, path string, priv ed25519.PrivateKey) {
	t.Helper()
	block, err := cryptossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// inNS runs fn on a thread in the named namespace; the thread is dropped.
func inNS(name string, fn func() error) error {
	return testutil.InNetns(filepath.Join(local.NetnsDir, name), fn)
}

// strip removes what the local driver configured beyond the cabling:
// addresses on the data-plane links, routes via gateways, forwarding.
func (l *lab) strip(t *testing.T, ns, role string) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	routes, _ := nh.RouteList(nil, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Gw != nil {
			if err := nh.RouteDel(&r); err != nil {
				t.Fatalf("%s: delete route %v: %v", role, r, err)
			}
		}
	}
	for _, name := range []string{"lan", "wan"} {
		link, err := nh.LinkByName(name)
		if err != nil {
			continue
		}
		if name == "lan" {
			l.macs[role] = link.Attrs().HardwareAddr.String()
		}
		addrs, _ := nh.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			if err := nh.AddrDel(link, &a); err != nil {
				t.Fatalf("%s: delete %v: %v", role, a, err)
			}
		}
	}
	if err := inNS(ns, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644) }); err != nil {
		t.Fatal(err)
	}
}

// mgmt joins namespace ns to this one with a veth pair: dev here, "mgmt"
// there.
func (l *lab) mgmt(t *testing.T, ns, dev string, rootAddr, hostAddr netip.Prefix) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = dev
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "mgmt", PeerNamespace: netlink.NsFd(h)}); err != nil {
		t.Fatalf("create %s: %v", dev, err)
	}
	t.Cleanup(func() {
		if link, err := netlink.LinkByName(dev); err == nil {
			netlink.LinkDel(link)
		}
	})
	link, err := netlink.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(rootAddr)}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	peer, err := nh.LinkByName("mgmt")
	if err != nil {
		t.Fatal(err)
	}
	if err := nh.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(hostAddr)}); err != nil {
		t.Fatal(err)
	}
	if err := nh.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

// startSSHD starts an sshd for role in its namespace, on its management
// address, with a fresh host key.
func (l *lab) startSSHD(t *testing.T, role string, addr netip.Addr, authorized string) {
	t.Helper()
	dir := filepath.Join(l.dir, "sshd-"+role)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	writeKey(t, hostKey, priv)
	signer, _ := cryptossh.NewSignerFromKey(priv)
	l.hostKeys[role] = signer.PublicKey()
	conf := strings.Join([]string{
		"ListenAddress " + addr.String() + ":22",
		"HostKey " + hostKey,
		"PidFile none",
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"LogLevel ERROR",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	l.runSSHD(t, role)
}

// runSSHD starts role's sshd from the configuration startSSHD wrote (so
// with the same host key: a restart after killSSHD) and waits until it
// listens.
func (l *lab) runSSHD(t *testing.T, role string) {
	t.Helper()
	cfg := filepath.Join(l.dir, "sshd-"+role, "sshd_config")
	host, _, err := net.SplitHostPort(l.addrs[role])
	if err != nil {
		t.Fatal(err)
	}
	log := &strings.Builder{}
	p, err := l.local.Host(role).Start(context.Background(), testbed.Cmd{Argv: []string{sshd, "-D", "-e", "-f", cfg}, Stderr: &syncWriter{b: log}})
	if err != nil {
		t.Fatalf("%s: start sshd: %v", role, err)
	}
	l.sshd[role] = p
	// Stopped with the lab, not with the subtest that restarted it.
	l.owner.Cleanup(func() {
		p.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Signal(syscall.SIGKILL)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", l.addrs[role], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			p.Signal(syscall.SIGTERM)
			werr := p.Wait()
			dbg, _ := exec.Command("sh", "-c", "ip -n "+local.NamespaceName(l.local.Tag(), role)+" addr; ip -n "+local.NamespaceName(l.local.Tag(), role)+" route; ip route get "+host+"; ip addr show | grep 198.18; ss -tnlp").CombinedOutput()
			t.Logf("%s", dbg)
			t.Fatalf("%s: sshd not listening on %s: %v; it ended with %v; its log: %s", role, l.addrs[role], err, werr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncWriter struct {
	b interface{ Write([]byte) (int, error) }
}

func (w *syncWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// knownHosts writes a known_hosts file with the keys of roles (all when
// none is named) and returns its path.
func (l *lab) knownHosts(t *testing.T, name string, keys map[string]cryptossh.PublicKey) string {
	t.Helper()
	var b strings.Builder
	for _, role := range testbed.Roles {
		if k, ok := keys[role]; ok {
			b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(l.addrs[role])}, k) + "\n")
		}
	}
	path := filepath.Join(l.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// inventory writes an inventory for the lab checked against knownHosts.
// gw1's LAN is named by its MAC address, the others by name.
func (l *lab) inventory(t *testing.T, knownHosts string) *sshtb.Inventory {
	t.Helper()
	return l.inventoryWith(t, knownHosts, nil)
}

// inventoryWith is inventory with more keys for some hosts (role → YAML
// lines such as "cores: 0").
func (l *lab) inventoryWith(t *testing.T, knownHosts string, extra map[string][]string) *sshtb.Inventory {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  key: %s\n  known_hosts: %s\nhosts:\n", l.key, knownHosts)
	for _, role := range testbed.Roles {
		fmt.Fprintf(&b, "  %s:\n    ssh: %s\n    workdir: %s\n", role, l.addrs[role], filepath.Join(l.dir, "work-"+role))
		switch role {
		case testbed.GW1:
			fmt.Fprintf(&b, "    lan: %q\n    wan: wan\n", l.macs[role])
		case testbed.GW2:
			b.WriteString("    lan: lan\n    wan: wan\n")
		default:
			b.WriteString("    lan: lan\n")
		}
		for _, line := range extra[role] {
			b.WriteString("    " + line + "\n")
		}
	}
	path := filepath.Join(l.dir, "hosts-"+strconv.Itoa(len(knownHosts))+".yaml")
	if len(extra) > 0 {
		path = filepath.Join(l.dir, fmt.Sprintf("hosts-%d-%d.yaml", len(knownHosts), len(b.String())))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := sshtb.LoadInventory(path)
	if err != nil {
		t.Fatalf("inventory:\n%s\n%v", b.String(), err)
	}
	return inv
}

// killSSHD kills role's sshd and every session it serves: all sshd
// processes in the role's namespace, as when the machine's sshd dies.
func (l *lab) killSSHD(t *testing.T, role string) {
	t.Helper()
	ns := filepath.Join(local.NetnsDir, local.NamespaceName(l.local.Tag(), role))
	var want syscall.Stat_t
	if err := syscall.Stat(ns, &want); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc")
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.HasPrefix(strings.TrimSpace(string(comm)), "sshd") {
			syscall.Kill(pid, syscall.SIGKILL)
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("%s: no sshd process found to kill", role)
	}
}

// addrsOn lists the IPv4 addresses on a link of role's namespace.
func (l *lab) addrsOn(t *testing.T, role, link string) []string {
	t.Helper()
	h, err := netns.GetFromName(local.NamespaceName(l.local.Tag(), role))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	lk, err := nh.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	as, _ := nh.AddrList(lk, netlink.FAMILY_V4)
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

// leftovers lists what a run left on the lab's hosts: addresses on the
// data-plane links, run directories under the work directories, and
// processes in the namespaces other than their sshd.
func (l *lab) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, role := range testbed.Roles {
		links := []string{"lan"}
		if role == testbed.GW1 || role == testbed.GW2 {
			links = append(links, "wan")
		}
		for _, link := range links {
			if a := l.addrsOn(t, role, link); len(a) > 0 {
				out = append(out, fmt.Sprintf("%s %s: addresses %v", role, link, a))
			}
		}
		runs := filepath.Join(l.dir, "work-"+role, "runs")
		entries, _ := os.ReadDir(runs)
		for _, e := range entries {
			out = append(out, fmt.Sprintf("%s: run directory %s", role, filepath.Join(runs, e.Name())))
		}
		for _, p := range l.processes(t, role) {
			out = append(out, fmt.Sprintf("%s: process %s", role, p))
		}
	}
	return out
}

// processes lists the processes in role's namespace but its sshd and
// this test, as "pid: command line".
func (l *lab) processes(t *testing.T, role string) []string {
	t.Helper()
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join(local.NetnsDir, local.NamespaceName(l.local.Tag(), role)), &want); err != nil {
		t.Fatal(err)
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		// Not this test: inNS leaves threads in the namespaces.
		if pid, err := strconv.Atoi(e.Name()); err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.HasPrefix(strings.TrimSpace(string(comm)), "sshd") {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue // a zombie holds nothing
			}
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+": "+strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return out
}
