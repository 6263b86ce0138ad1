package ssh_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
		// Two points of two repetitions; gw2's sshd dies after the
		// first repetition of the second point.
		sc, err := scenarios.Parse("ssh-lost.yaml", []byte(`
name: ssh-lost
testbed: {driver: ssh, inventory: hosts.yaml}
traffic: {duration: 1s, omit: 0s}
repetitions: 2
series:
  - {name: first, datapath: plain}
  - {name: second, datapath: plain}
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		provision := func(cancel context.CancelCauseFunc) runner.Provisioner {
			return func(ctx context.Context, tunnels, flows int) (runner.Testbed, error) {
				return sshtb.Provision(ctx, inv, sshtb.Options{Tunnels: tunnels, FlowsPerTunnel: flows, Binary: l.bin, OnLost: func(err error) { cancel(err) }})
			}
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		w := &watchWriter{want: "[second] tunnels=1 flows/tunnel=1 rep 1/2:", seen: make(chan struct{})}
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
			Scenario: sc, Dir: dir, Binary: l.bin, Progress: progress.New(w, false), Provision: provision(cancel),
		})
		close(done)
		t.Logf("progress after %s:\n%s", time.Since(begin).Round(time.Millisecond), w.String())
		if err == nil {
			t.Fatal("Run succeeded with gw2's sshd killed")
		}
		gw2 := "gw2 (" + l.addrs[testbed.GW2] + ")"
		cause := context.Cause(ctx)
		if !errors.Is(cause, sshtb.ErrConnectionLost) || !strings.Contains(cause.Error(), gw2) {
			t.Errorf("cause %v; want a lost connection naming gw2 and its address", cause)
		}
		if !errors.Is(err, sshtb.ErrConnectionLost) || !errors.Is(err, testbed.ErrHostLost) || !strings.HasPrefix(err.Error(), cause.Error()) {
			t.Errorf("Run: %v; want the lost connection first", err)
		}
		// run.json says the run failed because of gw2: not an interrupt.
		_, saved, lerr := results.Open(dir)
		if lerr != nil {
			t.Fatal(lerr)
		}
		for _, r := range []*results.Run{run, saved} {
			if r.Status != results.StatusFailed || !strings.HasPrefix(r.Error, cause.Error()) || strings.Contains(r.Error, "interrupted") {
				t.Errorf("run.json: status %q, error %q; want failed with the lost connection of %s", r.Status, r.Error, gw2)
			}
		}
		// What was measured before is kept: the first point whole, the
		// second one's first repetition.
		if len(saved.Points) != 2 || !saved.Points[0].Complete || len(saved.Points[0].Repetitions) != 2 || saved.Points[0].Summary.N != 2 ||
			saved.Points[1].Complete || len(saved.Points[1].Repetitions) == 0 || saved.Points[1].Repetitions[0].AggregateBps <= 0 {
			t.Fatalf("run folder kept %+v; want the first point complete and the second's first repetition", saved.Points)
		}
		kept := saved.Points[0]
		keptRaw := treeSums(t, filepath.Join(dir, "raw", "first"))
		if len(keptRaw) == 0 {
			t.Fatal("no raw files of the first point")
		}
		// The lost host cleaned up by itself: its net-setup and datapath
		// noticed their session was gone (stdin closed), undid their
		// changes and removed the run directory; the other hosts were
		// torn down.
		deadline := time.Now().Add(15 * time.Second)
		for len(l.leftovers(t)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if left := l.leftovers(t); len(left) > 0 {
			t.Errorf("left on the hosts after the lost run:\n%s", strings.Join(left, "\n"))
		}

		// gw2's sshd is back, with its host key: --resume finishes the
		// run over SSH.
		l.runSSHD(t, testbed.GW2)
		ctx, cancel = context.WithCancelCause(context.Background())
		defer cancel(nil)
		var out strings.Builder
		begin = time.Now()
		run, err = runner.Run(ctx, runner.Options{Dir: dir, Resume: true, Binary: l.bin, Progress: progress.New(&out, false), Provision: provision(cancel)})
		t.Logf("resumed in %s:\n%s", time.Since(begin).Round(time.Millisecond), out.String())
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		if !strings.Contains(out.String(), "resuming: 1 completed point(s) kept") || strings.Contains(out.String(), "[first]") {
			t.Errorf("the resumed run did not just measure the second point")
		}
		_, final, lerr := results.Open(dir)
		if lerr != nil {
			t.Fatal(lerr)
		}
		for _, r := range []*results.Run{run, final} {
			if r.Status != results.StatusComplete || r.Error != "" || r.Testbed.Driver != "ssh" {
				t.Errorf("after resume: status %q, error %q, driver %q; want complete over ssh", r.Status, r.Error, r.Testbed.Driver)
			}
			if len(r.Resumed) != 1 || !r.Resumed[0].After(saved.Started) || saved.Finished == nil || r.Resumed[0].Before(*saved.Finished) || !r.Started.Equal(saved.Started) {
				t.Errorf("resumed %v, started %v; want one resume after the lost run (started %v, finished %v)", r.Resumed, r.Started, saved.Started, saved.Finished)
			}
		}
		if len(final.Points) != 2 {
			t.Fatalf("%d points after resume, want 2", len(final.Points))
		}
		for _, p := range final.Points {
			if !p.Complete || len(p.Repetitions) != 2 || p.Summary.N != 2 {
				t.Errorf("%s: complete %v, %d repetitions, n %d; want both repetitions good", p.Series, p.Complete, len(p.Repetitions), p.Summary.N)
			}
			for i, rp := range p.Repetitions {
				if rp.Index != i || !rp.OK() {
					t.Errorf("%s rep %d: index %d, error %q, %.3f Gbit/s", p.Series, i, rp.Index, rp.Error, rp.AggregateBps/1e9)
				}
			}
		}
		// The first point is the one measured before the host was lost,
		// not measured again: the same values, the same raw files.
		if diff := cmp.Diff(kept, final.Points[0]); diff != "" {
			t.Errorf("first point changed by the resume (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(keptRaw, treeSums(t, filepath.Join(dir, "raw", "first"))); diff != "" {
			t.Errorf("raw files of the first point changed by the resume (-before +after):\n%s", diff)
		}
		if p := final.Points[1]; p.Series != "second" || !p.Repetitions[0].Started.After(*saved.Finished) {
			t.Errorf("second point (%s) started %v; want it measured again after the lost run ended at %v", p.Series, p.Repetitions[0].Started, saved.Finished)
		}
		// Nothing is left on the hosts: not by the lost run, not by the
		// resume.
		deadline = time.Now().Add(10 * time.Second)
		for len(l.leftovers(t)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if left := l.leftovers(t); len(left) > 0 {
			t.Errorf("left on the hosts after the resumed run:\n%s", strings.Join(left, "\n"))
		}
	})

	t.Run("CoresAndLifeline", func(t *testing.T) { testCoresAndLifeline(t, l, known) })
}

// treeSums maps every file under dir (relative path) to its SHA-256.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sums[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
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
