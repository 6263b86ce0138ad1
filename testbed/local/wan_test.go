package local

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wgbench/wgbench/internal/testutil"
)

// portsRoot makes a network namespace standing in for a machine with a
// control port (ctl0, the default route; a veth pair with ctlpeer, as
// this host may have no dummy module) and a dual-port NIC looped back
// (port1, port2: a veth pair), each port in a state of its own. It returns
// the namespace's name and a netlink handle in it.
func portsRoot(t *testing.T) (string, *netlink.Handle) {
	t.Helper()
	testutil.RequireRoot(t)
	name := fmt.Sprintf("wgbtest-wan-%d", os.Getpid())
	if err := createNamespace(name); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { netns.DeleteNamed(name) })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	lo, err := h.LinkByName("lo")
	must("lo", err)
	must("lo up", h.LinkSetUp(lo))
	must("ctl0", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ctl0"}, PeerName: "ctlpeer"}))
	ctl, err := h.LinkByName("ctl0")
	must("ctl0", err)
	must("ctl0 up", h.LinkSetUp(ctl))
	addr := func(l netlink.Link, s string) {
		t.Helper()
		a, err := netlink.ParseAddr(s)
		must("parse "+s, err)
		must("add "+s, h.AddrAdd(l, a))
	}
	addr(ctl, "10.9.0.1/24")
	must("default route", h.RouteAdd(&netlink.Route{LinkIndex: ctl.Attrs().Index, Gw: net.ParseIP("10.9.0.254")}))
	must("veth", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "port1", MTU: 1400}, PeerName: "port2"}))
	p1, err := h.LinkByName("port1")
	must("port1", err)
	p2, err := h.LinkByName("port2")
	must("port2", err)
	must("port2 mtu", h.LinkSetMTU(p2, 9000))
	addr(p1, "192.0.2.1/24")
	addr(p1, "2001:db8::1/64")
	addr(p2, "192.0.2.2/28")
	must("port1 up", h.LinkSetUp(p1))
	_, dst, _ := net.ParseCIDR("203.0.113.0/24")
	must("route via port1", h.RouteAdd(&netlink.Route{LinkIndex: p1.Attrs().Index, Dst: dst, Gw: net.ParseIP("192.0.2.254")}))
	// port2 stays down.
	return name, h
}

// describe says what matters of the namespace's ports: name, MTU, up or
// down, addresses (no IPv6 link-local) and the routes through them.
func describe(t *testing.T, h *netlink.Handle) string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range links {
		a := l.Attrs()
		up := "down"
		if a.Flags&net.FlagUp != 0 {
			up = "up"
		}
		var addrs []string
		as, _ := h.AddrList(l, netlink.FAMILY_ALL)
		for _, ad := range as {
			if ad.IP.To4() == nil && ad.IP.IsLinkLocalUnicast() {
				continue
			}
			addrs = append(addrs, ad.IPNet.String())
		}
		var routes []string
		rs, _ := h.RouteList(l, netlink.FAMILY_V4)
		for _, r := range rs {
			routes = append(routes, fmt.Sprintf("%v via %v", r.Dst, r.Gw))
		}
		sort.Strings(addrs)
		sort.Strings(routes)
		lines = append(lines, fmt.Sprintf("%s mtu %d %s addrs %v routes %v", a.Name, a.MTU, up, addrs, routes))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestWANPortErrors(t *testing.T) {
	_, h := portsRoot(t)
	for _, tc := range []struct {
		name string
		wan  WAN
		want string // in the error; "" for none
	}{
		{"two ports", WAN{GW1: "port1", GW2: "port2"}, ""},
		{"unknown", WAN{GW1: "port1", GW2: "eth9"}, `WAN port of gw2: no interface "eth9" here (interfaces: ctl0, ctlpeer, port1, port2)`},
		{"default route", WAN{GW1: "ctl0", GW2: "port2"}, "WAN port of gw1: ctl0 carries this machine's default route"},
		{"same twice", WAN{GW1: "port1", GW2: "port1"}, "gw1 and gw2 both name port1"},
		{"one missing", WAN{GW1: "port1"}, "give both gw1 and gw2"},
		{"loopback", WAN{GW1: "lo", GW2: "port2"}, "lo is the loopback interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkPorts(h, tc.wan)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("checkPorts: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("checkPorts = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// wanScenario runs long enough to be interrupted: one wireguard-go
// tunnel for 30 s.
const wanScenario = `
name: wan-ports
traffic: {duration: 30s, omit: 0s}
sweep: {tunnels: [1]}
repetitions: 1
series:
  - datapath: wggo
`

// startRun starts `wgbench run` in namespace ns (nsenter, not `ip netns
// exec`, whose private mount namespace would hide the run's namespaces) with port1 and port2 as
// the WAN ports and waits until its testbed is up; it returns the command,
// its output and the run's tag.
func startRun(t *testing.T, ns string) (*exec.Cmd, *syncBuffer, string) {
	t.Helper()
	bin := testutil.Wgbench(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "wan.yaml")
	if err := os.WriteFile(sc, []byte(wanScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command("nsenter", "--net="+filepath.Join(NetnsDir, ns), bin, "run", sc, "--out", filepath.Join(dir, "run"),
		"--set", "testbed.wan.gw1=port1", "--set", "testbed.wan.gw2=port2")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	up := regexp.MustCompile(`testbed ([0-9a-f]{4}) up`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := up.FindStringSubmatch(out.String()); m != nil {
			return cmd, out, m[1]
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the run's testbed did not come up:\n%s", out.String())
	return nil, nil, ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkTaken checks that the ports are gw1's and gw2's "wan", carrying
// the WAN addresses, and gone from the root namespace.
func checkTaken(t *testing.T, h *netlink.Handle, tag string) {
	t.Helper()
	for _, p := range []string{"port1", "port2"} {
		if _, err := h.LinkByName(p); err == nil {
			t.Errorf("%s is still in the root namespace during the run", p)
		}
	}
	for role, want := range map[string]string{"gw1": "198.18.255.1/24", "gw2": "198.18.255.2/24"} {
		out, err := exec.Command("ip", "-n", NamespaceName(tag, role), "-o", "-4", "addr", "show", "dev", "wan").CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%s's wan: %s %v; want address %s", role, out, err, want)
		}
	}
	// The looped-back ports carry the gateways' traffic.
	if out, err := exec.Command("ip", "netns", "exec", NamespaceName(tag, "gw1"), "ping", "-c1", "-W5", "198.18.255.2").CombinedOutput(); err != nil {
		t.Errorf("gw1 cannot ping gw2 over the ports: %v\n%s", err, out)
	}
}

func checkGone(t *testing.T, tag string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(NetnsDir, Prefix+tag+"-*"))
	if _, err := os.Stat(filepath.Join(StateDir, tag)); err == nil {
		m = append(m, filepath.Join(StateDir, tag))
	}
	if len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}

// TestIntegrationWANPortsInterrupt: Ctrl-C on a run with real WAN ports
// gives them back as they were.
func TestIntegrationWANPortsInterrupt(t *testing.T) {
	ns, h := portsRoot(t)
	before := describe(t, h)
	cmd, out, tag := startRun(t, ns)
	checkTaken(t, h, tag)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the run did not end after SIGINT:\n%s", out.String())
	}
	if after := describe(t, h); after != before {
		t.Errorf("after Ctrl-C the ports are\n%s\nwant\n%s\nrun output:\n%s", after, before, out.String())
	}
	checkGone(t, tag)
}

// TestIntegrationWANPortsKillClean: after SIGKILL the ports stay in the
// gateways' namespaces, journaled; `wgbench testbed clean` from another
// namespace refuses them, from theirs gives them back as they were.
func TestIntegrationWANPortsKillClean(t *testing.T) {
	ns, h := portsRoot(t)
	before := describe(t, h)
	cmd, out, tag := startRun(t, ns)
	checkTaken(t, h, tag)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	state := filepath.Join(StateDir, tag)
	if _, err := os.Stat(filepath.Join(state, wanJournal)); err != nil {
		t.Fatalf("no journal after SIGKILL: %v", err)
	}
	// This test runs in another namespace than the ports came from.
	if _, err := restorePorts(state, func(role string) string { return filepath.Join(NetnsDir, NamespaceName(tag, role)) }); err == nil || !strings.Contains(err.Error(), "another network namespace") {
		t.Errorf("restorePorts from the wrong namespace = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(state, wanJournal)); err != nil {
		t.Fatalf("the refusal lost the journal: %v", err)
	}
	clean, err := exec.Command("nsenter", "--net="+filepath.Join(NetnsDir, ns), testutil.Wgbench(t), "testbed", "clean").CombinedOutput()
	if err != nil {
		t.Fatalf("wgbench testbed clean: %v\n%s", err, clean)
	}
	if !strings.Contains(string(clean), "gave WAN ports [port1 port2] back") {
		t.Errorf("clean said:\n%s", clean)
	}
	if after := describe(t, h); after != before {
		t.Errorf("after SIGKILL and clean the ports are\n%s\nwant\n%s\nrun output:\n%s", after, before, out.String())
	}
	checkGone(t, tag)
}
