package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/testbed"
)

// testTag returns a tag none of whose names exist.
func testTag(t *testing.T, salt int) string {
	t.Helper()
	for i := 0; i < 64; i++ {
		tag := fmt.Sprintf("%04x", (os.Getpid()*7+salt*131+i*17)&0xffff)
		if !tagInUse(tag) {
			return tag
		}
	}
	t.Fatal("no free tag")
	return ""
}

// foreignNS is a namespace made the way someone else would make one:
// `ip netns add`, an address on its (down) loopback as a mark, and a
// process inside started by `ip netns exec` with env added.
type foreignNS struct {
	name string
	ino  uint64
	proc *exec.Cmd
}

func makeForeign(t *testing.T, name string, env ...string) *foreignNS {
	t.Helper()
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	f := &foreignNS{name: name}
	t.Cleanup(func() {
		if f.proc != nil {
			f.proc.Process.Kill()
			f.proc.Wait()
		}
		exec.Command("ip", "netns", "delete", name).Run()
	})
	ip("-n", name, "addr", "add", "10.99.0.1/32", "dev", "lo")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(NetnsDir, name), &st); err != nil {
		t.Fatal(err)
	}
	f.ino = st.Ino
	f.proc = exec.Command("ip", "netns", "exec", name, "sleep", "300")
	f.proc.Env = append(os.Environ(), env...)
	if err := f.proc.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the process is inside (ip execs sleep after setns).
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ps syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", f.proc.Process.Pid), &ps) == nil && ps.Ino == f.ino && commOf(f.proc.Process.Pid) == "sleep" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep did not enter namespace %s", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f
}

// checkUntouched asserts that f is as it was made: same namespace, mark
// in place, loopback still down, its process alive.
func (f *foreignNS) checkUntouched(t *testing.T) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(NetnsDir, f.name), &st); err != nil || st.Ino != f.ino {
		t.Errorf("namespace %s: %v, inode %d; want it kept (inode %d)", f.name, err, st.Ino, f.ino)
		return
	}
	out, err := exec.Command("ip", "-n", f.name, "-o", "addr", "show", "dev", "lo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.99.0.1/32") {
		t.Errorf("namespace %s lost its mark: %v\n%s", f.name, err, out)
	}
	out, _ = exec.Command("ip", "-n", f.name, "-o", "link", "show", "dev", "lo").CombinedOutput()
	if strings.Contains(string(out), "state UNKNOWN") || strings.Contains(string(out), ",UP") {
		t.Errorf("namespace %s: lo was brought up: %s", f.name, out)
	}
	if !alive(f.proc.Process.Pid) {
		t.Errorf("the process in %s (pid %d) was stopped", f.name, f.proc.Process.Pid)
	}
}

// checkNothingOfOurs asserts that no name of tag exists but want.
func checkNothingOfOurs(t *testing.T, tag string, want ...string) {
	t.Helper()
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	m, _ := filepath.Glob(filepath.Join(NetnsDir, Prefix+tag+"-*"))
	m2, _ := filepath.Glob(filepath.Join(StateDir, tag))
	for _, p := range append(m, m2...) {
		if !keep[p] {
			t.Errorf("left behind: %s", p)
		}
	}
}

func provisionTag(tag string) (*Testbed, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return Provision(context.Background(), Options{Tunnels: 1, FlowsPerTunnel: 1, Tag: tag, Binary: bin})
}

// TestIntegrationNamespaceTaken: when a namespace wgbench would create
// exists, provisioning fails before touching anything, says whose it looks
// like and what to do, and leaves it (and its process) as it was.
func TestIntegrationNamespaceTaken(t *testing.T) {
	testutil.RequireRoot(t)
	cases := []struct {
		name string
		// setup makes the foreign names for tag.
		setup func(t *testing.T, tag string) (*foreignNS, []string)
		live  bool
		want  []string
	}{{
		name: "someone else's",
		setup: func(t *testing.T, tag string) (*foreignNS, []string) {
			return makeForeign(t, NamespaceName(tag, testbed.Drain)), nil
		},
		want: []string{
			"local testbed: namespace wgb-%[1]s-drain already exists: no wgbench run owns it, but processes run in it: %[2]d (sleep). ",
			"If it is a leftover of wgbench, remove it with `wgbench testbed clean`; if something else made it, run with another --tag (or none: a free one is picked)",
		},
	}, {
		name: "crashed run",
		setup: func(t *testing.T, tag string) (*foreignNS, []string) {
			state := filepath.Join(StateDir, tag)
			if err := os.MkdirAll(state, 0o700); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(state) })
			if err := os.WriteFile(filepath.Join(state, "owner"), []byte("999999999\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return makeForeign(t, NamespaceName(tag, testbed.GW1), RunEnv+"="+tag), []string{state}
		},
		want: []string{
			"local testbed: namespace wgb-%[1]s-gw1 already exists: it is left over by a wgbench run that is gone (its wgbench process 999999999 no longer runs; its process %[2]d still runs). ",
			"Remove it with `wgbench testbed clean`, or run with another --tag",
		},
	}, {
		name: "live by its processes",
		setup: func(t *testing.T, tag string) (*foreignNS, []string) {
			return makeForeign(t, NamespaceName(tag, testbed.Source), RunEnv+"="+tag), nil
		},
		live: true,
		want: []string{
			"local testbed: namespace wgb-%[1]s-source already exists: it looks like a live wgbench run with tag %[1]s (process %[2]d carries WGBENCH_RUN=%[1]s). wgbench does not touch what it did not create: ",
			"wait for that run to end, or run with another --tag (or none: a free one is picked)",
		},
	}}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tag := testTag(t, i)
			f, keep := c.setup(t, tag)
			tb, err := provisionTag(tag)
			if err == nil {
				tb.Teardown()
				t.Fatal("Provision succeeded over a taken namespace")
			}
			var te *TakenError
			if !errors.As(err, &te) || te.Live() != c.live {
				t.Fatalf("error %T %v (live=%v); want a *TakenError, live=%v", err, err, te != nil && te.Live(), c.live)
			}
			if want := fmt.Sprintf(strings.Join(c.want, ""), tag, f.proc.Process.Pid); !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n%v\nwant it to contain\n%s", err, want)
			}
			f.checkUntouched(t)
			checkNothingOfOurs(t, tag, append(keep, filepath.Join(NetnsDir, f.name))...)
		})
	}
}

// TestIntegrationTagOfLiveRun: a second testbed with a live run's tag
// fails naming that run, and the live run's testbed is left working.
func TestIntegrationTagOfLiveRun(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Wgbench(t)
	tag := testTag(t, 100)
	tb, err := Provision(context.Background(), Options{Tunnels: 1, FlowsPerTunnel: 1, Tag: tag, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Teardown(); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	p, err := tb.Host(testbed.GW1).Start(context.Background(), testbed.Cmd{Argv: []string{"sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	// The trampoline execs sleep in place: wait for it.
	for deadline := time.Now().Add(5 * time.Second); commOf(p.Pid()) != "sleep"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("sleep did not start")
		}
	}

	_, err = Provision(context.Background(), Options{Tunnels: 1, FlowsPerTunnel: 1, Tag: tag, Binary: bin})
	var te *TakenError
	if !errors.As(err, &te) || !te.Live() || len(te.Namespaces) != 4 {
		t.Fatalf("second Provision: %v; want a *TakenError naming the 4 namespaces of a live run", err)
	}
	want := fmt.Sprintf("local testbed: namespaces wgb-%[1]s-source, wgb-%[1]s-gw1, wgb-%[1]s-gw2, wgb-%[1]s-drain already exist: "+
		"it looks like a live wgbench run with tag %[1]s (its wgbench process %[2]d runs; process %[3]d carries WGBENCH_RUN=%[1]s). "+
		"wgbench does not touch what it did not create: wait for that run to end, or run with another --tag (or none: a free one is picked)",
		tag, os.Getpid(), p.Pid())
	if err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}
	// The live run is intact: its process runs and its hosts still talk.
	if !alive(p.Pid()) {
		t.Error("the live run's process was stopped")
	}
	if _, err := testbed.Run(context.Background(), tb.Host(testbed.GW1), "ping", "-c1", "-W2", testbed.GW2WAN.Addr().String()); err != nil {
		t.Errorf("the live run's testbed broke: %v", err)
	}
	if _, err := os.Stat(filepath.Join(StateDir, tag, "owner")); err != nil {
		t.Errorf("the live run's state: %v", err)
	}
}

// TestIntegrationNamespaceTakenMidway: a namespace that appears after the
// check (someone else won the race for gw2) fails provisioning the same
// way; what this run made (source, gw1, state) is removed and the other
// namespace is left alone.
func TestIntegrationNamespaceTakenMidway(t *testing.T) {
	testutil.RequireRoot(t)
	tag := testTag(t, 200)
	var f *foreignNS
	var ours []string
	testHookBeforeNamespace = func(name string) {
		if name == NamespaceName(tag, testbed.GW2) {
			f = makeForeign(t, name)
			ours, _ = filepath.Glob(filepath.Join(NetnsDir, Prefix+tag+"-*"))
		}
	}
	t.Cleanup(func() { testHookBeforeNamespace = nil })
	tb, err := provisionTag(tag)
	if err == nil {
		tb.Teardown()
		t.Fatal("Provision succeeded over a taken namespace")
	}
	var te *TakenError
	if !errors.As(err, &te) || len(te.Namespaces) != 1 || te.Namespaces[0] != NamespaceName(tag, testbed.GW2) || te.State != "" {
		t.Fatalf("error %v; want a *TakenError naming only %s", err, NamespaceName(tag, testbed.GW2))
	}
	if want := "no wgbench run owns it, but processes run in it: " + strconv.Itoa(f.proc.Process.Pid) + " (sleep)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %v; want it to say %q", err, want)
	}
	if len(ours) != 3 { // source, gw1 and the foreign gw2
		t.Errorf("at the race %d namespaces of the tag existed (%v); want source, gw1, gw2", len(ours), ours)
	}
	f.checkUntouched(t)
	checkNothingOfOurs(t, tag, filepath.Join(NetnsDir, f.name))
}

// TestCreateNamespaceExisting: creating a name that exists fails with
// os.ErrExist and leaves the existing namespace as it was.
func TestIntegrationCreateNamespaceExisting(t *testing.T) {
	testutil.RequireRoot(t)
	name := Prefix + testTag(t, 300) + "-x"
	f := makeForeign(t, name)
	if err := createNamespace(name); !errors.Is(err, os.ErrExist) {
		t.Fatalf("createNamespace over %s: %v; want os.ErrExist", name, err)
	}
	f.checkUntouched(t)
}
