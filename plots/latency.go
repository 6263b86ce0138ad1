package plots

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/wgbench/wgbench/probes/latency"
	"github.com/wgbench/wgbench/results"
)

// latencyFigures adds the figures of the latency probe and of the packet
// size and MTU sweeps, when the runs have them: the RTT CDF per series
// (idle dashed, loaded solid), RTT against tunnels, throughput and Mpps
// against packet size, and throughput and loss against MTU. runDirs are the runs' folders ("" where unknown),
// where the CDF reads the probes' samples.
func (wr *writer) latencyFigures(runs []*results.Run, runDirs []string) {
	p, err := LatencyCDF(runs, runDirs, wr.opts)
	wr.add("latency-cdf", "latency", "Round-trip time through tunnel 0 (source to drain and back) of each series at its first point: every probe of every successful repetition, idle before the load (dashed) and during the measured window (solid), as a cumulative distribution.", p, err, 0, 0)
	p, err = RTTTunnels(runs, wr.opts)
	wr.add("rtt-tunnels", "latency", "Median round-trip time through tunnel 0 against the number of tunnels, idle (dashed) and loaded (solid); means over the successful repetitions of each repetition's median.", p, err, 0, 0)
	for _, m := range []string{"gbps", "mpps"} {
		p, err = PacketSize(runs, m, wr.opts)
		wr.add("packet-size-"+m, "packet-size", packetSizeCaption(runs, m), p, err, 0, 0)
	}
	p, err = MTU(runs, "gbps", wr.opts)
	wr.add("mtu-gbps", "mtu", "Goodput in Gbit/s of each series against the link MTU (the tunnel MTU is 80 bytes less); means over the successful repetitions.", p, err, 0, 0)
	p, err = MTU(runs, "loss", wr.opts)
	wr.add("mtu-loss", "mtu", "UDP loss in percent of each series against the link MTU: packets larger than the tunnel MTU are fragmented, or dropped, which the loss shows; means over the successful repetitions.", p, err, 0, 0)
}

// packetSizeCaption says what a packet size figure shows.
func packetSizeCaption(runs []*results.Run, metric string) string {
	what := "Goodput in Gbit/s"
	if metric == "mpps" {
		what = "Packet rate in millions of packets per second"
	}
	how := "at the scenario's fixed rate"
	if tol, ok := searchTolerance(runs); ok {
		how = fmt.Sprintf("at the highest offered rate whose loss stayed within %g %% (RFC 2544 rate search)", tol)
	}
	return fmt.Sprintf("%s of each series against the packet size (inner IP packet), %s; means over the successful repetitions.", what, how)
}

// searchTolerance returns the loss tolerance of the first run that
// searched its rate.
func searchTolerance(runs []*results.Run) (float64, bool) {
	for _, r := range runs {
		if r != nil && r.Scenario.Traffic.Rate.Search {
			return r.Scenario.Traffic.LossTolerancePct(), true
		}
	}
	return 0, false
}

// readSamples reads a probe's samples (latency.Report JSON).
func readSamples(path string) ([]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep latency.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep.RTTMs, nil
}

// cdfXY is the empirical CDF of v.
func cdfXY(v []float64) plotter.XYs {
	v = slices.Clone(v)
	slices.Sort(v)
	xy := make(plotter.XYs, len(v))
	for i, x := range v {
		xy[i] = plotter.XY{X: x, Y: float64(i+1) / float64(len(v))}
	}
	return xy
}

// LatencyCDF draws, per series, the cumulative distribution of the round
// trips at the series' first point with a probe: idle dashed, loaded
// solid. It reads the samples from the run folders; it returns an error
// wrapping ErrNoData when there are none.
func LatencyCDF(runs []*results.Run, runDirs []string, opts Options) (*plot.Plot, error) {
	p := newPlot(scenarioTitle(runs)+": round-trip time", "round-trip time (ms, log scale)", "share of probes")
	addGrid(p)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	legend := newSideLegend()
	n := 0
	seen := map[string]bool{}
	for i, r := range runs {
		if r == nil || i >= len(runDirs) || runDirs[i] == "" {
			continue
		}
		for _, pt := range r.Points {
			if seen[pt.Series] {
				continue
			}
			var idle, loaded []float64
			for _, rp := range pt.Repetitions {
				if !rp.OK() || rp.Latency == nil {
					continue
				}
				if rp.Latency.IdleLog != "" {
					s, err := readSamples(filepath.Join(runDirs[i], rp.Latency.IdleLog))
					if err != nil {
						return nil, err
					}
					idle = append(idle, s...)
				}
				if rp.Latency.LoadedLog != "" {
					s, err := readSamples(filepath.Join(runDirs[i], rp.Latency.LoadedLog))
					if err != nil {
						return nil, err
					}
					loaded = append(loaded, s...)
				}
			}
			if len(idle)+len(loaded) == 0 {
				continue
			}
			seen[pt.Series] = true
			col, _, _ := seriesStyle(n)
			name := fmt.Sprintf("%s (%s)", pt.Series, plural(pt.Tunnels, "tunnel"))
			for _, part := range []struct {
				v      []float64
				dashed bool
				what   string
			}{{loaded, false, "loaded"}, {idle, true, "idle"}} {
				if len(part.v) == 0 {
					continue
				}
				xy := cdfXY(part.v)
				for j := range xy {
					// A log axis cannot show 0: clamp to a microsecond.
					xy[j].X = max(xy[j].X, 0.001)
				}
				l, err := plotter.NewLine(xy)
				if err != nil {
					return nil, err
				}
				l.Color, l.Width = col, vg.Points(1.5)
				if part.dashed {
					l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				p.Add(l)
				legend.Add(name+" "+part.what, l)
			}
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("latency CDF: no probe samples: %w", ErrNoData)
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(legend)
	return p, nil
}

// RTTTunnels draws each series' median RTT, idle dashed and loaded solid,
// against the number of tunnels; it needs two tunnel counts or more.
func RTTTunnels(runs []*results.Run, opts Options) (*plot.Plot, error) {
	type line struct {
		name         string
		idle, loaded plotter.XYs
	}
	var lines []*line
	tunnels := map[int]bool{}
	for _, r := range runs {
		if r == nil {
			continue
		}
		for i := range r.Points {
			pt := &r.Points[i]
			l := pt.Latency()
			if l == nil {
				continue
			}
			idx := slices.IndexFunc(lines, func(x *line) bool { return x.name == pt.Series })
			if idx < 0 {
				lines = append(lines, &line{name: pt.Series})
				idx = len(lines) - 1
			}
			tunnels[pt.Tunnels] = true
			if l.N > 0 {
				lines[idx].loaded = append(lines[idx].loaded, plotter.XY{X: float64(pt.Tunnels), Y: l.P50Ms})
			}
			lines[idx].idle = append(lines[idx].idle, plotter.XY{X: float64(pt.Tunnels), Y: l.IdleP50Ms})
		}
	}
	if len(tunnels) < 2 {
		return nil, fmt.Errorf("RTT against tunnels: fewer than two tunnel counts with a probe: %w", ErrNoData)
	}
	p := newPlot(scenarioTitle(runs)+": RTT vs tunnels", "tunnels", "median round-trip time (ms)")
	addGrid(p)
	legend := newSideLegend()
	var ts []int
	for t := range tunnels {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	p.X.Tick.Marker = intTicks(ts, slices.Max(ts))
	for i, ln := range lines {
		col, glyph, _ := seriesStyle(i)
		for _, part := range []struct {
			xy     plotter.XYs
			dashed bool
			what   string
		}{{ln.loaded, false, "loaded"}, {ln.idle, true, "idle"}} {
			if len(part.xy) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(part.xy)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = col, vg.Points(1.5)
			s.Color, s.Shape = col, glyph
			if part.dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l, s)
			legend.Add(ln.name+" "+part.what, l, s)
		}
	}
	p.Y.Min = 0
	p.Add(legend)
	return p, nil
}

// sweepAxis is a swept property of a point that a figure draws against.
type sweepAxis struct {
	name, label string
	of          func(*results.Point) int
}

var (
	axisSize = sweepAxis{"packet size", "packet size (bytes, inner IP packet)", func(p *results.Point) int { return p.PacketSize }}
	axisMTU  = sweepAxis{"MTU", "link MTU (bytes; tunnel MTU = link MTU - 80)", func(p *results.Point) int { return p.MTU }}
)

// sweepMetrics name what a sweep figure can draw: its y label and title.
var sweepMetrics = map[string]struct{ label, title string }{
	"gbps": {"goodput (Gbit/s)", "goodput"},
	"mpps": {"packet rate (Mpps)", "packet rate"},
	"loss": {"UDP loss (%)", "loss"},
}

// PacketSize draws each series' goodput (metric "gbps"), packet rate
// ("mpps") or UDP loss ("loss") against the swept packet size, the loss
// tolerance of a rate search in the title.
func PacketSize(runs []*results.Run, metric string, opts Options) (*plot.Plot, error) {
	return sweepPlot(runs, axisSize, metric, opts)
}

// MTU draws each series' goodput ("gbps") or UDP loss ("loss") against the
// swept link MTU: where packets no longer fit the tunnel, they are
// fragmented (or dropped), and the loss shows it.
func MTU(runs []*results.Run, metric string, opts Options) (*plot.Plot, error) {
	return sweepPlot(runs, axisMTU, metric, opts)
}

// sweepPlot draws metric against axis, one line per series, over the
// points that have a value on the axis.
func sweepPlot(runs []*results.Run, axis sweepAxis, metric string, _ Options) (*plot.Plot, error) {
	m, ok := sweepMetrics[metric]
	if !ok {
		return nil, fmt.Errorf("%s figure: unknown metric %q", axis.name, metric)
	}
	type line struct {
		name string
		xy   plotter.XYs
	}
	var lines []*line
	xs := map[int]bool{}
	for _, r := range runs {
		if r == nil {
			continue
		}
		for i := range r.Points {
			pt := &r.Points[i]
			x := axis.of(pt)
			if x == 0 || pt.Summary.N == 0 {
				continue
			}
			row := pt.Row()
			y := map[string]float64{"gbps": row.MeanGbps, "mpps": row.Mpps, "loss": row.LossPct}[metric]
			idx := slices.IndexFunc(lines, func(l *line) bool { return l.name == pt.Series })
			if idx < 0 {
				lines = append(lines, &line{name: pt.Series})
				idx = len(lines) - 1
			}
			xs[x] = true
			lines[idx].xy = append(lines[idx].xy, plotter.XY{X: float64(x), Y: y})
		}
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("%s figure: no point with a %s: %w", axis.name, axis.name, ErrNoData)
	}
	title := scenarioTitle(runs) + ": " + m.title
	if axis.name != axisSize.name {
		title += " against " + axis.name
	}
	if tol, ok := searchTolerance(runs); ok {
		title += fmt.Sprintf(", loss ≤ %g %%", tol)
	}
	p := newPlot(title, axis.label, m.label)
	addGrid(p)
	// The swept values are evenly spaced categories (64, 512, 1420 B;
	// 1280, 1500, 8920 MTU), as RFC 2544 tables list them.
	var values []int
	for x := range xs {
		values = append(values, x)
	}
	slices.Sort(values)
	var ticks []plot.Tick
	for i, v := range values {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: strconv.Itoa(v)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.3, float64(len(values)-1)+0.3
	legend := newSideLegend()
	for i, ln := range lines {
		col, glyph, dashes := seriesStyle(i)
		slices.SortFunc(ln.xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
		for j := range ln.xy {
			ln.xy[j].X = float64(slices.Index(values, int(ln.xy[j].X)))
		}
		l, s, err := plotter.NewLinePoints(ln.xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(1.5), dashes
		s.Color, s.Shape = col, glyph
		p.Add(l, s)
		legend.Add(ln.name, l, s)
	}
	p.Y.Min = 0
	p.Add(legend)
	return p, nil
}

// runDirsOf returns the folder of each run: opts.RunDirs, or dir for a
// single run; "" where unknown.
func runDirsOf(runs []*results.Run, dir string, opts Options) []string {
	out := make([]string, len(runs))
	for i := range runs {
		switch {
		case i < len(opts.RunDirs):
			out[i] = opts.RunDirs[i]
		case len(runs) == 1:
			out[i] = dir
		}
	}
	return out
}
