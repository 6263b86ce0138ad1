// Package report writes the HTML report of a wgbench run: one
// self-contained report.html (figures inlined as base64 data URIs, CSS
// inline, no script, no network) that says what was run, on what, what it
// measured, what the detector found and what to change, and how to run it
// again.
package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/plots"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// FileName is the name of the report Write creates.
const FileName = "report.html"

// Extra is what other stages add to a report.
type Extra struct {
	// Findings are what the black-hole detector and the checks found,
	// one sentence or short paragraph each.
	Findings []string
	// Suggestions are what the tuner proposes, most useful first.
	Suggestions []string
	// Notes are anything else worth a line (a figure that could not be
	// drawn, a warning of the run).
	Notes []string
	// RunDir is the run folder as the user names it, for the commands
	// that redraw the figures and the report; the report's folder when
	// empty.
	RunDir string
	// Generated is when the report was made; now when zero.
	Generated time.Time
}

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"gbit": func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"ghz":  func(hz float64) float64 { return hz / 1e9 },
}).Parse(pageTemplate))

// maxFigureBytes bounds a figure file inlined in the report.
const maxFigureBytes = 20 << 20

// Write writes dir/report.html for run, inlining the figures (PNG or SVG
// files; when both exist for one figure, the PNG is used) in the order
// given, and returns its path. Relative figure paths that do not exist as
// given are looked up inside dir. Every text from the run is escaped; the
// page needs no script and loads nothing. The file is written under a
// temporary name and renamed, so a failed Write leaves no half report.
func Write(dir string, run *results.Run, figures []string, extra Extra) (string, error) {
	if run == nil {
		return "", errors.New("write report: no run")
	}
	if dir == "" {
		return "", errors.New("write report: empty folder name")
	}
	figs, err := loadFigures(dir, figures)
	if err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	data := build(dir, run, figs, extra)
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("write report: render: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	path := filepath.Join(dir, FileName)
	tmp, err := os.CreateTemp(dir, ".report-*")
	if err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write report %s: %w", path, err)
	}
	return path, nil
}

// figure is one inlined figure.
type figure struct {
	Name    string
	Kind    string
	Caption string
	URI     template.URL
	Wide    bool
}

// figureGroup is a run of figures of related kinds, laid out together.
type figureGroup struct {
	Title   string
	Figures []figure
}

// groupTitles names the figure groups by figure kind.
var groupTitles = map[string]string{
	"throughput":  "Throughput",
	"compare":     "Throughput",
	"cpu-sweep":   "CPU of the gateways against the sweep",
	"cpu":         "Per-core CPU of the gateways",
	"heatmap":     "Per-core CPU of the gateways",
	"cost":        "Cost per byte",
	"latency":     "Latency under load",
	"packet-size": "Throughput and packet rate per packet size (RFC 2544)",
	"mtu":         "Throughput and loss per MTU",
}

// groupFigures gathers figures by group, groups in order of first
// appearance, each group its own grid so that the per-core bars and the
// heatmap of one host and point share a row. The throughput figure spans
// the page.
func groupFigures(figs []figure) []figureGroup {
	var groups []figureGroup
	index := map[string]int{}
	for _, f := range figs {
		title, ok := groupTitles[f.Kind]
		if !ok {
			title = "Other figures"
		}
		f.Wide = f.Kind == "throughput"
		i, ok := index[title]
		if !ok {
			i = len(groups)
			index[title] = i
			groups = append(groups, figureGroup{Title: title})
		}
		groups[i].Figures = append(groups[i].Figures, f)
	}
	return groups
}

// loadFigures reads the figure files, one per figure name, PNG preferred.
func loadFigures(dir string, paths []string) ([]figure, error) {
	type pick struct {
		path, ext string
	}
	var order []string
	chosen := map[string]pick{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			if _, err := os.Stat(p); err != nil {
				if alt := filepath.Join(dir, p); fileExists(alt) {
					p = alt
				}
			}
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".png" && ext != ".svg" {
			return nil, fmt.Errorf("figure %s: only .png and .svg figures can be inlined", p)
		}
		key := strings.TrimSuffix(p, filepath.Ext(p))
		old, seen := chosen[key]
		if !seen {
			order = append(order, key)
		}
		if !seen || (old.ext == ".svg" && ext == ".png") {
			chosen[key] = pick{path: p, ext: ext}
		}
	}
	figs := make([]figure, 0, len(order))
	for _, key := range order {
		c := chosen[key]
		info, err := os.Stat(c.path)
		if err != nil {
			return nil, fmt.Errorf("figure: %w", err)
		}
		if info.Size() > maxFigureBytes {
			return nil, fmt.Errorf("figure %s: %d bytes is too large to inline (limit %d)", c.path, info.Size(), maxFigureBytes)
		}
		data, err := os.ReadFile(c.path)
		if err != nil {
			return nil, fmt.Errorf("figure: %w", err)
		}
		mime := "image/png"
		if c.ext == ".svg" {
			mime = "image/svg+xml"
		} else if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			return nil, fmt.Errorf("figure %s: not a PNG file", c.path)
		}
		meta, _ := plots.LookupFigure(c.path)
		figs = append(figs, figure{
			Name:    filepath.Base(key),
			Kind:    meta.Kind,
			Caption: plots.Caption(c.path),
			// The data is ours, base64 encoded: it cannot break out of
			// the attribute.
			URI: template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)),
		})
	}
	return figs, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pageData is what the template shows.
type pageData struct {
	Title       string
	Run         *results.Run
	Duration    string
	Started     string
	Finished    string
	Generated   string
	Overview    []string
	Series      []seriesTable
	Skipped     []results.SeriesStatus
	Figures     []figureGroup
	Findings    []string
	FindingRows []findingRow
	Suggestions []string
	Verdict     []string
	Notes       []string
	Hosts       []hostRow
	Addressing  [][2]string
	SharedNote  string
	ScenarioSrc string
	ScenarioFmt string
	Commands    []string
	ExactFile   string
	ExactRerun  string
}

// seriesTable is one series' rows.
type seriesTable struct {
	Name     string
	Datapath string
	// Baseline says the series is another tunnel (OpenVPN, IPsec) that
	// WireGuard is compared with; the tuner gives it no advice.
	Baseline bool
	Tuning   string
	Rows     []pointRow
}

// findingRow is one row of the findings table.
type findingRow struct {
	Kind, Hosts, Cores, Points, Reps, Evidence string
}

// pointRow is one point of a series.
type pointRow struct {
	Tunnels, Flows, TotalFlows int
	Mean, CI, Stddev, Min, Max string
	// CyclesPerByte and GWCores are the point's cost ("—" without one).
	CyclesPerByte, GWCores string
	OK, Total              int
	Failed                 bool
	Notes                  []string
}

// hostRow is one host's facts.
type hostRow struct {
	Role string
	results.HostFacts
}

// roleOrder is the order hosts are listed in.
var roleOrder = []string{"source", "gw1", "gw2", "drain", "controller"}

// build gathers what the report page shows of run r, drawn from dir.
func build(dir string, r *results.Run, figs []figure, extra Extra) pageData {
	d := pageData{Run: r, Figures: groupFigures(figs), Findings: extra.Findings, Notes: extra.Notes}
	name := r.Scenario.Name
	if name == "" {
		name = "unnamed scenario"
	}
	d.header(r, name, extra)
	ran, failedReps, totalReps := d.seriesTables(r)
	d.overview(r, ran, failedReps, totalReps)
	if len(figs) == 0 {
		d.Notes = append(d.Notes, "No figure was given for this report: nothing the data supports, or the figures were not drawn (run wgbench plot on the run folder).")
	}
	d.testbed(r)
	d.scenarioSource(r)
	runDir := extra.RunDir
	if runDir == "" {
		runDir = dir
	}
	d.rerun(r, name, runDir)
	return d
}

// header fills the title, the times, the verdict and the findings table.
func (d *pageData) header(r *results.Run, name string, extra Extra) {
	for _, s := range extra.Suggestions {
		d.Suggestions = append(d.Suggestions, stripNumber(s))
	}
	top := ""
	if len(d.Suggestions) > 0 {
		top = d.Suggestions[0]
	}
	d.Verdict = Verdict(r, top)
	for _, f := range results.SummarizeFindings(r) {
		d.FindingRows = append(d.FindingRows, findingRow{
			Kind: f.Kind, Hosts: strings.Join(f.Hosts, ", "), Cores: strings.TrimPrefix(strings.TrimPrefix(cpuset.Set(f.Cores).Words(), "cores "), "core "),
			Points: strings.Join(f.Points, "; "), Reps: fmt.Sprintf("%d / %d", f.Repetitions, f.Of), Evidence: f.Evidence,
		})
	}
	d.Title = "wgbench report: " + name
	d.Started = fmtTime(r.Started)
	if r.Finished != nil {
		d.Finished = fmtTime(*r.Finished)
		if !r.Started.IsZero() && r.Finished.After(r.Started) {
			d.Duration = r.Finished.Sub(r.Started).Round(time.Second).String()
		}
	}
	gen := extra.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	d.Generated = fmtTime(gen)
}

// seriesTables fills one table per series that ran and the list of skipped
// series; it returns how many series ran, and how many repetitions failed
// of how many.
func (d *pageData) seriesTables(r *results.Run) (ran, failedReps, totalReps int) {
	tuning := map[string]scenarios.Tuning{}
	for _, s := range r.Scenario.Series {
		tuning[s.Name] = s.Tuning
	}
	for _, name := range seriesNames(r) {
		if st, ok := status(r, name); ok && st.Skipped != "" {
			d.Skipped = append(d.Skipped, st)
			continue
		}
		tab := seriesTable{Name: name, Tuning: tuning[name].Summary()}
		for _, p := range r.Points {
			if p.Series != name {
				continue
			}
			if tab.Datapath == "" {
				tab.Datapath = string(p.Datapath)
			}
			row := pointRowOf(p)
			failedReps += row.Total - row.OK
			totalReps += row.Total
			tab.Rows = append(tab.Rows, row)
		}
		if st, ok := status(r, name); ok && tab.Datapath == "" {
			tab.Datapath = string(st.Datapath)
		}
		tab.Baseline = slices.Contains(scenarios.Baselines, scenarios.Datapath(tab.Datapath))
		slices.SortStableFunc(tab.Rows, func(a, b pointRow) int {
			if a.Tunnels != b.Tunnels {
				return a.Tunnels - b.Tunnels
			}
			return a.Flows - b.Flows
		})
		if len(tab.Rows) > 0 {
			ran++
		}
		d.Series = append(d.Series, tab)
	}
	return ran, failedReps, totalReps
}

// overview fills the sentences that sum up what ran and with what traffic.
func (d *pageData) overview(r *results.Run, ran, failedReps, totalReps int) {
	d.Overview = append(d.Overview,
		fmt.Sprintf("%s ran, %s skipped; %s measured with %s (%s failed).",
			count(ran, "series", "series"), count(len(d.Skipped), "series", "series"),
			count(len(r.Points), "point", "points"), count(totalReps, "repetition", "repetitions"), count(failedReps, "repetition", "repetitions")))
	if r.Scenario.Traffic.Tool != "" {
		d.Overview = append(d.Overview, fmt.Sprintf("Traffic: %s %s, %s per repetition (%s warm-up left out), %s per point.",
			r.Scenario.Traffic.Tool, strings.ToUpper(string(r.Scenario.Traffic.Protocol)),
			r.Scenario.Traffic.Duration, r.Scenario.Traffic.Omit, count(r.Scenario.Repetitions, "repetition", "repetitions")))
	}
}

// testbed fills the testbed note, its addressing and the hosts, in role
// order and then any other roles by name.
func (d *pageData) testbed(r *results.Run) {
	if r.Testbed.SharedCores {
		d.SharedNote = "The hosts of this testbed share one machine's cores (the local testbed): per-core CPU figures are machine-wide and mix the four hosts, and throughput is bounded by what one machine can do for all of them. Compare datapaths with each other here; absolute numbers need separate machines (the ssh testbed)."
	}
	for _, k := range slices.Sorted(maps.Keys(r.Testbed.Addressing)) {
		d.Addressing = append(d.Addressing, [2]string{k, r.Testbed.Addressing[k]})
	}
	for _, role := range roleOrder {
		if f, ok := r.Hosts[role]; ok {
			d.Hosts = append(d.Hosts, hostRow{Role: role, HostFacts: f})
		}
	}
	for _, role := range slices.Sorted(maps.Keys(r.Hosts)) {
		if !slices.Contains(roleOrder, role) {
			d.Hosts = append(d.Hosts, hostRow{Role: role, HostFacts: r.Hosts[role]})
		}
	}
}

// scenarioSource fills the scenario as run, as YAML or else as JSON.
func (d *pageData) scenarioSource(r *results.Run) {
	if y, err := r.Scenario.YAML(); err == nil {
		d.ScenarioSrc, d.ScenarioFmt = string(y), "YAML"
	} else if j, err := json.MarshalIndent(r.Scenario, "", "  "); err == nil {
		d.ScenarioSrc, d.ScenarioFmt = string(j), "JSON"
	}
}

// rerun fills the commands that run the scenario again and redraw the
// report from runDir.
func (d *pageData) rerun(r *results.Run, name, runDir string) {
	if r.ScenarioFile != "" {
		args := []string{"wgbench", "run", r.ScenarioFile}
		for _, o := range r.Overrides {
			args = append(args, "--set", o)
		}
		d.Commands = append(d.Commands, commandLine(args))
	}
	safe := fileSafe(name)
	d.ExactFile = safe + ".yaml"
	d.ExactRerun = shellJoin([]string{"wgbench", "run", d.ExactFile})
	d.Commands = append(d.Commands,
		shellJoin([]string{"wgbench", "plot", runDir}),
		shellJoin([]string{"wgbench", "report", runDir}))
}

// pointRowOf turns a point into a table row.
func pointRowOf(p results.Point) pointRow {
	s := p.Summary
	if s.N == 0 || !finite(s.MeanGbps) || !finite(s.StddevGbps) || !finite(s.CI95Gbps) {
		cp := p
		cp.Resummarize()
		s = cp.Summary
	}
	row := pointRow{Tunnels: p.Tunnels, Flows: p.FlowsPerTunnel, TotalFlows: p.Tunnels * p.FlowsPerTunnel,
		OK: p.OKRepetitions(), Total: len(p.Repetitions)}
	if row.Total == 0 && s.N > 0 { // summary without repetitions
		row.OK, row.Total = s.N, s.N
	}
	if s.N == 0 || !finite(s.MeanGbps) {
		row.Failed = true
		row.Mean, row.CI, row.Stddev, row.Min, row.Max = "—", "—", "—", "—", "—"
	} else {
		row.Mean = fmt.Sprintf("%.2f", s.MeanGbps)
		row.Min, row.Max = fmt.Sprintf("%.2f", s.MinGbps), fmt.Sprintf("%.2f", s.MaxGbps)
		if s.N >= 2 {
			row.CI = fmt.Sprintf("± %.2f", s.CI95Gbps)
			row.Stddev = fmt.Sprintf("%.2f", s.StddevGbps)
		} else {
			row.CI, row.Stddev = "n/a (1 rep.)", "n/a"
		}
	}
	row.CyclesPerByte, row.GWCores = "—", "—"
	if c := p.Cost; c != nil && finite(c.CyclesPerByte) {
		row.CyclesPerByte = fmt.Sprintf("%.1f", c.CyclesPerByte)
		if c.N >= 2 {
			row.CyclesPerByte += fmt.Sprintf(" ± %.1f", c.CyclesPerByteCI95)
		}
		row.GWCores = fmt.Sprintf("%.2f", c.GWCores)
	}
	row.Notes = append(row.Notes, p.Notes...)
	if !p.Complete {
		row.Notes = append(row.Notes, "incomplete: not every repetition was attempted")
	}
	row.Notes = append(row.Notes, modeNotes(p)...)
	seen := map[string]bool{}
	for _, rep := range p.Repetitions {
		if rep.Error != "" && !seen[rep.Error] {
			seen[rep.Error] = true
			row.Notes = append(row.Notes, fmt.Sprintf("rep %d failed: %s", rep.Index, rep.Error))
		}
	}
	return row
}

// modeNotes say how often the point's hybrid tunnels switched mode, per
// repetition and gateway, with the first switches' times (inline engine
// in hybrid mode only; nothing for other points).
func modeNotes(p results.Point) []string {
	var notes []string
	for _, rep := range p.Repetitions {
		for _, tc := range rep.Tunnels {
			for _, gw := range []struct {
				name string
				m    *results.TunnelMode
			}{{"gw1", tc.GW1Mode}, {"gw2", tc.GW2Mode}} {
				if gw.m == nil || gw.m.Mode != "hybrid" {
					continue
				}
				var sw []string
				for _, c := range gw.m.Log[:min(len(gw.m.Log), 4)] {
					to := c.To
					if c.Cores != "" {
						to += " (cores " + c.Cores + ")"
					}
					sw = append(sw, fmt.Sprintf("%s → %s", c.At.Format("15:04:05.000"), to))
				}
				n := fmt.Sprintf("rep %d, %s %s: %s, ended %s", rep.Index, gw.name, tc.Device,
					count(int(gw.m.Changes), "mode switch", "mode switches"), gw.m.Active)
				if len(sw) > 0 {
					n += ": " + strings.Join(sw, ", ")
					if len(gw.m.Log) > len(sw) {
						n += ", …"
					}
				}
				notes = append(notes, n)
			}
		}
	}
	return notes
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// seriesNames lists the series of r in scenario order, then any only the
// points name.
func seriesNames(r *results.Run) []string {
	var names []string
	for _, s := range r.Series {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	for _, p := range r.Points {
		if !slices.Contains(names, p.Series) {
			names = append(names, p.Series)
		}
	}
	return names
}

// status returns the SeriesStatus of name.
func status(r *results.Run, name string) (results.SeriesStatus, bool) {
	for _, s := range r.Series {
		if s.Name == name {
			return s, true
		}
	}
	return results.SeriesStatus{}, false
}

func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// shellSafe matches words that need no quoting in a POSIX shell.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,@%+-]+$`)

// shellJoin joins args into a command line a POSIX shell reads back as
// the same words.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if shellSafe.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// commandLine is shellJoin, with each --set on a line of its own when the
// command is long, so it reads and copies well.
func commandLine(args []string) string {
	one := shellJoin(args)
	if len(one) <= 90 {
		return one
	}
	var lines []string
	start := 0
	for i := 0; i < len(args); i++ {
		if args[i] == "--set" && i > start {
			lines = append(lines, shellJoin(args[start:i]))
			start = i
			i++ // the value goes with its flag
		}
	}
	lines = append(lines, shellJoin(args[start:]))
	return strings.Join(lines, " \\\n    ")
}

// fileSafe reduces s to a file name.
func fileSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "scenario"
	}
	return out
}
