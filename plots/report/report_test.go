package report

import (
	"bytes"
	"encoding/base64"
	"html"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/plots"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// fixtureDir is the hand-shaped run folder of package plots.
var fixtureDir = filepath.Join("..", "testdata", "fixture")

// loadFixture opens the fixture run.
func loadFixture(t *testing.T) *results.Run {
	t.Helper()
	_, r, err := results.Open(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixtureFigures draws the fixture's figures into dir once per test.
func fixtureFigures(t *testing.T, dir string, run *results.Run) []string {
	t.Helper()
	paths, err := plots.WriteAll(dir, []*results.Run{run}, plots.Options{RunDirs: []string{fixtureDir}, Formats: []string{"png"}})
	if err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	return paths
}

// outDir is a temporary folder, or a kept one under WGB_PLOTS_KEEP.
func outDir(t *testing.T) string {
	t.Helper()
	keep := os.Getenv("WGB_PLOTS_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	d := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

var imgSrc = regexp.MustCompile(`<img src="([^"]*)"`)

// inlinedImages returns the decoded data URIs of the page's images, by
// MIME type.
func inlinedImages(t *testing.T, page string) (pngs [][]byte, svgs [][]byte) {
	t.Helper()
	for _, m := range imgSrc.FindAllStringSubmatch(page, -1) {
		src := html.UnescapeString(m[1])
		mime, b64, ok := strings.Cut(strings.TrimPrefix(src, "data:"), ";base64,")
		if !ok || !strings.HasPrefix(src, "data:") {
			t.Errorf("image source is not an inline data URI: %.80s", src)
			continue
		}
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Errorf("image data does not decode: %v", err)
			continue
		}
		switch mime {
		case "image/png":
			pngs = append(pngs, data)
		case "image/svg+xml":
			svgs = append(svgs, data)
		default:
			t.Errorf("image of type %q", mime)
		}
	}
	return pngs, svgs
}

func TestWriteFixture(t *testing.T) {
	run := loadFixture(t)
	dir := outDir(t)
	figs := fixtureFigures(t, dir, run)
	extra := Extra{
		Findings:    []string{"gw2: core 5 is a black hole: 93 % softirq while the host is 70 % idle"},
		Suggestions: []string{"Enable threaded NAPI: --set 'series[1].tuning.threaded_napi=true'"},
		RunDir:      "runs/20261121-143000-multi-tunnel",
		Generated:   time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC),
	}
	path, err := Write(dir, run, figs, extra)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if path != filepath.Join(dir, FileName) {
		t.Errorf("path = %s", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)

	for _, want := range []string{
		"<title>wgbench report: multi-tunnel</title>",
		"HPSR 2025 Fig. 8: aggregate throughput vs tunnels, one TCP flow per tunnel",
		// host facts
		"Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", "6.8.0-51-generic", "gw2.wgbench.cloudlab.us",
		// series tables: kernel-threaded at 8 tunnels lost one repetition
		"kernel-threaded", "tuning: threaded_napi", "26.89", "2 / 3", "rep 2 failed: 1 of 8 flows failed",
		"± 2.71", // kernel, 8 tunnels: CI half-width
		// skipped series and why
		"inline", "the inline engine is not built into this wgbench yet",
		// findings and suggestions, escaped
		"core 5 is a black hole", "Enable threaded NAPI: --set &#39;series[1].tuning.threaded_napi=true&#39;",
		// the scenario as run, and how to run it again
		"repetitions: 3", "wgbench run scenarios/multi-tunnel.yaml \\\n    --set testbed.driver=ssh \\\n",
		"--set &#39;sweep.tunnels=[1,2,4,8]&#39;", "wgbench report runs/20261121-143000-multi-tunnel",
		"shared cores</th><td>no",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "ZgotmplZ"} {
		if strings.Contains(page, bad) {
			t.Errorf("report contains %q: it must be self-contained and script-free", bad)
		}
	}

	// One inlined PNG per figure (the SVG twin is not inlined again).
	var wantFigs int
	for _, f := range figs {
		if filepath.Ext(f) == ".png" {
			wantFigs++
		}
	}
	pngs, svgs := inlinedImages(t, page)
	if len(pngs) != wantFigs || len(svgs) != 0 {
		t.Errorf("report inlines %d PNG and %d SVG images, want %d PNG", len(pngs), len(svgs), wantFigs)
	}
	for i, p := range pngs {
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			t.Errorf("inlined image %d: %v", i, err)
			continue
		}
		if img.Bounds().Dx() < 900 {
			t.Errorf("inlined image %d is %v", i, img.Bounds())
		}
	}
	// Figures come in groups, each its own grid; only the throughput
	// figure spans the page.
	for _, h := range []string{"<h3>Throughput</h3>", "<h3>CPU of the gateways against the sweep</h3>", "<h3>Per-core CPU of the gateways</h3>"} {
		if !strings.Contains(page, h) {
			t.Errorf("no figure group %s", h)
		}
	}
	if n := strings.Count(page, `class="wide"><img`); n != 1 || !strings.Contains(page, `id="fig-throughput" class="wide"`) {
		t.Errorf("%d wide figures, want the throughput figure only", n)
	}
	if n := strings.Count(page, "<figcaption>"); n != wantFigs {
		t.Errorf("%d captions for %d figures", n, wantFigs)
	}
	if !strings.Contains(page, "Per-core CPU of gw2") || !strings.Contains(page, "Red: saturated (≥90 % busy) core 5") {
		t.Error("the per-core figure's caption from the manifest is missing")
	}
}

func TestWriteEscapes(t *testing.T) {
	run := &results.Run{Schema: 1, Status: results.StatusFailed, Error: `iperf3 said <b>no</b> & "quit"`,
		Scenario: scenarios.Scenario{Name: `x"><script>alert(1)</script>`, Description: "<img src=x onerror=alert(1)>"},
		Hosts:    map[string]results.HostFacts{"gw1": {Machine: results.Machine{Kernel: "<i>6.1</i>"}}},
		Series:   []results.SeriesStatus{{Name: "<s>", Skipped: "because <reasons>"}},
	}
	dir := t.TempDir()
	path, err := Write(dir, run, nil, Extra{Findings: []string{"<script>bad()</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	for _, bad := range []string{"<script", "<img src=x", "<b>no</b>", "<i>6.1</i>", "<s>", "<reasons>"} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q in the report", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;bad()&lt;/script&gt;", "iperf3 said &lt;b&gt;no&lt;/b&gt; &amp; &#34;quit&#34;", "because &lt;reasons&gt;", "No figures.", "No series ran."} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestWriteFigures(t *testing.T) {
	run := loadFixture(t)
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 3))); err != nil {
		t.Fatal(err)
	}
	pngData := buf.Bytes()
	svgData := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	write := func(t *testing.T, dir, name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name      string
		files     map[string][]byte
		figures   []string
		wantErr   string
		wantPNG   int
		wantSVG   int
		wantNames []string
	}{
		{name: "png preferred over its svg twin", files: map[string][]byte{"a.png": pngData, "a.svg": svgData},
			figures: []string{"a.svg", "a.png"}, wantPNG: 1, wantNames: []string{"fig-a"}},
		{name: "svg alone is inlined", files: map[string][]byte{"b.svg": svgData},
			figures: []string{"b.svg"}, wantSVG: 1},
		{name: "relative to the report folder", files: map[string][]byte{"plots/c.png": pngData},
			figures: []string{"plots/c.png"}, wantPNG: 1},
		{name: "missing figure", figures: []string{"nope.png"}, wantErr: "nope.png"},
		{name: "not an image", files: map[string][]byte{"d.txt": []byte("x")}, figures: []string{"d.txt"}, wantErr: "only .png and .svg"},
		{name: "fake png", files: map[string][]byte{"e.png": []byte("GIF89a")}, figures: []string{"e.png"}, wantErr: "not a PNG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
				t.Fatal(err)
			}
			for n, d := range tt.files {
				write(t, dir, n, d)
			}
			var figs []string
			for _, f := range tt.figures {
				if tt.name == "relative to the report folder" {
					figs = append(figs, f) // resolved inside dir
				} else {
					figs = append(figs, filepath.Join(dir, f))
				}
			}
			path, err := Write(dir, run, figs, Extra{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if _, serr := os.Stat(filepath.Join(dir, FileName)); serr == nil {
					t.Error("a report was written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pngs, svgs := inlinedImages(t, string(data))
			if len(pngs) != tt.wantPNG || len(svgs) != tt.wantSVG {
				t.Errorf("inlined %d PNG, %d SVG; want %d, %d", len(pngs), len(svgs), tt.wantPNG, tt.wantSVG)
			}
			for _, n := range tt.wantNames {
				if !strings.Contains(string(data), `id="`+n+`"`) {
					t.Errorf("no figure %s", n)
				}
			}
		})
	}
}

func TestWriteBadInput(t *testing.T) {
	if _, err := Write(t.TempDir(), nil, nil, Extra{}); err == nil {
		t.Error("nil run: no error")
	}
	if _, err := Write("", &results.Run{}, nil, Extra{}); err == nil {
		t.Error("empty folder: no error")
	}
	// A run with nothing in it still gives a report that says so.
	dir := t.TempDir()
	path, err := Write(dir, &results.Run{Schema: 1, Status: results.StatusInterrupted, Error: "interrupted by Ctrl-C"}, nil, Extra{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unnamed scenario", "interrupted by Ctrl-C", "No series ran.", "No findings were recorded", "0 series ran"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	short := []string{"wgbench", "run", "a.yaml", "--set", "repetitions=1"}
	if got := commandLine(short); got != "wgbench run a.yaml --set repetitions=1" {
		t.Errorf("short command split: %q", got)
	}
	long := []string{"wgbench", "run", "scenarios/multi-tunnel.yaml", "--set", "sweep.tunnels=[1,2,4,8,16,32]",
		"--set", "traffic.duration=30s", "--set", "repetitions=5"}
	want := "wgbench run scenarios/multi-tunnel.yaml \\\n    --set 'sweep.tunnels=[1,2,4,8,16,32]' \\\n    --set traffic.duration=30s \\\n    --set repetitions=5"
	if got := commandLine(long); got != want {
		t.Errorf("commandLine =\n%s\nwant\n%s", got, want)
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"wgbench", "run", "a.yaml"}, "wgbench run a.yaml"},
		{[]string{"--set", "sweep.tunnels=[1,2]"}, "--set 'sweep.tunnels=[1,2]'"},
		{[]string{"--set", "traffic.duration=10s"}, "--set traffic.duration=10s"},
		{[]string{"it's"}, `'it'\''s'`},
		{[]string{"a b"}, "'a b'"},
		{[]string{""}, "''"},
		{[]string{"$(rm -rf /)"}, "'$(rm -rf /)'"},
	}
	for _, tt := range tests {
		if got := shellJoin(tt.args); got != tt.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// TestWriteMarksBaselines: an OpenVPN series is headed as a baseline, a
// WireGuard one is not.
func TestWriteMarksBaselines(t *testing.T) {
	pt := func(series string, dp scenarios.Datapath) results.Point {
		return results.Point{Series: series, Datapath: dp, Tunnels: 1, FlowsPerTunnel: 1, Complete: true, Summary: results.Summary{N: 1, MeanGbps: 1}}
	}
	run := &results.Run{Schema: 1, Status: results.StatusComplete, Scenario: scenarios.Scenario{Name: "vpn-compare"},
		Series: []results.SeriesStatus{{Name: "wggo", Datapath: scenarios.WireGuardGo}, {Name: "openvpn", Datapath: scenarios.OpenVPN}},
		Points: []results.Point{pt("wggo", scenarios.WireGuardGo), pt("openvpn", scenarios.OpenVPN)}}
	path, err := Write(t.TempDir(), run, nil, Extra{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	if n := strings.Count(page, "(baseline: not WireGuard"); n != 1 {
		t.Errorf("%d series headed as baselines, want 1 (openvpn)", n)
	}
	if !strings.Contains(page, "datapath openvpn (baseline") || strings.Contains(page, "datapath wggo (baseline") {
		t.Error("the baseline mark is on the wrong series")
	}
}
