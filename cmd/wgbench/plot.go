package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/plots"
	"github.com/wgbench/wgbench/plots/report"
	"github.com/wgbench/wgbench/probes/analyze"
	"github.com/wgbench/wgbench/probes/blackhole"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/tuner"
)

func newPlotCmd() *cobra.Command {
	var (
		out    string
		stddev bool
	)
	cmd := &cobra.Command{
		Use:   "plot RUNDIR...",
		Short: "Draw a run's figures (PNG and SVG); several runs combine into one figure",
		Long: `plot writes into RUNDIR/plots (or --out) the figures the data supports:
throughput against tunnels or flows with one line per series and error bars
(95 % CI, or the standard deviation with --stddev), comparison bars at the
smallest and largest point, and per gateway the per-core CPU bars and the
core × time heatmap, black-hole cores highlighted. wgbench run draws them at
the end of every run.`,
		Example: `  wgbench plot runs/20261121-223000-multi-tunnel
  # two runs in one figure
  wgbench plot runs/a runs/b --out /tmp/ab`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("name at least one run folder, e.g. wgbench plot runs/<run>")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := openRuns(args)
			if err != nil {
				return err
			}
			dir := out
			if dir == "" {
				dir = args[0]
			}
			opts := plots.Options{RunDirs: args}
			if stddev {
				opts.ErrorBars = plots.Stddev
			}
			paths, err := plots.WriteAll(dir, runs, opts)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "folder to write the figures into (default the first run folder)")
	cmd.Flags().BoolVar(&stddev, "stddev", false, "error bars show the standard deviation instead of the 95 % CI")
	return cmd
}

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUNDIR",
		Short: "Write a self-contained report.html for a run (figures inlined, no network needed)",
		Example: `  wgbench report runs/20261121-223000-multi-tunnel
  xdg-open runs/20261121-223000-multi-tunnel/report.html`,
		Args: exactArgs(1, "name one run folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := writeReport(args[0])
			if path != "" {
				fmt.Fprintln(cmd.OutOrStdout(), path)
			}
			return err
		},
	}
}

// writeReport draws a run's figures and writes its report. A figure that
// cannot be drawn does not stop the report.
func writeReport(dir string) (string, error) {
	_, run, err := results.Open(dir)
	if err != nil {
		return "", err
	}
	figs, figErr := plots.WriteAll(dir, []*results.Run{run}, plots.Options{RunDirs: []string{dir}})
	extra := report.Extra{RunDir: dir, Suggestions: suggestionLines(dir, 0)}
	if figErr != nil {
		extra.Notes = append(extra.Notes, "some figures could not be drawn: "+figErr.Error())
	}
	path, err := report.Write(dir, run, figs, extra)
	return path, err
}

// suggestionLines asks the tuner about a run folder: the top n
// suggestions (all with n == 0), one line each. A tuner failure is a
// line too: the report still gets written.
func suggestionLines(dir string, n int) []string {
	run, hosts, err := tuner.LoadRun(dir)
	if err != nil {
		return []string{"the tuner could not read this run: " + err.Error()}
	}
	s := tuner.Suggest(hosts, run)
	if n == 0 {
		n = len(s)
	}
	return tuner.TopLines(s, n)
}

func openRuns(dirs []string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, d := range dirs {
		_, r, err := results.Open(d)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func newAnalyzeCmd() *cobra.Command {
	var (
		format string
		probe  scenarios.Probes
	)
	cmd := &cobra.Command{
		Use:   "analyze RUNDIR",
		Short: "Re-run the black-hole detector on a run's stored CPU samples",
		Long: `analyze reads the CPU traces a run stored for each gateway and repetition
and runs the black-hole detector again, with the run's thresholds or the
ones given here, so a run can be judged again without measuring it again.
It changes nothing in the run folder.`,
		Example: `  wgbench analyze runs/20261121-223000-multi-tunnel
  wgbench analyze runs/<run> --saturation 80 --persistence 0.5 --format json`,
		Args: exactArgs(1, "name one run folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format %q: choose text or json", format)}
			}
			_, run, err := results.Open(args[0])
			if err != nil {
				return err
			}
			p := run.Scenario.Probes
			for name, v := range map[string]*float64{"saturation": &probe.Saturation, "persistence": &probe.Persistence} {
				if cmd.Flags().Changed(name) {
					*pick(name, &p) = *v
				}
			}
			if cmd.Flags().Changed("headroom") {
				p.Headroom = probe.Headroom
			}
			th := analyze.Thresholds(p)
			if err := th.Validate(); err != nil {
				return usageError{err}
			}
			reps, err := reanalyze(args[0], run, th)
			if format == "json" {
				if jerr := writeJSON(cmd, reps); jerr != nil {
					return jerr
				}
				return err
			}
			printAnalysis(cmd.OutOrStdout(), reps)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().Float64Var(&probe.Saturation, "saturation", 90, "busy percentage from which a core is saturated")
	cmd.Flags().Float64Var(&probe.Persistence, "persistence", 0.6, "share of the window a core must be saturated")
	cmd.Flags().Float64Var(&probe.Headroom, "headroom", 0.25, "idle share the gateway needs for a black hole")
	return cmd
}

func pick(name string, p *scenarios.Probes) *float64 {
	if name == "saturation" {
		return &p.Saturation
	}
	return &p.Persistence
}

// analyzedRep is one repetition's analysis.
type analyzedRep struct {
	Series         string            `json:"series"`
	Tunnels        int               `json:"tunnels"`
	FlowsPerTunnel int               `json:"flows_per_tunnel"`
	Repetition     int               `json:"repetition"`
	CPU            []results.HostCPU `json:"cpu"`
	Findings       []results.Finding `json:"findings"`
}

func reanalyze(dir string, run *results.Run, th blackhole.Thresholds) ([]analyzedRep, error) {
	sc := run.Scenario
	w := analyze.Window{From: sc.Traffic.Omit.Std().Seconds(), To: (sc.Traffic.Omit.Std() + sc.Traffic.Duration.Std()).Seconds()}
	var out []analyzedRep
	var errs []error
	for _, p := range run.Points {
		for _, rp := range p.Repetitions {
			a := analyzedRep{Series: p.Series, Tunnels: p.Tunnels, FlowsPerTunnel: p.FlowsPerTunnel, Repetition: rp.Index + 1, Findings: []results.Finding{}}
			raw := filepath.Join(dir, results.RawDir(p.Series, p.Tunnels, p.FlowsPerTunnel, rp.Index))
			for _, role := range []string{"gw1", "gw2"} {
				tr, err := analyze.ReadTrace(filepath.Join(raw, analyze.TraceFile(role)))
				if err != nil {
					errs = append(errs, fmt.Errorf("%s tunnels=%d rep %d: %w", p.Series, p.Tunnels, rp.Index+1, err))
					continue
				}
				cpu, fs, err := analyze.Host(tr, role, w, th, p.Tunnels)
				if err != nil {
					errs = append(errs, err)
				}
				a.CPU = append(a.CPU, cpu)
				a.Findings = append(a.Findings, fs...)
			}
			out = append(out, a)
		}
	}
	return out, errors.Join(errs...)
}

func printAnalysis(w io.Writer, reps []analyzedRep) {
	for _, a := range reps {
		head := fmt.Sprintf("[%s tunnels=%d flows/tunnel=%d rep %d]", a.Series, a.Tunnels, a.FlowsPerTunnel, a.Repetition)
		if len(a.Findings) == 0 {
			fmt.Fprintf(w, "%s no finding\n", head)
		}
		for _, f := range a.Findings {
			fmt.Fprintf(w, "%s %s\n", head, f.Summary)
		}
	}
}
