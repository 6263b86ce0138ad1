package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/wgbench/wgbench/results"
)

// Compare draws the aggregate throughput of every series of runs at one
// point (tunnels, flows per tunnel) as bars with error bars (Fig. 6 and 7b
// of the HPSR 2025 paper), each bar labelled with its mean and, when some
// repetitions failed, how many succeeded. A series whose repetitions all
// failed at the point gets a "failed" mark instead of a bar; series that
// did not run, or not at this point, are listed in the legend. It returns
// an error wrapping ErrNoData when no series has a successful repetition
// at the point.
func Compare(runs []*results.Run, tunnels, flowsPerTunnel int, opts Options) (*plot.Plot, error) {
	ds := collect(runs, opts)
	type bar struct {
		label string
		s     stat
		color int
	}
	var bs []bar
	var absent []string
	ok := 0
	for i, l := range ds.Lines {
		found := false
		for _, s := range l.Points {
			if s.Tunnels == tunnels && s.Flows == flowsPerTunnel {
				bs = append(bs, bar{label: l.Label, s: s, color: i})
				found = true
				if s.N > 0 {
					ok++
				}
				break
			}
		}
		if !found {
			absent = append(absent, l.Label)
		}
	}
	at := plural(tunnels, "tunnel") + " × " + plural(flowsPerTunnel, "flow")
	if ok == 0 {
		why := "no series measured it"
		if len(bs) > 0 {
			why = "every repetition of every series failed there"
		}
		return nil, fmt.Errorf("comparison of %s at %s: %s%s: %w", describeRuns(runs), at, why, skippedSuffix(ds), ErrNoData)
	}

	title := opts.Title
	if title == "" {
		title = scenarioTitle(runs) + ": throughput at " + at
	}
	p := newPlot(title, "", "aggregate throughput (Gbit/s)")
	addGrid(p)
	legend := newSideLegend()

	const w = 0.62
	ymax := 0.0
	var names []string
	var valXY plotter.XYs
	var valText []string
	var failXY plotter.XYs
	var failText []string
	anyErr, anyNoErr := false, false
	for i, b := range bs {
		x := float64(i)
		names = append(names, b.label)
		if b.s.N == 0 {
			failXY = append(failXY, plotter.XY{X: x, Y: 0})
			failText = append(failText, fmt.Sprintf("failed\n0/%d ok", b.s.Total))
			continue
		}
		col, _, _ := seriesStyle(b.color)
		p.Add(&bars{
			rects:   []rect{{X: x, W: w, Bottom: 0, Top: b.s.Mean}},
			fill:    col,
			outline: draw.LineStyle{Color: col, Width: vg.Points(0.5)},
		})
		top := b.s.Mean
		if b.s.HasErr {
			// A white halo keeps the bar visible on a dark bar.
			for _, st := range []draw.LineStyle{
				{Color: color.White, Width: vg.Points(2.6)},
				{Color: color.Black, Width: vg.Points(1)},
			} {
				p.Add(&plotter.YErrorBars{
					XYs:       plotter.XYs{{X: x, Y: b.s.Mean}},
					YErrors:   plotter.YErrors{{Low: b.s.Err, High: b.s.Err}},
					LineStyle: st,
					CapWidth:  vg.Points(8),
				})
			}
			top += b.s.Err
			anyErr = true
		} else if opts.ErrorBars != NoErrorBars {
			anyNoErr = true
		}
		ymax = math.Max(ymax, top)
		txt := gbps(b.s.Mean)
		if b.s.N < b.s.Total {
			txt += fmt.Sprintf("\n%d/%d ok", b.s.N, b.s.Total)
		}
		valXY = append(valXY, plotter.XY{X: x, Y: top})
		valText = append(valText, txt)
	}
	if ymax <= 0 {
		ymax = 1
	}
	if len(valXY) > 0 {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: valXY, Labels: valText})
		if err != nil {
			return nil, fmt.Errorf("comparison at %s: value labels: %w", at, err)
		}
		for i := range lb.TextStyle {
			setFont(&lb.TextStyle[i], tickSize)
			lb.TextStyle[i].XAlign = draw.XCenter
			lb.TextStyle[i].YAlign = draw.YBottom
		}
		lb.Offset = vg.Point{Y: vg.Points(2)}
		p.Add(lb)
	}
	if len(failXY) > 0 {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: failXY, Labels: failText})
		if err != nil {
			return nil, fmt.Errorf("comparison at %s: failure labels: %w", at, err)
		}
		for i := range lb.TextStyle {
			setFont(&lb.TextStyle[i], tickSize)
			lb.TextStyle[i].Color = failedColor
			lb.TextStyle[i].XAlign = draw.XCenter
			lb.TextStyle[i].YAlign = draw.YBottom
		}
		lb.Offset = vg.Point{Y: vg.Points(2)}
		p.Add(lb)
	}

	if anyErr {
		legend.Add("error bars:")
		legend.Add(opts.ErrorBars.String(), errThumb{style: draw.LineStyle{Color: color.Black, Width: vg.Points(1)}})
	}
	if anyNoErr {
		legend.Add("no error bar: 1 successful rep.")
	}
	if len(absent) > 0 {
		legend.Add("")
		legend.Add("not measured here:")
		addNames(legend, absent)
	}
	if len(ds.Skipped) > 0 {
		legend.Add("")
		legend.Add("not run (see report):")
		var sk []string
		for _, s := range ds.Skipped {
			sk = append(sk, s.Label)
		}
		addNames(legend, sk)
	}
	if legend.n > 0 {
		p.Add(legend)
	}

	p.NominalX(names...)
	long := 0
	for _, n := range names {
		long = max(long, len([]rune(n)))
	}
	if len(names) > 6 || long*len(names) > 60 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.X.Min, p.X.Max = -0.6, float64(len(names)-1)+0.6
	p.Y.Min = 0
	p.Y.Tick.Marker = niceTicks{}
	p.Y.Max = ymax * 1.18
	return p, nil
}

// addNames adds up to five names to a legend as indented notes.
func addNames(l *sideLegend, names []string) {
	for i, n := range names {
		if i == 4 && len(names) > 5 {
			l.Add(fmt.Sprintf("  …and %d more", len(names)-4))
			return
		}
		l.Add("  " + n)
	}
}
