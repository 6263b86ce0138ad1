package inlinebench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes results as two tables (direction TX: under a line
// saying so): one row per measured case
// (packets/s, Gbit/s, busy cores, Gbit/s per busy core, and how it ran),
// then the inline engine's goals (GoalDefs) that the results bear on,
// each with its measured ratio and marked met or missed, and the goal
// measured elsewhere.
func WriteTable(w io.Writer, results []Result) error {
	if len(results) > 0 && results[len(results)-1].dir() == TX {
		fmt.Fprintln(w, "Direction tx: one gateway's transmit side alone (in-memory TUN source, the engine, a UDP sink that counts the sealed datagrams)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZE\tCORES\tDATAPATH\tPKTS/S\tGBIT/S\tBUSY CORES\tGBIT/S/CORE\tLOST\tRUN AS")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%.0f\t%s\t%.2f\t%s\t%d\t%s\n",
			r.Size, r.Cores, r.Impl, r.PacketsPerSec, rate(r.Gbps), r.BusyCores, rate(r.GbpsPerCore), r.Lost, runAs(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeThreadSplit(w, results); err != nil {
		return err
	}
	goals := Goals(results)
	if len(goals) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nGoals of the inline engine, in Gbit/s per busy core (hybrid/inline: in Gbit/s):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GOAL\tSIZE\tCORES\tMEASURED\tTARGET\tVERDICT")
	both := false
	for _, g := range goals {
		both = both || g.Direction == Both
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", goalText(g.Metric, g.Cores, g.Direction), g.Size, g.Cores,
			ratio(g.Value, format(g.Metric), scale(g.Metric)), target(g), verdict(g.Value, g.Met))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeBusyGoal(w, results); err != nil {
		return err
	}
	if !both {
		return nil
	}
	_, err := fmt.Fprintf(w, "Not measured here: %s\n", EndToEndGoal)
	return err
}

// goalText describes a metric.
func goalText(m Metric, cores int, dir Direction) string {
	switch m {
	case HybridVsInline:
		if dir == TX {
			return "hybrid/inline-tx"
		}
		return "hybrid/inline"

	case VsAEAD:
		return "inline/aead-bound"
	case VsWireGuardGo:
		return "inline/wireguard-go"
	case VsOneCore:
		return fmt.Sprintf("inline-%d-cores/inline-1-core", cores)
	}
	return string(m)
}

// format and scale show a metric as a percentage (shares of the bound) or
// a factor.
func format(m Metric) string {
	if m == VsAEAD {
		return "%.1f %%"
	}
	return "%.2fx"
}

func scale(m Metric) float64 {
	if m == VsAEAD {
		return 100
	}
	return 1
}

func target(g Goal) string { return "≥ " + fmt.Sprintf(format(g.Metric), g.Target*scale(g.Metric)) }

// runAs says how a case ran: threads, GOMAXPROCS, pinning.
func runAs(r Result) string {
	var parts []string
	switch {
	case r.Impl == AEAD:
		parts = append(parts, "1 locked thread")
	case r.GOMAXPROCS > 0:
		parts = append(parts, fmt.Sprintf("GOMAXPROCS=%d", r.GOMAXPROCS))
	}
	if len(r.Pinned) == 2 {
		parts = append(parts, fmt.Sprintf("A on CPU %d, B on CPU %d", r.Pinned[0], r.Pinned[1]))
	}
	if r.Impl == Hybrid && r.EndMode != "" {
		parts = append(parts, fmt.Sprintf("A: %d mode change%s, ended %s", r.ModeChanges, plural(int(r.ModeChanges)), r.EndMode))
	}
	return strings.Join(parts, ", ")
}

func ratio(v float64, format string, scale float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v*scale)
}

func verdict(v float64, met bool) string {
	switch {
	case v == 0:
		return "not measured"
	case met:
		return "met"
	}
	return "missed"
}

// rate shows Gbit/s to three decimals, or to two significant digits below
// 0.01, so that a slow case on a loaded machine does not show as 0.
func rate(v float64) string {
	if v > 0 && v < 0.01 {
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.3f", v)
}
