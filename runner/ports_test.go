package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/syncbuf"
	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/local"
)

func TestParseSS(t *testing.T) {
	out := `tcp   LISTEN 0      4096               *:5201             *:*    users:(("iperf3",pid=1234,fd=3))
tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=1,fd=3),("sshd",pid=2,fd=3))
udp   UNCONN 0      0         198.19.1.2:5202       0.0.0.0:*    users:(("runner.test",pid=77,fd=9))
udp   UNCONN 0      0      127.0.0.53%lo:53         0.0.0.0:*
tcp   LISTEN 0      5               [::]:5203          [::]:*
tcp   LISTEN 0      5    [::ffff:198.19.1.4]:5204         *:*
garbage
`
	socks := parseSS(out)
	if len(socks) != 6 {
		t.Fatalf("%d sockets, want 6: %+v", len(socks), socks)
	}
	dst := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, c := range []struct {
		addr string
		port int
		want string
	}{
		{"198.19.1.1", 5201, ` (tcp *:5201 by "iperf3" pid 1234)`},
		{"198.19.1.1", 22, ` (tcp 0.0.0.0:22 by "sshd" pid 1, "sshd" pid 2)`},
		{"198.19.1.2", 5202, ` (udp 198.19.1.2:5202 by "runner.test" pid 77)`},
		{"198.19.1.1", 5202, ""}, // another address
		{"127.0.0.53", 53, " (udp 127.0.0.53%lo:53)"},
		{"198.19.1.1", 5203, " (tcp [::]:5203)"},
		{"198.19.1.4", 5204, " (tcp [::ffff:198.19.1.4]:5204)"},
		{"198.19.1.1", 5205, ""},
	} {
		got, taken := holderOf(socks, dst(c.addr), c.port)
		if got != c.want || taken != (c.want != "") {
			t.Errorf("holderOf(%s:%d) = %q, %v; want %q", c.addr, c.port, got, taken, c.want)
		}
	}
	if !heldAnywhere(socks, 5202) || heldAnywhere(socks, 5205) {
		t.Error("heldAnywhere: want 5202 held, 5205 free")
	}
}

// blockers hold iperf3 ports on drain the way other programs would,
// outside the run's bookkeeping:
//
//   - 5201 (flow 0): an iperf3 server of someone else's on every address;
//   - 5202 (flow 1): a UDP socket on the flow's address (TCP would bind,
//     a UDP test could not);
//   - 5203 (flow 2): a TCP socket bound to every address but not
//     listening: ss -l does not show it, only iperf3's bind finds it.
type blockers struct {
	iperf    *exec.Cmd
	out      *bytes.Buffer
	udp, tcp int // socket fds in this process
}

func startBlockers(t *testing.T, bin, tag string) *blockers {
	t.Helper()
	b := &blockers{udp: -1, tcp: -1}
	ns := filepath.Join(local.NetnsDir, local.NamespaceName(tag, testbed.Drain))
	b.iperf = exec.Command(bin, local.NSExecArg, ns, "", "iperf3", "-s", "-p", "5201", "--forceflush")
	pr, err := b.iperf.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.iperf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	sc := bufio.NewScanner(pr)
	b.out = &bytes.Buffer{}
	ready := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Server listening") {
				ready <- true
			}
			b.out.WriteString(sc.Text() + "\n") // read after the process ends
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("blocking iperf3 did not listen")
	}
	_, dst1, _ := testbed.FlowAddrs(0, 1)
	err = testutil.InNetns(ns, func() error {
		var err error
		if b.udp, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0); err != nil {
			return err
		}
		if err := syscall.Bind(b.udp, &syscall.SockaddrInet4{Port: 5202, Addr: dst1.As4()}); err != nil {
			return fmt.Errorf("bind udp %s:5202: %w", dst1, err)
		}
		if b.tcp, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := syscall.Bind(b.tcp, &syscall.SockaddrInet4{Port: 5203}); err != nil {
			return fmt.Errorf("bind tcp *:5203: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check asserts the blockers are as they were started: the iperf3 runs
// and served nobody, the sockets hold their ports and got nothing.
func (b *blockers) check(t *testing.T) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.iperf.Process.Pid))
	if err != nil || bytes.Contains(stat, []byte(") Z ")) {
		t.Errorf("the blocking iperf3 (pid %d) was stopped", b.iperf.Process.Pid)
	}
	for _, s := range []struct {
		fd   int
		port int
	}{{b.udp, 5202}, {b.tcp, 5203}} {
		sa, err := syscall.Getsockname(s.fd)
		if in4, ok := sa.(*syscall.SockaddrInet4); err != nil || !ok || in4.Port != s.port {
			t.Errorf("blocking socket of port %d: %v %+v", s.port, err, sa)
		}
	}
	if n, _, err := syscall.Recvfrom(b.udp, make([]byte, 64), 0); err != syscall.EAGAIN {
		t.Errorf("the blocking UDP socket received %d bytes (%v); want none", n, err)
	}
}

func (b *blockers) close() {
	if b.iperf.Process != nil && b.iperf.ProcessState == nil {
		b.iperf.Process.Kill()
		b.iperf.Wait()
	}
	for _, fd := range []int{b.udp, b.tcp} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	b.udp, b.tcp = -1, -1
}

// blockedTestbed checks and removes the blockers before the local
// testbed's own teardown (which would stop whatever runs in its
// namespaces).
type blockedTestbed struct {
	*local.Testbed
	t *testing.T
	b *blockers
}

func (tb blockedTestbed) Teardown() error {
	tb.b.check(tb.t)
	tb.b.close()
	if bytes.Contains(tb.b.out.Bytes(), []byte("Accepted connection")) {
		tb.t.Errorf("a client reached the blocking iperf3:\n%s", tb.b.out)
	}
	return tb.Testbed.Teardown()
}

// TestIntegrationPortTaken: the iperf3 ports of all three flows of a point
// are held on drain by programs that are not the run's. Each flow moves
// to a free port, the moves are logged naming the holder where ss can,
// the point is measured in full, and the holders are left as they were.
func TestIntegrationPortTaken(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	sc, err := scenarios.Parse("ports.yaml", []byte(`
name: ports
traffic: {duration: 1s, omit: 0s}
sweep: {tunnels: [1], flows: [3]}
repetitions: 1
series:
  - datapath: plain
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))

	var b *blockers
	var tag string
	provision := func(ctx context.Context, tunnels, flows int) (Testbed, error) {
		tb, err := local.Provision(ctx, local.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: bin})
		if err != nil {
			return nil, err
		}
		tag = tb.Tag()
		b = startBlockers(t, bin, tag)
		return blockedTestbed{Testbed: tb, t: t, b: b}, nil
	}
	run, err := Run(context.Background(), Options{Scenario: sc, Dir: filepath.Join(t.TempDir(), "run"), Binary: bin, Provision: provision, SharedCores: true, Log: log})
	t.Logf("log:\n%s", logBuf.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(run.Points) != 1 || !run.Points[0].Complete || len(run.Points[0].Repetitions) != 1 {
		t.Fatalf("points %+v; want one complete point", run.Points)
	}
	rp := run.Points[0].Repetitions[0]
	if !rp.OK() || len(rp.Flows) != 3 {
		t.Fatalf("repetition: %+v; want 3 flows measured", rp)
	}
	for i, f := range rp.Flows {
		if want := 5204 + i; f.Port != want || f.Bps <= 0 || f.Error != "" {
			t.Errorf("flow %d: port %d, %.0f bit/s, error %q; want port %d with data", i, f.Port, f.Bps, f.Error, want)
		}
	}
	host := "drain (" + local.NamespaceName(tag, testbed.Drain) + ")"
	for _, want := range []string{
		fmt.Sprintf(`%s: port 5201 on 198.19.1.1 is taken (tcp *:5201 by \"iperf3\" pid %d); flow 0 of tunnel 0 uses port 5204 instead`, host, b.iperf.Process.Pid),
		fmt.Sprintf(`%s: port 5202 on 198.19.1.2 is taken (udp 198.19.1.2:5202 by \"runner.test\" pid %d); flow 1 of tunnel 0 uses port 5205 instead`, host, os.Getpid()),
		fmt.Sprintf(`%s: port 5203 on 198.19.1.3 is taken; flow 2 of tunnel 0 uses port 5206 instead`, host),
	} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log lacks %q", want)
		}
		unquoted := strings.ReplaceAll(want, `\"`, `"`)
		if !slices.Contains(run.Points[0].Notes, unquoted) {
			t.Errorf("point notes %q lack %q", run.Points[0].Notes, unquoted)
		}
	}
	if l := tagLeftovers(tag); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestIntegrationNoFreePort: when no port is free within reach, starting
// the servers fails before measuring, naming host, address, the ports
// tried and their holders where known, and touches none of them.
func TestIntegrationNoFreePort(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	// Two flow addresses: the blockers bind the second.
	tb, err := local.Provision(context.Background(), local.Options{Tunnels: 1, FlowsPerTunnel: 2, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Teardown(); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	b := startBlockers(t, bin, tb.Tag())
	// One flow (5201) may move to 5202 or 5203 only: both are held.
	saved := portSearch
	portSearch = 2
	t.Cleanup(func() { portSearch = saved })
	flows := []flowSpec{{dst: netip.MustParseAddr("198.19.1.1"), port: 5201}}
	srv, err := startServers(context.Background(), tb.Host(testbed.Drain), flows, slog.New(slog.DiscardHandler))
	if err == nil {
		srv.stop()
		t.Fatalf("startServers succeeded on port %d; want every port taken", flows[0].port)
	}
	want := fmt.Sprintf(`drain (%s): no free port for the iperf3 server of flow 0 of tunnel 0 on 198.19.1.1: `+
		`taken are 5201 (tcp *:5201 by "iperf3" pid %d), 5203, and no other port in 5202-5203 is free: stop what holds them, or free ports on drain`,
		local.NamespaceName(tb.Tag(), testbed.Drain), b.iperf.Process.Pid)
	if err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}
	b.check(t)
}
