package ssh_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cryptossh "golang.org/x/crypto/ssh"

	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// TestIntegrationSSH runs the SSH driver against four real sshds, one per
// namespace of a local testbed whose links carry no addresses: host keys
// checked, binary copied, net-setup addressing the links, a small
// scenario end to end, a host lost mid-run.
func TestIntegrationSSH(t *testing.T) {
	l := newLab(t)
	known := l.knownHosts(t, "known_hosts", l.hostKeys)
	inv := l.inventory(t, known)

	t.Run("UnknownHostKeyRefused", func(t *testing.T) {
		keys := map[string]cryptossh.PublicKey{}
		for r, k := range l.hostKeys {
			if r != testbed.GW2 {
				keys[r] = k
			}
		}
		inv := l.inventory(t, l.knownHosts(t, "known_hosts.nogw2", keys))
		_, err := sshtb.Provision(context.Background(), inv, sshtb.Options{Tunnels: 1, FlowsPerTunnel: 1, Binary: l.bin})
		if !errors.Is(err, sshtb.ErrUnknownHostKey) || !strings.Contains(err.Error(), "gw2 ("+l.addrs[testbed.GW2]+")") || !strings.Contains(err.Error(), "--accept-new-host-keys") {
			t.Fatalf("Provision with gw2's key unknown: %v; want an unknown host key error naming gw2 and how to accept it", err)
		}
		// Nothing was addressed anywhere.
		if got := l.addrsOn(t, testbed.GW1, "wan"); len(got) != 0 {
			t.Errorf("gw1 wan has %v after a refused provision", got)
		}
		// A key that differs from the recorded one is refused even when
		// new keys are accepted.
		keys[testbed.GW2] = l.hostKeys[testbed.Source]
		inv = l.inventory(t, l.knownHosts(t, "known_hosts.wrong", keys))
		_, err = sshtb.Check(context.Background(), inv, sshtb.Options{AcceptNewHostKeys: true, Binary: l.bin})
		if !errors.Is(err, sshtb.ErrHostKeyMismatch) && (err == nil || !strings.Contains(err.Error(), "not ready")) {
			t.Fatalf("Check with a wrong key for gw2: %v", err)
		}
		// Accepting new keys records the missing one and says so.
		path := filepath.Join(l.dir, "known_hosts.accept")
		inv = l.inventory(t, path)
		var said []string
		lines, err := sshtb.Check(context.Background(), inv, sshtb.Options{AcceptNewHostKeys: true, Binary: l.bin, Printf: func(f string, a ...any) { said = append(said, f) }})
		if err != nil {
			t.Fatalf("Check accepting new keys: %v\n%v", err, lines)
		}
		data, _ := os.ReadFile(path)
		if n := strings.Count(string(data), "\n"); n != 4 {
			t.Errorf("known_hosts has %d lines after accepting, want 4:\n%s", n, data)
		}
		if len(said) != 4 {
			t.Errorf("accepting printed %d lines, want one per host with its fingerprint", len(said))
		}
	})

	t.Run("Run", func(t *testing.T) {
		sc, err := scenarios.Parse("ssh-test.yaml", []byte(`
name: ssh-test
testbed: {driver: ssh, inventory: hosts.yaml}
traffic: {duration: 2s, omit: 0s}
series:
  - datapath: plain
  - datapath: wggo
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		var tbRef *sshtb.Testbed
		run, err := runner.Run(context.Background(), runner.Options{
			Scenario: sc, Dir: filepath.Join(t.TempDir(), "run"), Binary: l.bin, Progress: progress.New(&out, false),
			Provision: func(ctx context.Context, tunnels, flows int) (runner.Testbed, error) {
				tb, err := sshtb.Provision(ctx, inv, sshtb.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: l.bin})
				if err == nil {
					tbRef = tb
					checkHosts(t, l, tb)
				}
				return tb, err
			},
		})
		t.Logf("progress:\n%s", out.String())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if run.Status != results.StatusComplete || run.Testbed.Driver != "ssh" || run.Testbed.SharedCores {
			t.Errorf("status %s, driver %s, shared cores %v; want complete over ssh, not shared", run.Status, run.Testbed.Driver, run.Testbed.SharedCores)
		}
		if len(run.Points) != 2 {
			t.Fatalf("%d points, want 2", len(run.Points))
		}
		for _, p := range run.Points {
			if !p.Complete || p.Summary.N != 1 || p.Summary.MeanGbps <= 0 {
				t.Errorf("%s: complete %v, n %d, %.3f Gbit/s; want one good repetition", p.Series, p.Complete, p.Summary.N, p.Summary.MeanGbps)
			}
		}
		if f := run.Hosts[testbed.GW1]; len(f.Notes) > 0 {
			t.Errorf("gw1 facts: %v", f.Notes)
		}
		// Teardown undid the addressing and removed the run directories.
		for _, role := range testbed.Roles {
			if got := l.addrsOn(t, role, "lan"); len(got) != 0 {
				t.Errorf("%s lan still has %v", role, got)
			}
			dir := filepath.Join(l.dir, "work-"+role, "runs", tbRef.Tag())
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: run directory %s left behind (%v)", role, dir, err)
			}
		}
	})

	t.Run("HostLostMidRun", func(t *testing.T) {
		sc, err := scenarios.Parse("ssh-lost.yaml", []byte(`
name: ssh-lost
testbed: {driver: ssh, inventory: hosts.yaml}
traffic: {duration: 2s, omit: 0s}
repetitions: 4
series:
  - datapath: plain
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		w := &watchWriter{want: "rep 1/4:", seen: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			select {
			case <-w.seen:
				l.killSSHD(t, testbed.GW2)
			case <-done:
			}
		}()
		dir := filepath.Join(t.TempDir(), "run")
		begin := time.Now()
		run, err := runner.Run(ctx, runner.Options{
			Scenario: sc, Dir: dir, Binary: l.bin, Progress: progress.New(w, false),
			Provision: func(ctx context.Context, tunnels, flows int) (runner.Testbed, error) {
				return sshtb.Provision(ctx, inv, sshtb.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: l.bin, OnLost: func(err error) { cancel(err) }})
			},
		})
		close(done)
		t.Logf("progress after %s:\n%s", time.Since(begin).Round(time.Millisecond), w.String())
		if err == nil {
			t.Fatal("Run succeeded with gw2's sshd killed")
		}
		cause := context.Cause(ctx)
		if !errors.Is(cause, sshtb.ErrConnectionLost) || !strings.Contains(cause.Error(), "gw2 ("+l.addrs[testbed.GW2]+")") {
			t.Errorf("cause %v; want a lost connection naming gw2 and its address", cause)
		}
		if run == nil || !strings.Contains(run.Error, "gw2") || !strings.Contains(run.Error, "SSH connection lost") {
			t.Errorf("run.json error %q; want it to name gw2 and the lost connection", run.Error)
		}
		// What was measured before is kept, in memory and on disk.
		_, saved, lerr := results.Open(dir)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if len(saved.Points) == 0 || len(saved.Points[0].Repetitions) == 0 || saved.Points[0].Repetitions[0].AggregateBps <= 0 {
			t.Fatalf("run folder kept %+v; want the first repetition", saved.Points)
		}
		// gw2's net-setup noticed its session was gone and undid its
		// changes by itself.
		deadline := time.Now().Add(10 * time.Second)
		for len(l.addrsOn(t, testbed.GW2, "wan")) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if got := l.addrsOn(t, testbed.GW2, "wan"); len(got) != 0 {
			t.Errorf("gw2 wan still has %v after its session died", got)
		}
		if got := l.addrsOn(t, testbed.GW1, "wan"); len(got) != 0 {
			t.Errorf("gw1 wan still has %v after teardown", got)
		}
	})
}

// checkHosts exercises the Host interface of a provisioned SSH testbed.
func checkHosts(t *testing.T, l *lab, tb *sshtb.Testbed) {
	t.Helper()
	ctx := context.Background()
	h := tb.Hosts()[testbed.Drain]
	// Files round-trip, missing files are fs.ErrNotExist.
	p := filepath.Join(h.TempDir(), "x y.txt")
	if err := h.WriteFile(p, []byte("it's\x00binary\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := h.ReadFile(p); err != nil || string(got) != "it's\x00binary\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("written file mode: %v %v", st, err)
	}
	if _, err := h.ReadFile(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v; want fs.ErrNotExist", err)
	}
	// wgbench is the installed binary; output and exit status come back.
	out, err := testbed.Run(ctx, h, testbed.Self, "version")
	if err != nil || len(out) == 0 {
		t.Errorf("wgbench version on drain: %q %v", out, err)
	}
	if _, err := testbed.Run(ctx, h, "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing command: %v; want its exit status and stderr", err)
	}
	// Signals reach the process; ctx ends it.
	sp, err := h.Start(ctx, testbed.Cmd{Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Pid() <= 0 {
		t.Errorf("pid %d", sp.Pid())
	}
	if err := sp.Signal(os.Interrupt); err != nil {
		t.Errorf("Signal: %v", err)
	}
	if err := sp.Wait(); err == nil {
		t.Error("sleep ended cleanly after SIGINT")
	}
	cctx, cancel := context.WithCancel(ctx)
	cp, err := h.Start(cctx, testbed.Cmd{Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waited := make(chan error, 1)
	go func() { waited <- cp.Wait() }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Error("cancelled context did not stop the remote process")
	}
	// More processes at once than one connection has sessions.
	var ps []testbed.Process
	for i := 0; i < 14; i++ {
		p, err := h.Start(ctx, testbed.Cmd{Argv: []string{"sleep", "2"}})
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Errorf("sleep: %v", err)
		}
	}
	// net-setup put the plan on the links; gw1's LAN was named by MAC.
	if got := l.addrsOn(t, testbed.GW1, "lan"); len(got) != 1 || got[0] != testbed.GW1LAN.String() {
		t.Errorf("gw1 lan has %v, want %s", got, testbed.GW1LAN)
	}
	if got := l.addrsOn(t, testbed.Source, "lan"); len(got) != 2 {
		t.Errorf("source lan has %v, want its link and one flow address", got)
	}
}

// watchWriter records progress and closes seen when a line contains want.
type watchWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
