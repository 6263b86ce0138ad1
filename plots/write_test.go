package plots

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/results"
)

// checkFigureFile checks a written figure: a PNG decodes at the expected
// size, an SVG is well-formed and holds wants. It returns the SVG text.
func checkFigureFile(t *testing.T, path string, wantW, wantH int, wants ...string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Errorf("%s is %d×%d px, want %d×%d", path, b.Dx(), b.Dy(), wantW, wantH)
		}
	case ".svg":
		txt := svgTexts(t, data)
		mustContain(t, path, txt, wants...)
		return txt
	default:
		t.Errorf("unexpected file %s", path)
	}
	return ""
}

func TestWriteAllFixture(t *testing.T) {
	run := loadRun(t, "fixture")
	dir := outDir(t)
	paths, err := WriteAll(dir, []*results.Run{run}, Options{RunDirs: []string{filepath.Join("testdata", "fixture")}})
	if err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	var names []string
	for _, p := range paths {
		if filepath.Dir(p) != filepath.Join(dir, PlotsDirName) {
			t.Errorf("%s is not in %s", p, filepath.Join(dir, PlotsDirName))
		}
		names = append(names, filepath.Base(p))
	}
	w, h := PixelSize(defaultWidth, defaultHeight, defaultDPI)
	if w != 945 || h != 591 {
		t.Fatalf("16×10 cm at 150 dpi is %d×%d px, want 945×591", w, h)
	}

	// kernel at 8 tunnels: the median repetition with a trace; the
	// detector default must find gw2's core 5 there.
	want := []string{"throughput", "compare-t1-f1", "compare-t8-f1", "cpu-sweep-gw2", "cpu-sweep-gw1"}
	for _, glob := range []string{
		"cpu-gw2-kernel-t8-f1-rep?", "heatmap-gw2-kernel-t8-f1-rep?",
		"cpu-gw1-kernel-t8-f1-rep?", "heatmap-gw1-kernel-t8-f1-rep?",
		"cpu-gw2-kernel-t1-f1-rep0", // Fig. 5: one saturated core
		"cpu-gw2-kernel-threaded-t8-f1-rep?",
	} {
		m, _ := filepath.Glob(filepath.Join(dir, PlotsDirName, glob+".png"))
		if len(m) != 1 {
			t.Errorf("want one figure %s.png, got %v (all: %v)", glob, m, names)
			continue
		}
		want = append(want, strings.TrimSuffix(filepath.Base(m[0]), ".png"))
	}
	for _, n := range want {
		for _, ext := range []string{".png", ".svg"} {
			if !slices.Contains(names, n+ext) {
				t.Errorf("missing %s%s in %v", n, ext, names)
			}
		}
	}
	if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "wggo") && strings.HasPrefix(n, "cpu") }) {
		t.Errorf("a cpu figure for wggo, which has no trace: %v", names)
	}

	for _, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		switch {
		case base == "throughput":
			checkFigureFile(t, p, w, h, "wggo", "kernel", "kernel-threaded", "inline", "not run (see report):",
				"tunnels (1 TCP flow per tunnel)", "aggregate throughput (Gbit/s)", "95 % CI of the mean")
		case strings.HasPrefix(base, "compare-"):
			checkFigureFile(t, p, w, h, "wggo", "kernel-threaded", "aggregate throughput (Gbit/s)")
		case strings.HasPrefix(base, "cpu-sweep-"):
			checkFigureFile(t, p, w, h, "busiest core", "mean of all cores", "kernel", "kernel-threaded", "tunnels", "busy (% of a core)")
		case strings.HasPrefix(base, "cpu-gw2-kernel-t8"):
			checkFigureFile(t, p, w, h, "core", "CPU time (%)", "softirq", "system", "user", "saturated (≥90 % busy)", "core 5")
		case strings.HasPrefix(base, "cpu-gw1-kernel-t8"):
			txt := checkFigureFile(t, p, w, h, "CPU time (%)", "softirq")
			mustNotContain(t, p, txt, "saturated")
		case strings.HasPrefix(base, "heatmap-gw2-kernel-t8"):
			checkFigureFile(t, p, w, h, "time since the sampler started (s)", "core", "busy (% of the core)",
				"red frame: saturated (≥90 % busy) core 5", "warm-up ends")
		case strings.HasPrefix(base, "cpu-"), strings.HasPrefix(base, "heatmap-"):
			checkFigureFile(t, p, w, h)
		default:
			t.Errorf("unexpected figure %s", p)
		}
	}

	figs, err := ReadManifest(filepath.Join(dir, PlotsDirName))
	if err != nil {
		t.Fatal(err)
	}
	if len(figs)*2 != len(paths) {
		t.Errorf("manifest lists %d figures for %d files", len(figs), len(paths))
	}
	for _, f := range figs {
		if f.Caption == "" || len(f.Files) != 2 {
			t.Errorf("manifest entry %+v: want a caption and two files", f)
		}
	}
	if c := Caption(filepath.Join(dir, PlotsDirName, "throughput.png")); !strings.Contains(c, "95 % CI") {
		t.Errorf("throughput caption %q does not say what the error bars are", c)
	}
	if c := Caption(filepath.Join(t.TempDir(), "cpu-gw2-x.png")); c != "cpu gw2 x" {
		t.Errorf("caption without manifest = %q", c)
	}
}

func TestWriteAllLocalSharedCores(t *testing.T) {
	// A real local run: shared cores, one repetition, three series skipped.
	run := loadRun(t, "local-shared-cores")
	dir := outDir(t)
	paths, err := WriteAll(dir, []*results.Run{run}, Options{})
	if err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	slices.Sort(names)
	if want := []string{"compare-t1-f1.png", "compare-t1-f1.svg", "compare-t2-f1.png", "compare-t2-f1.svg", "throughput.png", "throughput.svg"}; !slices.Equal(names, want) {
		t.Fatalf("wrote %v, want %v", names, want)
	}
	checkFigureFile(t, filepath.Join(dir, PlotsDirName, "throughput.svg"), 0, 0,
		"plain", "wggo", "no error bar: 1 successful rep.", "kernel-threaded", "inline")
	if c := Caption(filepath.Join(dir, PlotsDirName, "throughput.svg")); !strings.Contains(c, "no error bars") {
		t.Errorf("caption %q does not say there are no error bars", c)
	}
}

func TestWriteAllBadInput(t *testing.T) {
	tests := []struct {
		name    string
		runs    []*results.Run
		opts    Options
		noData  bool
		wantErr string
	}{
		{name: "no runs", noData: true},
		{name: "run with no points", runs: []*results.Run{mkRun("e", nil)}, noData: true},
		{name: "all failed", runs: []*results.Run{mkRun("f", nil, pt("k", 1, 1, nan()), pt("k", 2, 1, nan(), nan()))}, noData: true},
		{name: "bad format", runs: []*results.Run{mkRun("e", nil, pt("k", 1, 1, 1))}, opts: Options{Formats: []string{"gif"}}, wantErr: `unknown format "gif"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			paths, err := WriteAll(dir, tt.runs, tt.opts)
			if err == nil {
				t.Fatalf("no error, wrote %v", paths)
			}
			if len(paths) != 0 {
				t.Errorf("wrote %v", paths)
			}
			if tt.noData != errors.Is(err, ErrNoData) {
				t.Errorf("err = %v; wraps ErrNoData: %v, want %v", err, errors.Is(err, ErrNoData), tt.noData)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}

	t.Run("single point single rep", func(t *testing.T) {
		dir := t.TempDir()
		paths, err := WriteAll(dir, []*results.Run{mkRun("one", nil, pt("k", 1, 1, 3), pt("w", 1, 1, 2))}, Options{Formats: []string{"png"}})
		if err != nil {
			t.Fatal(err)
		}
		// One point: no line to draw, the comparison says it all.
		if len(paths) != 1 || filepath.Base(paths[0]) != "compare-t1-f1.png" {
			t.Errorf("wrote %v, want only compare-t1-f1.png", paths)
		}
	})

	t.Run("corrupt cpu.csv does not stop the rest", func(t *testing.T) {
		runDir := t.TempDir()
		r := mkRun("c", nil, pt("k", 1, 1, 3, 3), pt("k", 2, 1, 5, 5))
		raw := filepath.Join(runDir, results.RawDir("k", 2, 1, 0))
		if err := os.MkdirAll(raw, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(raw, CPUFileName), []byte("host,t_seconds,core,user,system,softirq\ngw2,1,0,abc,1,1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths, err := WriteAll(runDir, []*results.Run{r}, Options{Formats: []string{"svg"}})
		if err == nil || !strings.Contains(err.Error(), "line 2, column user") {
			t.Errorf("err = %v, want the cpu.csv fault with its line", err)
		}
		if len(paths) != 1 || filepath.Base(paths[0]) != "throughput.svg" {
			t.Errorf("wrote %v, want throughput.svg despite the bad trace", paths)
		}
	})
}

func TestRenderBadInput(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, nil, "png", defaultWidth, defaultHeight, 150); err == nil {
		t.Error("nil plot rendered")
	}
	p, err := Throughput([]*results.Run{mkRun("x", nil, pt("k", 1, 1, 1))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Render(&buf, p, "bmp", defaultWidth, defaultHeight, 150); err == nil || !strings.Contains(err.Error(), "bmp") {
		t.Errorf("err = %v, want unknown format", err)
	}
	if err := Render(&buf, p, "png", 0, defaultHeight, 150); err == nil {
		t.Error("zero width rendered")
	}
	if err := Save(p, filepath.Join(t.TempDir(), "no", "such", "dir", "x.png"), Options{}); err == nil {
		t.Error("save into a missing folder succeeded")
	}
}

func TestWriteAllSeveralRuns(t *testing.T) {
	fix, local := loadRun(t, "fixture"), loadRun(t, "local-shared-cores")
	dir := outDir(t)
	paths, err := WriteAll(dir, []*results.Run{fix, local}, Options{
		RunLabels: []string{"cloudlab", "local"},
		Formats:   []string{"svg"},
		RunDirs:   []string{filepath.Join("testdata", "fixture"), filepath.Join("testdata", "local-shared-cores")},
	})
	if err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	for _, want := range []string{"throughput.svg", "compare-t1-f1.svg", "cloudlab-cpu-gw2-kernel-t1-f1-rep0.svg"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s in %v", want, names)
		}
	}
	// wggo ran in both: labelled by run; plain only locally: by name.
	checkFigureFile(t, filepath.Join(dir, PlotsDirName, "throughput.svg"), 0, 0,
		"cloudlab/wggo", "local/wggo", "plain", "cloudlab/kernel-threaded")
}

// TestModeMarks places the mode switches of the repetition a figure
// shows on each gateway's trace, and all of them, named by gateway, on
// the one host shown when the hosts share the machine's cores.
func TestModeMarks(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rep := func(i int, gw1Start time.Time) results.Repetition {
		return results.Repetition{Index: i,
			CPU: []results.HostCPU{{Host: "gw1", TraceStart: gw1Start}, {Host: "gw2", TraceStart: t0.Add(time.Second)}},
			Tunnels: []results.TunnelCounters{
				{Index: 0, Device: "wgbi0",
					GW1Mode: &results.TunnelMode{Mode: "hybrid", Changes: 2, Log: []results.ModeChange{
						{At: sec(4), To: "inline"}, {At: sec(2), To: "hybrid", Cores: "1"},
					}},
					GW2Mode: &results.TunnelMode{Mode: "hybrid", Changes: 1, Log: []results.ModeChange{{At: sec(3), To: "hybrid"}}}},
				{Index: 1, GW1Mode: &results.TunnelMode{Mode: "hybrid"}},
			}}
	}
	p := results.Point{Repetitions: []results.Repetition{rep(0, time.Time{}), rep(1, t0)}}
	for _, tc := range []struct {
		name   string
		rep    int
		hosts  []string
		shared bool
		want   map[string][]TimeMark
	}{
		{"per gateway, sorted by time", 1, []string{"gw1", "gw2"}, false, map[string][]TimeMark{
			"gw1": {{T: 2, Label: "wgbi0 → hybrid"}, {T: 4, Label: "wgbi0 → inline"}},
			"gw2": {{T: 2, Label: "wgbi0 → hybrid"}},
		}},
		{"shared cores: every gateway's on the one host shown", 1, []string{"gw1"}, true, map[string][]TimeMark{
			"gw1": {{T: 2, Label: "gw1 wgbi0 → hybrid"}, {T: 3, Label: "gw2 wgbi0 → hybrid"}, {T: 4, Label: "gw1 wgbi0 → inline"}},
		}},
		{"no trace start recorded: no marks there", 0, []string{"gw1", "gw2"}, false, map[string][]TimeMark{
			"gw2": {{T: 2, Label: "wgbi0 → hybrid"}},
		}},
		{"a repetition not in the point", 7, []string{"gw1"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := modeMarks(p, tc.rep, tc.hosts, tc.shared)
			if len(got) != len(tc.want) {
				t.Fatalf("marks %v, want %v", got, tc.want)
			}
			for h, want := range tc.want {
				if !slices.Equal(got[h], want) {
					t.Errorf("%s: marks %v, want %v", h, got[h], want)
				}
			}
		})
	}
}
