package local_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/local"
)

func provision(t *testing.T, tunnels, flows int) *local.Testbed {
	t.Helper()
	testutil.RequireRoot(t)
	tb, err := local.Provision(context.Background(), local.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: testutil.Wgbench(t)})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Teardown(); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	return tb
}

func TestIntegrationProvision(t *testing.T) {
	tb := provision(t, 2, 2)
	ctx := context.Background()

	// Each host sees its own links only: /sys is the namespace's.
	want := map[string]string{
		testbed.Source: "lan lo",
		testbed.GW1:    "lan lo wan",
		testbed.GW2:    "lan lo wan",
		testbed.Drain:  "lan lo",
	}
	for role, links := range want {
		out, err := testbed.Run(ctx, tb.Host(role), "ls", "/sys/class/net")
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if got := strings.Join(strings.Fields(string(out)), " "); got != links {
			t.Errorf("%s: /sys/class/net = %q, want %q", role, got, links)
		}
	}
	// Neighbours reach each other, flow addresses are configured, and the
	// gateways forward.
	pings := []struct{ role, from, to string }{
		{testbed.Source, "198.18.1.1", testbed.GW1LAN.Addr().String()},
		{testbed.Source, "198.18.2.2", testbed.GW1LAN.Addr().String()},
		{testbed.GW1, "", testbed.GW2WAN.Addr().String()},
		{testbed.Drain, "198.19.2.2", testbed.GW2LAN.Addr().String()},
	}
	for _, p := range pings {
		argv := []string{"ping", "-c1", "-W2", p.to}
		if p.from != "" {
			argv = append(argv, "-I", p.from)
		}
		if _, err := testbed.Run(ctx, tb.Host(p.role), argv...); err != nil {
			t.Errorf("%s: ping %s from %q: %v", p.role, p.to, p.from, err)
		}
	}
	for _, gw := range []string{testbed.GW1, testbed.GW2} {
		out, err := testbed.Run(ctx, tb.Host(gw), "cat", "/proc/sys/net/ipv4/ip_forward")
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("%s: ip_forward = %q, %v; want 1", gw, out, err)
		}
	}
}

func TestIntegrationTeardownLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	tb, err := local.Provision(context.Background(), local.Options{Tunnels: 1, FlowsPerTunnel: 1, Binary: testutil.Wgbench(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A process still running at teardown is stopped.
	p, err := tb.Host(testbed.Drain).Start(context.Background(), testbed.Cmd{Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Teardown(); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if err := p.Wait(); err == nil {
		t.Errorf("sleep exited cleanly; want it killed by teardown")
	}
	for _, role := range testbed.Roles {
		if _, err := os.Stat(filepath.Join(local.NetnsDir, local.NamespaceName(tb.Tag(), role))); !os.IsNotExist(err) {
			t.Errorf("namespace of %s still exists (%v)", role, err)
		}
	}
	if _, err := os.Stat(filepath.Join(local.StateDir, tb.Tag())); !os.IsNotExist(err) {
		t.Errorf("state dir still exists (%v)", err)
	}
}

func TestIntegrationCleanRemovesOrphans(t *testing.T) {
	testutil.RequireRoot(t)
	tb, err := local.Provision(context.Background(), local.Options{Tunnels: 1, FlowsPerTunnel: 1, Binary: testutil.Wgbench(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Teardown() })
	// Pretend the run crashed: its owner is a pid that no longer exists.
	owner := filepath.Join(local.StateDir, tb.Tag(), "owner")
	if err := os.WriteFile(owner, []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	p, err := tb.Host(testbed.GW1).Start(context.Background(), testbed.Cmd{Argv: []string{"sh", "-c", "echo ready; exec sleep 60"}, Stdout: pw})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the process runs inside the namespace.
	if line, err := bufio.NewReader(pr).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	left, err := local.Clean(false, false)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	var found *local.Leftover
	for i := range left {
		if left[i].Tag == tb.Tag() {
			found = &left[i]
		}
	}
	if found == nil || len(found.Namespaces) != 4 || len(found.Killed) != 1 || found.Killed[0] != p.Pid() {
		t.Fatalf("Clean found %+v; want the 4 namespaces of run %s and pid %d killed", found, tb.Tag(), p.Pid())
	}
	for _, role := range testbed.Roles {
		if _, err := os.Stat(filepath.Join(local.NetnsDir, local.NamespaceName(tb.Tag(), role))); !os.IsNotExist(err) {
			t.Errorf("namespace of %s survived Clean", role)
		}
	}
}

func TestCleanLeavesLiveRuns(t *testing.T) {
	tb := provision(t, 1, 1)
	left, err := local.Clean(false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, lo := range left {
		if lo.Tag == tb.Tag() && !lo.Live {
			t.Errorf("Clean treated this live run as dead: %+v", lo)
		}
	}
	if _, err := os.Stat(filepath.Join(local.NetnsDir, local.NamespaceName(tb.Tag(), testbed.GW1))); err != nil {
		t.Errorf("Clean removed a live run's namespace: %v", err)
	}
}
