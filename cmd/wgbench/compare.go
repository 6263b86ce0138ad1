package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/results/paper"
)

func newCompareCmd() *cobra.Command {
	var (
		withPaper bool
		tolerance string
		format    string
		figure    string
	)
	cmd := &cobra.Command{
		Use:   "compare A B | compare --paper RUNDIR",
		Short: "Compare two runs point by point (and fail on a regression), or a run with the paper",
		Long: `compare A B puts every point the two run folders share side by side: the
mean ± 95 % CI of each, the difference B − A with Welch's 95 % confidence
interval, the relative change and the cost per byte. A point of B is
slower when it lost more than --tolerance of A's mean and the interval
leaves out zero; compare then exits with status 1, so it can gate CI.
A figure overlays the throughput of both runs (default
B/plots/compare-runs.png; --figure - for none).

compare --paper reads a run folder and prints, for each figure of the HPSR
2025 paper that the run's scenario reproduces (scenarios/cloudlab/*.yaml,
and the local catalogue where the series match), the measured mean ± 95 %
CI beside the published value of every point both have, with their ratio,
then the ratios the paper states between series (+45 %, 2x, 18x, …) as
measured in the run.

Published values come from results/paper/hpsr2025.yaml: "text" values are
stated in the paper, "derived" ones computed from stated numbers,
"estimate" ones fill in the trend the text describes. A "≥" marks a lower
bound ("over 7 Gbps") and a "≤" an upper one; for a bound the last column
says whether the run meets it, as the ratio to a bound says little.

Exit status: 0 when no point regressed, 1 when one did (or on an error),
2 on a usage error.`,
		Example: `  # gate a change: fail when the new run lost more than 5 % anywhere
  wgbench compare runs/main runs/branch --tolerance 5%
  wgbench compare runs/main runs/branch --format json
  # against the published figures
  wgbench compare --paper runs/20261122-101500-cloudlab-fig8-multi-tunnel`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case withPaper && len(args) != 1:
				return usageError{fmt.Errorf("compare --paper takes one run folder, got %d arguments", len(args))}
			case !withPaper && len(args) != 2:
				return usageError{fmt.Errorf("compare takes two run folders A B (or --paper RUNDIR), got %d arguments", len(args))}
			case format != "text" && format != "json":
				return usageError{fmt.Errorf("--format %q: want text or json", format)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !withPaper {
				return runCompareRuns(cmd.OutOrStdout(), args[0], args[1], tolerance, format, figure)
			}
			_, run, err := results.Open(args[0])
			if err != nil {
				return err
			}
			d, err := paper.For(run.Scenario.Name)
			if err != nil {
				return err
			}
			c, err := paper.Compare(d, run)
			if err != nil {
				return err
			}
			printComparison(cmd.OutOrStdout(), d, run, c)
			return nil
		},
	}
	cmd.Flags().BoolVar(&withPaper, "paper", false, "compare with the published figures of the paper the run's scenario reproduces (HPSR 2025, or OSM for vpn-compare)")
	cmd.Flags().StringVar(&tolerance, "tolerance", "5%", "how much slower a point of B may be before it counts as a regression")
	cmd.Flags().StringVar(&format, "format", "text", "output: text or json")
	cmd.Flags().StringVar(&figure, "figure", "", "overlay figure `FILE` (.png or .svg; default B/plots/compare-runs.png, - for none)")
	return cmd
}

func printComparison(w io.Writer, d *paper.Data, run *results.Run, c *paper.Comparison) {
	fmt.Fprintf(w, "%s\n  vs run of %s (%s, %s testbed)\n", d.Paper, run.Scenario.Name, run.Status, run.Testbed.Driver)
	if d.Setup != "" {
		fmt.Fprintf(w, "  %s\n", d.Setup)
	}
	for _, f := range c.Figures {
		fmt.Fprintf(w, "  %s\n", f)
	}
	fmt.Fprintln(w)
	if len(c.Rows) == 0 {
		fmt.Fprintln(w, "no measured point has a published counterpart (yet)")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure\tseries\trun series\tpoint\tmeasured Gbit/s\t±95% CI\tn\tpublished\tsource\tmeasured/published\tbound\t")
		for _, r := range c.Rows {
			point := fmt.Sprintf("%s=%d", r.XName, r.X)
			if r.X == 0 {
				point = "max"
			}
			pub := paper.BoundSign(r.Published.Bound) + fmt.Sprintf("%.1f", r.Published.Gbps)
			bound := r.Verdict
			if bound == "" {
				bound = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.2f\t%d\t%s\t%s\t%.2f\t%s\t\n", r.Figure, r.Series, r.RunSeries, point, r.Measured, r.CI, r.N, pub, r.Published.Source, r.Ratio, bound)
		}
		tw.Flush()
	}
	if len(c.Claims) > 0 {
		fmt.Fprintln(w, "\nstated ratios:")
		for _, cr := range c.Claims {
			want := paper.BoundSign(cr.Claim.Bound) + fmt.Sprintf("%.2f", cr.Claim.Ratio)
			verdict := ""
			if cr.Verdict != "" {
				verdict = ": " + cr.Verdict
			}
			fmt.Fprintf(w, "  %s: paper %s (%s), run %.2f (%s %.2f / %s %.2f Gbit/s)%s\n",
				cr.Claim.Text, want, cr.Claim.Source, cr.Measured, cr.RunSeries[0], cr.Num, cr.RunSeries[1], cr.Den, verdict)
		}
	}
	if len(c.Missing) > 0 {
		fmt.Fprintln(w, "\nnot testable with this run:")
		for _, m := range c.Missing {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	fmt.Fprintln(w, "\nsources: text = stated in the paper; derived = computed from stated numbers; estimate = the described trend filled in (see results/paper/*.yaml)")
}
