// Package plots draws the figures of a wgbench run with gonum/plot: the
// aggregate throughput against tunnels or flows with error bars (Fig. 4 and
// Fig. 8 of the HPSR 2025 paper), configuration comparisons at one point
// (Fig. 6 and 7b), per-core CPU bars of a gateway with its saturated or
// "black hole" cores highlighted (Fig. 5 and 9), and core × time heatmaps
// that show such a core forming.
//
// The functions that build one figure (Throughput, Compare, CoreBars,
// Heatmap) return a *plot.Plot that Save renders as PNG or SVG; WriteAll
// renders every figure a run folder supports. Per-core figures read the
// cpu.csv a run folder holds per repetition (ReadCPUCSV, LoadCPU).
//
// Nothing here drives a host: the package reads results only. Bad input (a
// run with no points, failed repetitions, NaN, a skipped series, a single
// repetition) gives an error wrapping ErrNoData or a figure that says what
// is missing, never a panic.
package plots
