package kernel

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// killedTuner applies knobs of every journal kind to a fake host with a
// journal and abandons the tuner without restoring, as a SIGKILL would.
func killedTuner(t *testing.T) (f *fixture, before map[string]string, journal string) {
	t.Helper()
	f = newFixture(t, stockFiles())
	before = f.tree.snapshot()
	journal = filepath.Join(t.TempDir(), "datapath-kernel.journal")
	j, err := CreateJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	f.tun.SetJournal(j)
	tu := Tuning{ThreadedNAPI: true, NAPICPUs: []int{1}, RPSCPUs: []int{2}, UDPGROForwarding: true,
		Steering: true, IRQCPUs: []int{3}, ListenPorts: []int{51820, 51821}}
	if err := f.tun.Apply([]string{"wg0", "wg1"}, "eth1", tu); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return f, before, journal
}

// markDead rewrites the journal's header so that its writer (this test)
// no longer looks alive: a different start time is a reused pid.
func markDead(t *testing.T, journal string) {
	t.Helper()
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	i := strings.Index(first, `"start":`)
	if i < 0 {
		t.Fatalf("header %s has no start", first)
	}
	first = first[:i] + `"start":1}`
	if err := os.WriteFile(journal, []byte(first+"\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUndoJournalAfterKill(t *testing.T) {
	f, before, journal := killedTuner(t)
	host := Host{Files: f.tree, Affinity: f.aff, Ethtool: f.eth}
	if len(f.eth.rulesOf("eth1")) != 2 {
		t.Fatalf("rules before the undo: %v", f.eth.rulesOf("eth1"))
	}
	// While its writer runs, the journal is left alone.
	if _, err := UndoJournal(journal, host); !errors.Is(err, ErrJournalOwnerAlive) {
		t.Fatalf("UndoJournal with its writer alive: %v, want ErrJournalOwnerAlive", err)
	}
	markDead(t, journal)
	done, err := UndoJournal(journal, host)
	if err != nil {
		t.Fatalf("UndoJournal: %v", err)
	}
	t.Logf("undone:\n%s", strings.Join(done, "\n"))
	// Newest first: the last change made (IRQ 41) is undone first.
	if len(done) == 0 || !strings.HasPrefix(done[0], "irq_cpus: /proc/irq/41/smp_affinity_list back to") {
		t.Errorf("first action %q, want the newest change (irq 41)", done)
	}
	after := f.tree.snapshot()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("after the undo %s = %q, want %q", p, after[p], v)
		}
	}
	if got := f.eth.rulesOf("eth1"); len(got) != 0 {
		t.Errorf("ntuple rules left: %v", got)
	}
	if diff := cmp.Diff(stockEthtool().feats, f.eth.state()); diff != "" {
		t.Errorf("NIC features after the undo (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal still there after a full undo: %v", err)
	}
	if _, err := UndoJournal(journal, host); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second UndoJournal: %v, want fs.ErrNotExist", err)
	}
}

func TestJournalCleanRestoreRemovesNothingToUndo(t *testing.T) {
	f := newFixture(t, stockFiles())
	journal := filepath.Join(t.TempDir(), "j")
	j, err := CreateJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateJournal(journal); !errors.Is(err, ErrJournalExists) || !strings.Contains(err.Error(), "wgbench agent undo --journal "+journal) {
		t.Errorf("second CreateJournal: %v, want ErrJournalExists saying how to undo", err)
	}
	f.tun.SetJournal(j)
	if err := f.tun.Apply([]string{"wg0"}, "eth1", Tuning{RPSCPUs: []int{1}}); err != nil {
		t.Fatal(err)
	}
	if err := f.tun.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left after Remove: %v", err)
	}
}
