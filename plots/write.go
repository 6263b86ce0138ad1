package plots

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/wgbench/wgbench/results"
)

// PlotsDirName is the folder WriteAll writes into, inside its dir.
const PlotsDirName = "plots"

// ManifestName is the file, beside the figures, where WriteAll records
// what each figure shows; Caption reads it.
const ManifestName = "figures.json"

// Figure is one figure WriteAll wrote, as recorded in the manifest.
type Figure struct {
	// Name is the file name without extension.
	Name string `json:"name"`
	// Kind is "throughput", "compare", "cpu-sweep", "cpu" or "heatmap".
	Kind string `json:"kind"`
	// Caption says what the figure shows, in one or two sentences.
	Caption string `json:"caption"`
	// Files are the files written, relative to the manifest.
	Files []string `json:"files"`
}

// Render writes p in format "png" or "svg" to w at size w × h and, for
// PNG, dpi. A panic inside gonum/plot is returned as an error.
func Render(out io.Writer, p *plot.Plot, format string, w, h vg.Length, dpi int) (err error) {
	if p == nil {
		return errors.New("render: nil plot")
	}
	if w <= 0 || h <= 0 || dpi <= 0 {
		return fmt.Errorf("render: bad size %v × %v at %d dpi", w, h, dpi)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("render %s: drawing failed: %v", format, r)
		}
	}()
	switch strings.ToLower(format) {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
		p.Draw(draw.New(c))
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(out); err != nil {
			return fmt.Errorf("render png: %w", err)
		}
	case "svg":
		c := vgsvg.New(w, h)
		p.Draw(draw.New(c))
		if _, err := c.WriteTo(out); err != nil {
			return fmt.Errorf("render svg: %w", err)
		}
	default:
		return fmt.Errorf("render: unknown format %q (want png or svg)", format)
	}
	return nil
}

// Save writes p to path, in the format its extension names (.png, .svg),
// at the size of opts. The file is written to a temporary name first, so
// a failed render leaves no half file.
func Save(p *plot.Plot, path string, opts Options) error {
	w, h, dpi := opts.size()
	return save(p, path, w, h, dpi)
}

func save(p *plot.Plot, path string, w, h vg.Length, dpi int) (err error) {
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := Render(tmp, p, format, w, h, dpi); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// writer writes figures into one folder and keeps the manifest.
type writer struct {
	dir     string
	formats []string
	opts    Options
	figs    []Figure
	paths   []string
	errs    []error
}

// add renders p in every format under name; w and h zero take the
// defaults. A figure that cannot be made (err wrapping ErrNoData) is left
// out quietly; other errors are collected.
func (wr *writer) add(name, kind, caption string, p *plot.Plot, err error, w, h vg.Length) {
	if err != nil {
		if !errors.Is(err, ErrNoData) {
			wr.errs = append(wr.errs, err)
		}
		return
	}
	dw, dh, dpi := wr.opts.size()
	if w <= 0 {
		w = dw
	}
	if h <= 0 {
		h = dh
	}
	fig := Figure{Name: name, Kind: kind, Caption: caption}
	for _, f := range wr.formats {
		file := name + "." + f
		path := filepath.Join(wr.dir, file)
		if err := save(p, path, w, h, dpi); err != nil {
			wr.errs = append(wr.errs, err)
			continue
		}
		fig.Files = append(fig.Files, file)
		wr.paths = append(wr.paths, path)
	}
	if len(fig.Files) > 0 {
		wr.figs = append(wr.figs, fig)
	}
}

// WriteAll writes every figure the runs support into dir/plots, in each
// of opts.Formats (PNG and SVG by default), and a manifest (figures.json)
// with a caption per figure; it returns the paths of the figure files.
//
// The figures are: throughput against the sweep (when it has two values
// or more), comparison bars at the points opts.ComparePoints names (by
// default the smallest and largest point two series measured), and, for
// runs whose folder (opts.RunDirs, or dir for a single run) holds cpu.csv
// traces, per-core bars and a core × time heatmap per gateway at the
// points opts.CPUFigures selects. On a testbed whose hosts share cores one
// host's figures stand for both.
//
// A figure the data does not support is left out. Other problems (an
// unreadable cpu.csv, a failed write) do not stop the others: WriteAll
// returns the paths written together with an error joining them. When no
// figure at all can be made it returns an error wrapping ErrNoData.
func WriteAll(dir string, runs []*results.Run, opts Options) ([]string, error) {
	if len(runs) == 0 || !slices.ContainsFunc(runs, func(r *results.Run) bool { return r != nil }) {
		return nil, fmt.Errorf("write figures: no run given: %w", ErrNoData)
	}
	formats, err := checkFormats(opts.Formats)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, PlotsDirName)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("write figures: %w", err)
	}
	wr := &writer{dir: out, formats: formats, opts: opts}
	ds := collect(runs, opts)
	proto := protocolName(runs)

	// Throughput against the sweep, when there is a sweep.
	axis := chooseAxis(ds, opts.XAxis, proto)
	xs := map[float64]bool{}
	for _, l := range ds.Lines {
		for _, s := range l.Points {
			if s.N > 0 {
				xs[axis.xOf(s)] = true
			}
		}
	}
	bars := errorBarsNote(ds, opts.ErrorBars)
	if len(xs) >= 2 {
		p, err := Throughput(runs, opts)
		wr.add("throughput", "throughput", fmt.Sprintf(
			"Aggregate throughput of each series against %s; points are means over the successful repetitions, %s.",
			axisNoun(axis), bars), p, err, 0, 0)
	}

	// Comparisons, per tunnels × flows; a run that sweeps packet size or
	// MTU has several points there, drawn by its own figures instead.
	for _, pt := range comparePoints(ds, opts.ComparePoints) {
		if sweepsSizeOrMTU(runs) {
			break
		}
		p, err := Compare(runs, pt.Tunnels, pt.FlowsPerTunnel, opts)
		wr.add(fmt.Sprintf("compare-t%d-f%d", pt.Tunnels, pt.FlowsPerTunnel), "compare", fmt.Sprintf(
			"Aggregate throughput of each series at %s × %s; %s.",
			plural(pt.Tunnels, "tunnel"), plural(pt.FlowsPerTunnel, "flow"), bars), p, err, 0, 0)
	}

	wr.costFigure(runs)
	wr.latencyFigures(runs, runDirsOf(runs, dir, opts))

	// Per-core figures.
	if opts.CPUFigures != CPUNone {
		labels := runLabels(runs, opts.RunLabels)
		for i, r := range runs {
			if r == nil {
				continue
			}
			runDir := ""
			switch {
			case i < len(opts.RunDirs):
				runDir = opts.RunDirs[i]
			case len(runs) == 1:
				runDir = dir
			}
			if runDir == "" {
				continue
			}
			prefix := ""
			if len(runs) > 1 {
				prefix = fileName(labels[i]) + "-"
			}
			wr.cpuFigures(r, runDir, prefix, labelIf(len(runs) > 1, labels[i]))
		}
	}

	if err := wr.writeManifest(); err != nil {
		wr.errs = append(wr.errs, err)
	}
	if len(wr.paths) == 0 && len(wr.errs) == 0 {
		return nil, fmt.Errorf("write figures of %s: no figure is supported by the data (no successful repetition)%s: %w",
			describeRuns(runs), skippedSuffix(ds), ErrNoData)
	}
	if len(wr.errs) > 0 {
		return wr.paths, fmt.Errorf("write figures: %w", errors.Join(wr.errs...))
	}
	return wr.paths, nil
}

// errorBarsNote says what the error bars of ds show, for captions.
func errorBarsNote(ds dataset, eb ErrorBars) string {
	if eb == NoErrorBars {
		return "without error bars"
	}
	some, none := false, false
	for _, l := range ds.Lines {
		for _, s := range l.Points {
			switch {
			case s.HasErr:
				some = true
			case s.N == 1:
				none = true
			}
		}
	}
	switch {
	case some && none:
		return fmt.Sprintf("error bars the %s (none where only one repetition succeeded)", eb)
	case some:
		return fmt.Sprintf("error bars the %s", eb)
	}
	return "no error bars: one successful repetition per point"
}

// labelIf returns s when cond holds, else "".
func labelIf(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// axisNoun says what the throughput figure's x axis counts.
func axisNoun(a axisChoice) string {
	switch a.kind {
	case XFlowsPerTunnel:
		return "the flows per tunnel"
	case XTotalFlows:
		return "the total number of flows"
	}
	return "the number of tunnels"
}

// checkFormats validates the formats WriteAll writes.
func checkFormats(fs []string) ([]string, error) {
	if len(fs) == 0 {
		return []string{"png", "svg"}, nil
	}
	var out []string
	for _, f := range fs {
		f = strings.ToLower(strings.TrimPrefix(f, "."))
		if f != "png" && f != "svg" {
			return nil, fmt.Errorf("write figures: unknown format %q (want png or svg)", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// comparePoints returns the points to draw comparisons at: the given ones,
// or the smallest and largest point with data from two series or more.
func comparePoints(ds dataset, given []Point) []Point {
	if len(given) > 0 {
		return given
	}
	count := map[Point]int{}
	for _, l := range ds.Lines {
		for _, s := range l.Points {
			if s.N > 0 {
				count[Point{s.Tunnels, s.Flows}]++
			}
		}
	}
	var pts []Point
	for p, n := range count {
		if n >= 2 {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	slices.SortFunc(pts, func(a, b Point) int {
		return cmp.Or(cmp.Compare(a.Tunnels*a.FlowsPerTunnel, b.Tunnels*b.FlowsPerTunnel), cmp.Compare(a.Tunnels, b.Tunnels))
	})
	if len(pts) == 1 {
		return pts
	}
	return []Point{pts[0], pts[len(pts)-1]}
}

// gatewayHosts are the hosts per-core figures are drawn for, receive side
// (where the black hole of the paper forms) first.
var gatewayHosts = []string{"gw2", "gw1"}

// cpuCand is a point of a run with a CPU trace, as a per-core figure
// would show it.
type cpuCand struct {
	p     results.Point
	rep   int
	cpu   CPUTable
	at    CPUPoint
	hosts []string
	hl    map[string][]int
	label string
	hot   bool
	// marks are each shown host's mode switches (modeMarks).
	marks map[string][]TimeMark
}

// cpuFigures writes the per-core figures of one run.
func (wr *writer) cpuFigures(r *results.Run, runDir, prefix, runLabel string) {
	bySeries, order := wr.cpuCandidates(r, runDir, runLabel)
	wr.cpuSweepFigures(r, bySeries, order, prefix)
	for _, s := range order {
		for _, c := range wr.chooseCPUPoints(bySeries[s]) {
			for _, h := range c.hosts {
				wr.perCoreFigures(c, h, prefix)
			}
		}
	}
}

// cpuCandidates reads the trace that stands for each point of r, by
// series in the run's order, with the cores to highlight per host.
func (wr *writer) cpuCandidates(r *results.Run, runDir, runLabel string) (map[string][]cpuCand, []string) {
	hl := wr.opts.Highlight
	if hl == nil {
		hl = DefaultHighlighter(r.Scenario.Probes.Saturation, r.Scenario.Probes.Persistence)
	}
	omit := r.Scenario.Traffic.Omit.Std().Seconds()
	bySeries := map[string][]cpuCand{}
	var order []string
	for _, p := range r.Points {
		rep, cpu, err := pickTrace(runDir, p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				wr.errs = append(wr.errs, err)
			}
			continue
		}
		c := cpuCand{p: p, rep: rep, cpu: cpu, hl: map[string][]int{}}
		c.at = CPUPoint{Run: runLabel, Series: p.Series, Tunnels: p.Tunnels, FlowsPerTunnel: p.FlowsPerTunnel,
			Rep: rep, SharedCores: r.Testbed.SharedCores}
		if maxT := maxTime(cpu); omit > 0 && maxT > omit*1.5 {
			c.at.From = omit
		}
		c.hosts = traceHosts(cpu, r.Testbed.SharedCores)
		c.marks = modeMarks(p, rep, c.hosts, r.Testbed.SharedCores)
		for _, h := range c.hosts {
			cores, label := hl(h, c.at, cpu)
			c.hl[h] = cores
			c.label = label
			if len(cores) > 0 {
				c.hot = true
			}
		}
		if _, ok := bySeries[p.Series]; !ok {
			order = append(order, p.Series)
		}
		bySeries[p.Series] = append(bySeries[p.Series], c)
	}
	return bySeries, order
}

// modeMarks returns, per host of hosts, the inline engine's mode
// switches in repetition rep of p as marks on that host's trace ("wgbi0 →
// hybrid"); when the hosts share the machine's cores, the one host shown
// gets every gateway's, named. A host whose trace start run.json does not
// record gets none.
func modeMarks(p results.Point, rep int, hosts []string, shared bool) map[string][]TimeMark {
	i := slices.IndexFunc(p.Repetitions, func(r results.Repetition) bool { return r.Index == rep })
	if i < 0 {
		return nil
	}
	r := p.Repetitions[i]
	out := map[string][]TimeMark{}
	for _, h := range hosts {
		j := slices.IndexFunc(r.CPU, func(hc results.HostCPU) bool { return hc.Host == h })
		if j < 0 || r.CPU[j].TraceStart.IsZero() {
			continue
		}
		start := r.CPU[j].TraceStart
		for _, tc := range r.Tunnels {
			name := tc.Device
			if name == "" {
				name = fmt.Sprintf("tunnel %d", tc.Index)
			}
			for _, gm := range []struct {
				gw string
				m  *results.TunnelMode
			}{{"gw1", tc.GW1Mode}, {"gw2", tc.GW2Mode}} {
				if gm.m == nil || (gm.gw != h && !shared) {
					continue
				}
				label := name
				if shared {
					label = gm.gw + " " + name
				}
				for _, c := range gm.m.Log {
					out[h] = append(out[h], TimeMark{T: c.At.Sub(start).Seconds(), Label: label + " → " + c.To})
				}
			}
		}
		slices.SortStableFunc(out[h], func(a, b TimeMark) int { return cmp.Compare(a.T, b.T) })
	}
	return out
}

// traceHosts returns the hosts of a trace to draw: the gateways, receive
// side first, else every host; one when the hosts share their cores.
func traceHosts(cpu CPUTable, sharedCores bool) []string {
	var hosts []string
	for _, h := range gatewayHosts {
		if len(cpu.Host(h)) > 0 {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = cpu.Hosts()
	}
	if sharedCores && len(hosts) > 1 {
		hosts = hosts[:1] // machine-wide: the hosts' figures are the same
	}
	return hosts
}

// cpuSweepFigures writes the companion of the throughput figure, CPU
// against the sweep, per gateway, when a series has two traced points.
func (wr *writer) cpuSweepFigures(r *results.Run, bySeries map[string][]cpuCand, order []string, prefix string) {
	var traces []CPUTrace
	multi := false
	hostSet := map[string]bool{}
	for _, s := range order {
		if len(bySeries[s]) >= 2 {
			multi = true
		}
		for _, c := range bySeries[s] {
			traces = append(traces, CPUTrace{At: c.at, CPU: c.cpu})
			for _, h := range c.hosts {
				hostSet[h] = true
			}
		}
	}
	if !multi {
		return
	}
	var hosts []string
	for _, h := range gatewayHosts {
		if hostSet[h] {
			hosts = append(hosts, h)
		}
	}
	if r.Testbed.SharedCores && len(hosts) > 1 {
		hosts = hosts[:1]
	}
	for _, h := range hosts {
		p, err := CPUSweep(traces, h, wr.opts)
		wr.add(prefix+"cpu-sweep-"+fileName(h), "cpu-sweep", fmt.Sprintf(
			"CPU of %s at every point with a trace: the busiest core (solid) and the mean of all cores (dashed), busy share after the warm-up. A busiest core near 100 %% while the mean stays low is a black hole.", h),
			p, err, 0, 0)
	}
}

// chooseCPUPoints picks the points of one series to draw per-core figures
// for: every one (CPUAll) or the hot ones, and always the largest.
func (wr *writer) chooseCPUPoints(cs []cpuCand) []cpuCand {
	var chosen []cpuCand
	for _, c := range cs {
		if wr.opts.CPUFigures == CPUAll || c.hot {
			chosen = append(chosen, c)
		}
	}
	largest := slices.MaxFunc(cs, func(a, b cpuCand) int {
		return cmp.Or(cmp.Compare(a.p.Tunnels*a.p.FlowsPerTunnel, b.p.Tunnels*b.p.FlowsPerTunnel), cmp.Compare(a.p.Tunnels, b.p.Tunnels))
	})
	if !slices.ContainsFunc(chosen, func(c cpuCand) bool {
		return c.p.Tunnels == largest.p.Tunnels && c.p.FlowsPerTunnel == largest.p.FlowsPerTunnel
	}) {
		chosen = append(chosen, largest)
	}
	return chosen
}

// perCoreFigures writes the per-core bars and the heatmap of host h at
// one point.
func (wr *writer) perCoreFigures(c cpuCand, h, prefix string) {
	base := fmt.Sprintf("%s-%s-t%d-f%d-rep%d", fileName(h), fileName(c.p.Series), c.p.Tunnels, c.p.FlowsPerTunnel, c.rep)
	hlNote := ""
	if n := len(c.hl[h]); n > 0 {
		hlNote = fmt.Sprintf(" Red: %s %s %s.", c.label, pluralWord(n, "core"), joinInts(c.hl[h]))
	}
	shared := ""
	if c.at.SharedCores {
		shared = " The testbed's hosts share this machine's cores, so the figures are machine-wide."
	}
	cores := len(c.cpu.Cores(h))
	w := vg.Length(0)
	if cores > 32 {
		dw, _, _ := wr.opts.size()
		w = dw * vg.Length(math.Min(2, float64(cores)/32))
	}
	p, err := CoreBars(c.cpu, h, c.at, c.hl[h], c.label, wr.opts)
	wr.add(prefix+"cpu-"+base, "cpu", fmt.Sprintf(
		"Per-core CPU of %s, %s (%s): user, system and softirq time stacked.%s%s",
		h, c.at, c.at.windowText(), hlNote, shared), p, err, w, 0)
	at := c.at
	at.Marks = c.marks[h]
	marks := ""
	if n := len(at.Marks); n > 0 {
		word := "switches"
		if n == 1 {
			word = "switch"
		}
		marks = fmt.Sprintf(" Dotted blue: %d mode %s of the inline engine's hybrid tunnels.", n, word)
	}
	p, err = Heatmap(c.cpu, h, at, c.hl[h], c.label, wr.opts)
	wr.add(prefix+"heatmap-"+base, "heatmap", fmt.Sprintf(
		"Busy share of every core of %s over time, %s; a black hole is one dark row while the others stay light.%s%s%s",
		h, c.at, hlNote, marks, shared), p, err, 0, 0)
}

// pickTrace returns the CPU trace of the repetition of p that best stands
// for it: the successful one closest to the median throughput that has a
// cpu.csv, else any repetition with one. The error wraps fs.ErrNotExist
// when no repetition has a trace.
func pickTrace(runDir string, p results.Point) (int, CPUTable, error) {
	reps := slices.Clone(p.Repetitions)
	var ok []float64
	for _, r := range reps {
		if r.OK() && finite(r.AggregateBps) {
			ok = append(ok, r.AggregateBps)
		}
	}
	med := 0.0
	if len(ok) > 0 {
		slices.Sort(ok)
		med = ok[len(ok)/2]
	}
	slices.SortStableFunc(reps, func(a, b results.Repetition) int {
		if a.OK() != b.OK() {
			if a.OK() {
				return -1
			}
			return 1
		}
		return cmp.Compare(math.Abs(a.AggregateBps-med), math.Abs(b.AggregateBps-med))
	})
	if len(reps) == 0 {
		reps = []results.Repetition{{Index: 0}}
	}
	for _, r := range reps {
		cpu, _, err := LoadCPU(runDir, p.Series, p.Tunnels, p.FlowsPerTunnel, r.Index)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		return r.Index, cpu, nil
	}
	return 0, nil, fmt.Errorf("no cpu trace for %s at t%d-f%d: %w", p.Series, p.Tunnels, p.FlowsPerTunnel, fs.ErrNotExist)
}

// maxTime is the last sample time of t.
func maxTime(t CPUTable) float64 {
	m := 0.0
	for _, s := range t {
		if finite(s.T) {
			m = math.Max(m, s.T)
		}
	}
	return m
}

// writeManifest writes figures.json.
func (wr *writer) writeManifest() error {
	if len(wr.figs) == 0 {
		return nil
	}
	data, err := json.MarshalIndent(wr.figs, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", ManifestName, err)
	}
	if err := os.WriteFile(filepath.Join(wr.dir, ManifestName), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", ManifestName, err)
	}
	return nil
}

// ReadManifest reads the figures.json WriteAll wrote in dir.
func ReadManifest(dir string) ([]Figure, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("read figure manifest: %w", err)
	}
	var figs []Figure
	if err := json.Unmarshal(data, &figs); err != nil {
		return nil, fmt.Errorf("read figure manifest %s: %w", filepath.Join(dir, ManifestName), err)
	}
	return figs, nil
}

// LookupFigure returns the manifest entry WriteAll recorded for the figure
// file at path (figures.json in the same folder), and whether there is one.
func LookupFigure(path string) (Figure, bool) {
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	figs, err := ReadManifest(filepath.Dir(path))
	if err != nil {
		return Figure{}, false
	}
	for _, f := range figs {
		if f.Name == name || slices.Contains(f.Files, base) {
			return f, true
		}
	}
	return Figure{}, false
}

// Caption returns the caption WriteAll recorded for the figure file at
// path, or a caption made from its name when there is no manifest entry.
func Caption(path string) string {
	if f, ok := LookupFigure(path); ok && f.Caption != "" {
		return f.Caption
	}
	base := filepath.Base(path)
	return strings.ReplaceAll(strings.TrimSuffix(base, filepath.Ext(base)), "-", " ")
}

// fileName reduces s to characters safe in a file name.
func fileName(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_':
			b.WriteRune(c)
			dash = false
		default:
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
		if b.Len() >= 64 {
			break
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "x"
	}
	return out
}

// pluralWord returns word with an s when n != 1.
func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// joinInts joins numbers with commas.
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// sweepsSizeOrMTU says whether a run has points at several packet sizes
// or MTUs.
func sweepsSizeOrMTU(runs []*results.Run) bool {
	for _, r := range runs {
		if r == nil {
			continue
		}
		for i := range r.Points {
			if r.Points[i].PacketSize > 0 || r.Points[i].MTU > 0 {
				return true
			}
		}
	}
	return false
}
