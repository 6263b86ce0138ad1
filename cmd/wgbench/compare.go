package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/results/paper"
)

func newCompareCmd() *cobra.Command {
	var withPaper bool
	cmd := &cobra.Command{
		Use:   "compare --paper RUNDIR",
		Short: "Put a run's numbers beside the paper's published ones",
		Long: `compare --paper reads a run folder and prints, for each figure of the HPSR
2025 paper that the run's scenario reproduces (scenarios/cloudlab/*.yaml,
and the local catalogue where the series match), the measured mean ± 95 %
CI beside the published value of every point both have, with their ratio,
then the ratios the paper states between series (+45 %, 2x, 18x, …) as
measured in the run.

Published values come from results/paper/hpsr2025.yaml: "text" values are
stated in the paper, "derived" ones computed from stated numbers,
"estimate" ones fill in the trend the text describes. A "≥" marks a lower
bound ("over 7 Gbps") and a "≤" an upper one; for a bound the last column
says whether the run meets it, as the ratio to a bound says little.`,
		Example: `  wgbench compare --paper runs/20261122-101500-cloudlab-fig8-multi-tunnel`,
		Args:    exactArgs(1, "name one run folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !withPaper {
				return usageError{errors.New("say what to compare with: --paper (the published figures)")}
			}
			_, run, err := results.Open(args[0])
			if err != nil {
				return err
			}
			d, err := paper.HPSR2025()
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
	cmd.Flags().BoolVar(&withPaper, "paper", false, "compare with the published figures of the HPSR 2025 paper")
	return cmd
}

func printComparison(w io.Writer, d *paper.Data, run *results.Run, c *paper.Comparison) {
	fmt.Fprintf(w, "%s\n  vs run of %s (%s, %s testbed)\n", d.Paper, run.Scenario.Name, run.Status, run.Testbed.Driver)
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
	fmt.Fprintln(w, "\nsources: text = stated in the paper; derived = computed from stated numbers; estimate = the described trend filled in (see results/paper/hpsr2025.yaml)")
}
