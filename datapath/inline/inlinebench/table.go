package inlinebench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes results as two tables: one row per measured case
// (packets/s, Gbit/s, busy cores, Gbit/s per busy core, and how it ran),
// then the inline engine's ratios per size and core count against its
// goals, each marked met or missed.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZE\tCORES\tDATAPATH\tPKTS/S\tGBIT/S\tBUSY CORES\tGBIT/S/CORE\tLOST\tRUN AS")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%.0f\t%.3f\t%.2f\t%.3f\t%d\t%s\n",
			r.Size, r.Cores, r.Impl, r.PacketsPerSec, r.Gbps, r.BusyCores, r.GbpsPerCore, r.Lost, runAs(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	goals := Goals(results)
	if len(goals) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nGoals of the inline engine, in Gbit/s per busy core: ≥ %gx wireguard-go, ≥ %.0f %% of the AEAD bound\n",
		GoalVsWireGuardGo, GoalVsAEAD*100)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SIZE\tCORES\tINLINE/WIREGUARD-GO\t≥ %gx\tINLINE/AEAD\t≥ %.0f %%\n", GoalVsWireGuardGo, GoalVsAEAD*100)
	for _, g := range goals {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", g.Size, g.Cores,
			ratio(g.VsWireGuardGo, "%.2fx", 1), verdict(g.VsWireGuardGo, g.VsWireGuardGoMet),
			ratio(g.VsAEAD, "%.1f %%", 100), verdict(g.VsAEAD, g.VsAEADMet))
	}
	return tw.Flush()
}

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
