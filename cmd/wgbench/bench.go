package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/datapath/inline/inlinebench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Micro-benchmarks that need no testbed and no root",
		Example: `  # inline engine vs wireguard-go vs the AEAD bound, as a table
  wgbench bench datapath`,
	}
	cmd.AddCommand(newBenchDatapathCmd())
	return cmd
}

// benchReport is what bench datapath --format json prints.
type benchReport struct {
	Duration time.Duration        `json:"duration_ns"`
	Go       string               `json:"go"`
	CPUs     int                  `json:"cpus"`
	Results  []inlinebench.Result `json:"results"`
	Goals    []inlinebench.Goal   `json:"goals"`
}

func newBenchDatapathCmd() *cobra.Command {
	var (
		duration  time.Duration
		sizes     []int
		cores     []int
		format    string
		direction string
		modeTrace string
	)
	cmd := &cobra.Command{
		Use:   "datapath",
		Short: "Inline engine (inline and hybrid) vs wireguard-go vs the AEAD bound, in one process, as a table",
		Long: fmt.Sprintf(`datapath measures, in this process and one after the other, a pair of inline
engine tunnels and a pair of wireguard-go devices sending one way over the
same in-memory batched TUN and network (no root, no kernel, no testbed),
for every packet size and core count, and the ChaCha20-Poly1305 bound of
this machine: seal + open of one packet in place on one core, which is what
a pair spends in crypto per packet. It prints packets/s, Gbit/s of inner
packets, the cores the process kept busy and Gbit/s per busy core, then,
per inline case, how those busy cores split between its data threads and
the other threads (the Go runtime's and the benchmark's).

On N cores wireguard-go runs with GOMAXPROCS=N; the inline pair pins its
two tunnels' data threads round-robin over the first N cores this process
may use (both on one core when N = 1) with the GOMAXPROCS its engine would
pick on an N-core machine. The sender keeps at most %d packets in flight
(a bounded queue, as a real TUN has), and each case is measured for
--duration after a handshake and a short warm-up, in steady state; the
default run takes about %s on 2 cores.

A second table holds the inline engine's goals, per busy core, each with
its measured ratio and marked met or missed: at 1420 bytes on 1 core at
least 85 %% of the AEAD bound and 1.1x wireguard-go; at 64 bytes on 1 core
at least 70 %% of the bound; on 2 cores at least 0.95x the 1-core rate.
A last line says whether a 1-core inline case keeps at most 1.05 cores busy.
(Its end-to-end goal, 1.5x wireguard-go through one tunnel on the local
testbed, is measured there.)

Hybrid rows are inline pairs in hybrid mode: a tunnel whose core saturates
borrows the case's idle cores for whole batches. On 2 cores, where each
tunnel of the pair has a core of its own, hybrid should stay within 5 %% of
inline's Gbit/s. --direction tx measures one gateway's transmit side alone
(an in-memory TUN source, the engine, a UDP sink counting the sealed
datagrams; no AEAD row), where one tunnel can use the second core: there
hybrid should make at least 1.6x inline's Gbit/s at 1420 bytes on 2 cores. Other load on the machine lowers every
figure; compare figures from one run. go test -bench Datapath
./datapath/inline runs the same cases for b.N packets.`, inlinebench.Window, estimate(inlinebench.DefaultDuration, len(inlinebench.DefaultSizes), len(inlinebench.DefaultCores))),
		Example: `  # the full table: 1420- and 64-byte packets on 1 and 2 cores
  wgbench bench datapath

  # a quick look at full-size packets on one core
  wgbench bench datapath --sizes 1420 --cores 1 --duration 500ms

  # one tunnel's transmit side: wireguard-go, inline and hybrid on 1 and 2 cores
  wgbench bench datapath --direction tx --sizes 1420

  # every window hybrid mode decided on, for checking its thresholds
  wgbench bench datapath --direction tx --sizes 1420 --cores 2 --mode-trace trace.csv

  # longer cases for steadier figures, as JSON
  wgbench bench datapath --duration 5s --format json > datapath.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format %q: want text or json", format)}
			}
			if duration <= 0 {
				return usageError{fmt.Errorf("--duration %v: want a positive duration", duration)}
			}
			if len(sizes) == 0 || len(cores) == 0 {
				return usageError{errors.New("--sizes and --cores need at least one value each")}
			}
			for _, s := range sizes {
				if s < inlinebench.MinSize || s > inlinebench.MTU {
					return usageError{fmt.Errorf("--sizes %d: want %d (IPv4 + UDP headers) to %d (the MTU)", s, inlinebench.MinSize, inlinebench.MTU)}
				}
			}
			if !cmd.Flags().Changed("cores") {
				cores = inlinebench.AvailableCores(cores)
			}
			usable := inlinebench.AvailableCores(cores)
			for _, c := range cores {
				if !slices.Contains(usable, c) {
					return usageError{fmt.Errorf("--cores %d: this process may use %d CPUs", c, runtime.NumCPU())}
				}
			}
			dir, err := inlinebench.ParseDirection(direction)
			if err != nil {
				return usageError{fmt.Errorf("--direction: %w", err)}
			}
			stderr := cmd.ErrOrStderr()
			cfg := inlinebench.Config{Duration: duration, Sizes: sizes, Cores: cores, Direction: dir}
			total, done := len(inlinebench.Cases(cfg)), 0
			var trace *modeTraceFile
			if modeTrace != "" {
				if trace, err = createModeTrace(modeTrace); err != nil {
					return err
				}
				cfg.ModeTrace = trace.add
			}
			fmt.Fprintf(stderr, "measuring %d cases of %v each, about %s\n", total, duration, estimateCases(duration, total))
			cfg.Progress = func(c inlinebench.Case) {
				done++
				fmt.Fprintf(stderr, "[%d/%d] %s\n", done, total, c)
			}
			results, err := inlinebench.Run(cmd.Context(), cfg)
			if trace != nil {
				if terr := trace.close(); terr != nil {
					return terr
				}
				fmt.Fprintf(stderr, "mode trace: %d windows in %s\n", trace.rows, modeTrace)
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if werr := writeBench(cmd.OutOrStdout(), format, duration, results); werr != nil {
				return werr
			}
			if err != nil {
				return fmt.Errorf("%w: the table holds the cases measured before", errInterrupted)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", inlinebench.DefaultDuration, "measured time of each case")
	cmd.Flags().IntSliceVar(&sizes, "sizes", slices.Clone(inlinebench.DefaultSizes), "inner packet sizes in bytes")
	cmd.Flags().IntSliceVar(&cores, "cores", slices.Clone(inlinebench.DefaultCores), "core counts; by default, those this process may use")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output: text or json")
	cmd.Flags().StringVar(&direction, "direction", string(inlinebench.Both), "both (a sending and a receiving tunnel) or tx (one gateway's transmit side: TUN source, engine, UDP sink)")
	cmd.Flags().StringVar(&modeTrace, "mode-trace", "", "write every window the hybrid cases' mode controller decided on to this CSV file (loads in cores)")
	return cmd
}

// estimate is how long a run takes: each case's duration plus about 0.3 s
// of handshake, warm-up and drain.
func estimate(d time.Duration, sizes, cores int) time.Duration {
	return estimateCases(d, sizes*(1+3*cores))
}

// estimateCases is how long n cases take.
func estimateCases(d time.Duration, n int) time.Duration {
	return (time.Duration(n)*(d+300*time.Millisecond) + time.Second/2).Round(time.Second)
}

func writeBench(w io.Writer, format string, d time.Duration, results []inlinebench.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(benchReport{Duration: d, Go: runtime.Version(), CPUs: runtime.NumCPU(),
			Results: results, Goals: inlinebench.Goals(results)})
	}
	fmt.Fprintf(w, "Datapath: one-way UDP through a tunnel pair over an in-memory batched TUN and network, %v per case\n", d)
	fmt.Fprintf(w, "(%s %s/%s, %d CPUs; per busy core = Gbit/s over the CPU time of the whole process)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	return inlinebench.WriteTable(w, results)
}
