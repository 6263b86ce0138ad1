package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/plots/report"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner"
	"github.com/wgbench/wgbench/scenarios"
)

func newRunCmd() *cobra.Command {
	var (
		sets    []string
		out     string
		runsDir string
		resume  string
		tag     string
		ssh     sshFlags
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario on the testbed and write a results folder",
		Long: `run reads a scenario, provisions the testbed (network namespaces on this
machine by default: needs root), and measures every series at every sweep
point: datapath up, iperf3 pairs across the tunnels, counters read, datapath
down. Each repetition is appended to the run folder as soon as it ends, so
an interrupted run (Ctrl-C) keeps what it measured. Everything the run
created is removed at the end, also on Ctrl-C.

The run folder (runs/<time>-<scenario>/ unless --out) holds run.json (the
scenario as run, host facts, every flow of every repetition), points.csv
(mean, stddev and 95 % CI per series and point) and raw/ (iperf3 logs).

Exit status: 0 when the run completed, 1 when it failed, 130 when it was
interrupted.`,
		Example: `  # the paper's multi-tunnel figure, at the local (2-core) scale
  sudo wgbench run scenarios/multi-tunnel.yaml

  # the same file at CloudLab scale
  sudo wgbench run scenarios/multi-tunnel.yaml \
      --set 'sweep.tunnels=[1,2,4,8,16,32]' --set traffic.duration=30s --set repetitions=5

  # choose the results folder
  sudo wgbench run scenarios/single-tunnel.yaml --out /tmp/st1

  # continue an interrupted run where it stopped
  sudo wgbench run --resume runs/20261121-223000-multi-tunnel`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case resume != "" && len(args) > 0:
				return usageError{errors.New("--resume takes the scenario recorded in the run folder; name no scenario file")}
			case resume == "" && len(args) != 1:
				return usageError{fmt.Errorf("name one scenario file, e.g. scenarios/multi-tunnel.yaml (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			opts := runner.Options{Overrides: sets, Tag: tag}
			if resume != "" {
				if len(sets) > 0 {
					return usageError{errors.New("--set cannot change a resumed run: its scenario is fixed by what it measured")}
				}
				out, opts.Dir, opts.Resume = resume, resume, true
				fmt.Fprintf(w, "wgbench run --resume %s\n", resume)
			} else {
				sc, err := scenarios.Load(args[0], sets)
				if err != nil {
					return err
				}
				if out == "" {
					out = results.DefaultDir(runsDir, sc.Name, time.Now())
				}
				opts.Scenario, opts.ScenarioFile, opts.Dir = sc, args[0], out
				fmt.Fprintf(w, "wgbench run %s → %s\n", args[0], out)
				fmt.Fprintf(w, "%s\n", planLine(sc))
			}
			rep := progress.New(w, w == os.Stdout && progress.IsTerminal(os.Stdout))
			opts.Progress = rep
			opts.Verbose, _ = cmd.Flags().GetBool("verbose")
			ctx, cancel := context.WithCancelCause(cmd.Context())
			defer cancel(nil)
			if err := useSSH(w, &opts, resume, ssh, cancel); err != nil {
				rep.Close()
				return err
			}
			run, runErr := runner.Run(ctx, opts)
			rep.Close()
			if run != nil {
				printSummary(w, run)
				if len(run.Points) > 0 {
					// Figures and report are redrawn from the folder:
					// a failure here loses no data.
					if path, err := writeReport(out); err != nil {
						fmt.Fprintf(w, "warning: figures/report incomplete: %v\n", err)
					} else {
						fmt.Fprintf(w, "report:  %s\n", path)
					}
				}
				lines := suggestionLines(out, 3)
				if len(lines) > 0 {
					fmt.Fprintln(w, "\ntop suggestions (wgbench tune "+out+" for all, with commands):")
					for _, l := range lines {
						fmt.Fprintln(w, "  "+l)
					}
				}
				if len(run.Points) > 0 {
					top := ""
					if len(lines) > 0 {
						top = lines[0]
					}
					fmt.Fprintln(w, "\nsummary:")
					for _, l := range report.Verdict(run, top) {
						fmt.Fprintln(w, "  "+l)
					}
				}
				fmt.Fprintf(w, "\nresults: %s (%s)\n", out, run.Status)
			}
			if lost := lostHost(ctx, out); runErr != nil && lost != nil {
				return lost
			}
			if runErr != nil && errors.Is(cmd.Context().Err(), context.Canceled) {
				return fmt.Errorf("%w: the run folder keeps every completed repetition", errInterrupted)
			}
			return runErr
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a scenario value, e.g. --set traffic.duration=30s (repeatable)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "run folder to create (default runs/<time>-<scenario>)")
	cmd.Flags().StringVar(&runsDir, "runs-dir", "runs", "where default run folders are created")
	cmd.Flags().StringVar(&resume, "resume", "", "continue the interrupted run in this folder")
	cmd.Flags().StringVar(&tag, "tag", "", "force the local testbed's run tag (4 hex digits; tests)")
	cmd.Flags().MarkHidden("tag")
	cmd.Flags().StringVar(&ssh.inventory, "testbed", "", "run on the real hosts of this SSH inventory (YAML) instead of the scenario's testbed")
	cmd.Flags().BoolVar(&ssh.acceptNew, "accept-new-host-keys", false, "add unknown SSH host keys to known_hosts (printing each fingerprint); changed keys are always refused")
	return cmd
}

// planLine says how much a scenario will measure and roughly how long.
func planLine(sc *scenarios.Scenario) string {
	points := sc.Expand()
	per := sc.Traffic.Duration.Std() + sc.Traffic.Omit.Std() + 2*time.Second
	est := time.Duration(len(points)*sc.Repetitions) * per
	return fmt.Sprintf("%d series × %d points × %d repetitions of %s (+%s warm-up): about %s if every series runs",
		len(sc.Series), len(points)/max(1, len(sc.Series)), sc.Repetitions, sc.Traffic.Duration.Std(), sc.Traffic.Omit.Std(), est.Round(time.Second))
}

// printSummary prints one row per series and point.
func printSummary(w io.Writer, run *results.Run) {
	if len(run.Points) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	sizes, mtus := false, false
	for _, p := range run.Points {
		sizes, mtus = sizes || p.PacketSize > 0, mtus || p.MTU > 0
	}
	head := "series\tdatapath\ttunnels\tflows/tunnel\t"
	if mtus {
		head += "MTU\t"
	}
	if sizes {
		head += "size B\t"
	}
	head += "Gbit/s\t±95% CI\tstddev\t"
	if sizes {
		head += "Mpps\tloss %\t"
	}
	fmt.Fprintln(tw, head+"cycles/B\t±95% CI\tgw cores\tok reps\t")
	for _, p := range run.Points {
		cpb, ci, cores := "—", "—", "—"
		if c := p.Cost; c != nil {
			cpb, ci, cores = fmt.Sprintf("%.1f", c.CyclesPerByte), fmt.Sprintf("%.1f", c.CyclesPerByteCI95), fmt.Sprintf("%.2f", c.GWCores)
		}
		row := fmt.Sprintf("%s\t%s\t%d\t%d\t", p.Series, p.Datapath, p.Tunnels, p.FlowsPerTunnel)
		if mtus {
			row += fmt.Sprintf("%d\t", p.MTU)
		}
		if sizes {
			row += fmt.Sprintf("%d\t", p.PacketSize)
		}
		row += fmt.Sprintf("%.3f\t%.3f\t%.3f\t", p.Summary.MeanGbps, p.Summary.CI95Gbps, p.Summary.StddevGbps)
		if sizes {
			r := p.Row()
			row += fmt.Sprintf("%.4f\t%.2f\t", r.Mpps, r.LossPct)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%d/%d\t\n", row, cpb, ci, cores, p.Summary.N, len(p.Repetitions))
	}
	tw.Flush()
	if run.Clock != nil {
		how := "by core"
		if run.Testbed.SharedCores {
			how = "by thread, as the testbed's hosts share cores"
		}
		fmt.Fprintf(w, "cycles/B: gateway CPU cycles per payload byte, both gateways (%.2f GHz %s clock from %s; attributed %s)\n", run.Clock.Hz/1e9, run.Clock.Source, run.Clock.From, how)
	}
	if goals := results.HybridGoals(run); len(goals) > 0 {
		fmt.Fprintln(w, "\nhybrid mode's goals (alone: at least the faster of inline and wggo; with more tunnels: within 5 % of inline):")
		for _, g := range goals {
			fmt.Fprintf(w, "  %s\n", g)
		}
	}
	if rows := results.SummarizeFindings(run); len(rows) > 0 {
		fmt.Fprintln(w, "\nfindings (black-hole detector; -v shows each repetition's):")
		shared := false
		for _, f := range rows {
			fmt.Fprintf(w, "  %s on %s, %s, in %d/%d repetitions: %s\n", f.Kind, strings.Join(f.Hosts, "+"), cpuset.Set(f.Cores).Words(), f.Repetitions, f.Of, strings.Join(f.Points, " "))
			shared = shared || f.Shared
		}
		if shared {
			fmt.Fprintln(w, "  (the testbed's hosts share these cores: per-core figures are machine-wide)")
		}
	}
	for _, s := range run.Series {
		if s.Skipped != "" {
			fmt.Fprintf(w, "skipped %s: %s\n", s.Name, s.Skipped)
		}
	}
}

// exactArgs is cobra.ExactArgs with advice in the error.
func exactArgs(n int, advice string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d: %s", cmd.CommandPath(), n, len(args), advice)}
		}
		return nil
	}
}
