package results

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCreate(t *testing.T) {
	base := t.TempDir()
	nonEmpty := filepath.Join(base, "used")
	if err := os.MkdirAll(filepath.Join(nonEmpty, "raw"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{name: "new nested folder", dir: filepath.Join(base, "runs", "20261121-221500-x")},
		{name: "existing empty folder", dir: empty},
		{name: "non-empty folder", dir: nonEmpty, wantErr: "not empty"},
		{name: "a file", dir: file, wantErr: "create run folder"},
		{name: "empty path", dir: "", wantErr: "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Create(tt.dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Create(%q) error = %v, want one containing %q", tt.dir, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create(%q): %v", tt.dir, err)
			}
			if f.Dir != tt.dir {
				t.Errorf("Dir = %q, want %q", f.Dir, tt.dir)
			}
			st, err := os.Stat(tt.dir)
			if err != nil || !st.IsDir() {
				t.Fatalf("folder not created: %v", err)
			}
		})
	}
}

func TestCreateTwiceFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	f, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(fullRun()); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir); err == nil {
		t.Fatal("second Create of a saved run folder succeeded; it must not overwrite a run")
	}
}

func newFolder(t *testing.T) *Folder {
	t.Helper()
	f, err := Create(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testHookBeforeRename = nil })
	return f
}

var cmpRun = cmp.Options{cmpopts.EquateEmpty()}

func TestSaveOpenRoundTrip(t *testing.T) {
	f := newFolder(t)
	want := fullRun()
	if err := f.Save(want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	f2, got, err := Open(f.Dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if f2.Dir != f.Dir {
		t.Errorf("Open Dir = %q, want %q", f2.Dir, f.Dir)
	}
	if diff := cmp.Diff(want, got, cmpRun); diff != "" {
		t.Errorf("run after round trip (-saved +opened):\n%s", diff)
	}
	for _, name := range []string{RunFile, PointsFile} {
		st, err := os.Stat(f.Path(name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode = %v, want 0644", name, st.Mode().Perm())
		}
	}
}

func TestSaveStampsSchemaWithoutChangingRun(t *testing.T) {
	f := newFolder(t)
	r := fullRun()
	r.Schema = 0
	if err := f.Save(r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != 0 {
		t.Errorf("Save changed r.Schema to %d", r.Schema)
	}
	_, got, err := Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion {
		t.Errorf("saved schema = %d, want %d", got.Schema, SchemaVersion)
	}
}

func TestSaveWritesPointsCSV(t *testing.T) {
	f := newFolder(t)
	r := fullRun()
	second := r.Points[0]
	second.Series = "plain"
	second.Datapath = "plain"
	second.Tunnels, second.FlowsPerTunnel = 1, 3
	second.Repetitions = []Repetition{{AggregateBps: 20e9}, {AggregateBps: 22e9}, {AggregateBps: 1, Error: "boom"}}
	second.Resummarize()
	r.Points = append(r.Points, second)

	for _, step := range []struct {
		name   string
		points []Point
	}{
		{"two points", r.Points},
		{"rewritten from fewer points", r.Points[1:]},
		{"no points", nil},
	} {
		t.Run(step.name, func(t *testing.T) {
			r.Points = step.points
			if err := f.Save(r); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f.Path(PointsFile))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadPointsCSV(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("ReadPointsCSV: %v\n%s", err, data)
			}
			var want []CSVRow
			for _, p := range step.points {
				ok := 0
				for _, rep := range p.Repetitions {
					if rep.Error == "" {
						ok++
					}
				}
				want = append(want, CSVRow{
					Series: p.Series, Datapath: p.Datapath, Tunnels: p.Tunnels,
					FlowsPerTunnel: p.FlowsPerTunnel, Flows: p.Tunnels * p.FlowsPerTunnel,
					Repetitions: len(p.Repetitions), OK: ok,
					MeanGbps: p.Summary.MeanGbps, StddevGbps: p.Summary.StddevGbps,
					CI95Gbps: p.Summary.CI95Gbps, MinGbps: p.Summary.MinGbps, MaxGbps: p.Summary.MaxGbps,
				})
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("points.csv rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSaveCleansLeftoverTemps(t *testing.T) {
	f := newFolder(t)
	for _, name := range []string{tmpPrefix + "123", tmpPrefix + "run-json"} {
		if err := os.WriteFile(f.Path(name), []byte(`{"schema": 1, "poi`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Save(fullRun()); err != nil {
		t.Fatalf("Save with leftover temporary files: %v", err)
	}
	checkNoTemps(t, f)
	if _, _, err := Open(f.Dir); err != nil {
		t.Fatalf("Open after Save: %v", err)
	}
}

func checkNoTemps(t *testing.T, f *Folder) {
	t.Helper()
	entries, err := os.ReadDir(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{PointsFile, RunFile}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("folder content (-want +got):\n%s", diff)
	}
}

// TestFailedSaveKeepsPreviousRun checks that a Save that fails leaves the
// files of the previous Save as they were, and no temporary files.
func TestFailedSaveKeepsPreviousRun(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *Run)
	}{
		{
			name: "write fails before the rename",
			setup: func(*Run) {
				testHookBeforeRename = func() error { return errors.New("disk full") }
			},
		},
		{
			name: "run cannot be encoded",
			setup: func(r *Run) {
				r.Points[0].Repetitions[0].Flows[0].Bps = math.NaN()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFolder(t)
			r := fullRun()
			if err := f.Save(r); err != nil {
				t.Fatal(err)
			}
			oldRun, oldCSV := readFile(t, f.Path(RunFile)), readFile(t, f.Path(PointsFile))

			r.Status = StatusComplete
			r.Points = append(r.Points, r.Points[0])
			tt.setup(r)
			if err := f.Save(r); err == nil {
				t.Fatal("Save succeeded, want an error")
			}
			if got := readFile(t, f.Path(RunFile)); !bytes.Equal(got, oldRun) {
				t.Errorf("run.json changed by a failed Save")
			}
			if got := readFile(t, f.Path(PointsFile)); !bytes.Equal(got, oldCSV) {
				t.Errorf("points.csv changed by a failed Save")
			}
			checkNoTemps(t, f)
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string // run.json; "" for none
		want    []string
		is      error
	}{
		{name: "no run.json", want: []string{"not a wgbench run folder"}, is: fs.ErrNotExist},
		{name: "newer schema", content: `{"schema": 2, "points": "a future layout"}`, want: []string{"schema version 2 is newer", "(1)"}},
		{name: "no schema", content: `{"status": "running"}`, want: []string{`no "schema" field`}},
		{name: "zero schema", content: `{"schema": 0}`, want: []string{"invalid schema version 0"}},
		{name: "truncated", content: "{\n  \"schema\": 1,\n  \"points\": [", want: []string{RunFile, "corrupt"}},
		{name: "syntax error has line and column", content: "{\n  \"schema\": 1,\n  \"status\": x\n}", want: []string{RunFile + ":3:13:", "corrupt"}},
		{name: "wrong type", content: "{\"schema\": 1,\n\"points\": {}}", want: []string{RunFile + ":2:", "corrupt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, RunFile), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := Open(dir)
			if err == nil {
				t.Fatal("Open succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the folder %s", err, dir)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestMkdirAll(t *testing.T) {
	f := newFolder(t)
	old := syscall.Umask(0)
	syscall.Umask(old)

	tests := []struct {
		name    string
		rel     []string
		want    string
		wantErr bool
	}{
		{name: "raw log folder", rel: []string{RawDir("kernel", 4, 2, 0)}, want: filepath.Join(f.Dir, "raw", "kernel", "t4-f2", "rep0")},
		{name: "several parts", rel: []string{"raw", "x", "y"}, want: filepath.Join(f.Dir, "raw", "x", "y")},
		{name: "escapes the folder", rel: []string{"..", "elsewhere"}, wantErr: true},
		{name: "escapes after cleaning", rel: []string{"raw", "..", "..", "x"}, wantErr: true},
		{name: "absolute", rel: []string{"/tmp/x"}, wantErr: true},
		{name: "nothing", rel: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.MkdirAll(tt.rel...)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("MkdirAll(%q) = %q, want an error", tt.rel, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("MkdirAll(%q) = %q, want %q", tt.rel, got, tt.want)
			}
			st, err := os.Stat(got)
			if err != nil {
				t.Fatal(err)
			}
			if want := fs.FileMode(0o755) &^ fs.FileMode(old); !st.IsDir() || st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want a directory with %v", got, st.Mode(), want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	f := &Folder{Dir: "runs/r1"}
	if got, want := f.Path("raw", "a", "b.json"), filepath.Join("runs", "r1", "raw", "a", "b.json"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if got, want := f.Path(), filepath.Join("runs", "r1"); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
}

func TestRawDir(t *testing.T) {
	tests := []struct {
		series              string
		tunnels, flows, rep int
		want                string
	}{
		{"kernel", 1, 1, 0, "raw/kernel/t1-f1/rep0"},
		{"kernel, threaded NAPI", 16, 4, 2, "raw/kernel-threaded-NAPI/t16-f4/rep2"},
		{"../../etc", 1, 1, 1, "raw/etc/t1-f1/rep1"},
	}
	for _, tt := range tests {
		if got := filepath.ToSlash(RawDir(tt.series, tt.tunnels, tt.flows, tt.rep)); got != tt.want {
			t.Errorf("RawDir(%q, %d, %d, %d) = %q, want %q", tt.series, tt.tunnels, tt.flows, tt.rep, got, tt.want)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 21, 23, 15, 0, 0, cet) // 22:15 UTC
	tests := []struct {
		root, scenario string
		want           string
	}{
		{"runs", "multi-tunnel", "runs/20261121-221500-multi-tunnel"},
		{"", "multi-tunnel", "20261121-221500-multi-tunnel"},
		{"out/runs", "Kernel vs wireguard-go (8 tunnels)", "out/runs/20261121-221500-Kernel-vs-wireguard-go-8-tunnels"},
		{"runs", "a/b\\c:d", "runs/20261121-221500-a-b-c-d"},
		{"runs", "..", "runs/20261121-221500-run"},
		{"runs", "", "runs/20261121-221500-run"},
		{"runs", "débit_5g", "runs/20261121-221500-d-bit_5g"},
		{"runs", strings.Repeat("x", 100), "runs/20261121-221500-" + strings.Repeat("x", maxNameLen)},
	}
	for _, tt := range tests {
		if got := filepath.ToSlash(DefaultDir(tt.root, tt.scenario, at)); got != tt.want {
			t.Errorf("DefaultDir(%q, %q) = %q, want %q", tt.root, tt.scenario, got, tt.want)
		}
	}
}
