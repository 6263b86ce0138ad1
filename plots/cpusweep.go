package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CPUTrace is the CPU table of one measured point (one repetition of it),
// with what names the point and the window to average.
type CPUTrace struct {
	At  CPUPoint
	CPU CPUTable
}

// CPUSweep is the CPU companion of Throughput: for one gateway, against
// tunnels (or flows per tunnel when only those vary), the busy share of the
// busiest core (solid) and the mean over all cores (dashed), one colour per
// series. A black hole shows as the busiest core pinned near 100 % while
// the mean stays low; a host short of CPU has both high. It returns an
// error wrapping ErrNoData when no trace has a sample of host.
func CPUSweep(traces []CPUTrace, host string, opts Options) (*plot.Plot, error) {
	type pt struct{ x, hot, mean float64 }
	type series struct {
		label string
		pts   []pt
	}
	tunnels, flows := map[int]bool{}, map[int]bool{}
	for _, tr := range traces {
		tunnels[tr.At.Tunnels] = true
		flows[tr.At.FlowsPerTunnel] = true
	}
	byFlows := len(tunnels) == 1 && len(flows) > 1
	var ss []series
	index := map[string]int{}
	shared := false
	for _, tr := range traces {
		loads := tr.CPU.CoreLoads(host, tr.At.From, tr.At.To, math.Inf(1))
		hot, sum, n := 0.0, 0.0, 0
		for _, l := range loads {
			if l.Samples == 0 || !finite(l.Busy) {
				continue
			}
			hot = math.Max(hot, l.Busy)
			sum += l.Busy
			n++
		}
		if n == 0 {
			continue
		}
		shared = shared || tr.At.SharedCores
		label := tr.At.Series
		if tr.At.Run != "" {
			label = tr.At.Run + "/" + label
		}
		i, ok := index[label]
		if !ok {
			i = len(ss)
			index[label] = i
			ss = append(ss, series{label: label})
		}
		x := float64(tr.At.Tunnels)
		if byFlows {
			x = float64(tr.At.FlowsPerTunnel)
		}
		ss[i].pts = append(ss[i].pts, pt{x: x, hot: math.Min(hot, 100), mean: math.Min(sum/float64(n), 100)})
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("CPU against the sweep for %s: no trace has a sample of it: %w", host, ErrNoData)
	}

	xlabel := "tunnels"
	if byFlows {
		xlabel = "flows per tunnel"
	}
	title := host + " CPU against the sweep: busiest core and mean of all cores"
	if shared {
		title += "\n(machine-wide: the testbed's hosts share these cores)"
	}
	p := newPlot(title, xlabel, "busy (% of a core)")
	addGrid(p)
	legend := newSideLegend()
	var xs []int
	for i, s := range ss {
		slices.SortFunc(s.pts, func(a, b pt) int { return cmp.Compare(a.x, b.x) })
		col, glyph, _ := seriesStyle(i)
		var hot, mean plotter.XYs
		for _, q := range s.pts {
			hot = append(hot, plotter.XY{X: q.x, Y: q.hot})
			mean = append(mean, plotter.XY{X: q.x, Y: q.mean})
			xs = append(xs, int(q.x))
		}
		hl, hs, err := plotter.NewLinePoints(hot)
		if err != nil {
			return nil, fmt.Errorf("CPU against the sweep for %s: %w", host, err)
		}
		hl.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
		hs.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.8), Shape: glyph}
		ml, ms, err := plotter.NewLinePoints(mean)
		if err != nil {
			return nil, fmt.Errorf("CPU against the sweep for %s: %w", host, err)
		}
		ml.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
		ms.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.2), Shape: draw.RingGlyph{}}
		p.Add(hl, hs, ml, ms)
		legend.Add(s.label, &plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(4)}})
	}
	black := color.Gray{0x30}
	legend.Add("")
	legend.Add("busiest core", &plotter.Line{LineStyle: draw.LineStyle{Color: black, Width: vg.Points(1.5)}})
	legend.Add("mean of all cores", &plotter.Line{LineStyle: draw.LineStyle{Color: black, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}})
	p.Add(legend)
	slices.Sort(xs)
	setXAxis(p, slices.Compact(xs))
	p.Y.Min, p.Y.Max = 0, 105
	p.Y.Tick.Marker = valueTicks{values: []float64{0, 20, 40, 60, 80, 100}, labels: []string{"0", "20", "40", "60", "80", "100"}}
	return p, nil
}
