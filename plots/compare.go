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
	bs, absent, ok := barsAt(ds, tunnels, flowsPerTunnel)
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
	d := drawBars(p, bs, opts.ErrorBars)
	if err := addBarLabels(p, d.valXY, d.valText, nil); err != nil {
		return nil, fmt.Errorf("comparison at %s: value labels: %w", at, err)
	}
	if err := addBarLabels(p, d.failXY, d.failText, failedColor); err != nil {
		return nil, fmt.Errorf("comparison at %s: failure labels: %w", at, err)
	}
	if legend := compareLegend(ds, d, absent, opts.ErrorBars); legend.n > 0 {
		p.Add(legend)
	}
	setBarAxes(p, d.names, d.ymax)
	return p, nil
}

// bar is one series' statistics at the compared point.
type bar struct {
	label string
	s     stat
	color int
}

// barsAt returns the bars of ds's series at a point, the labels of the
// series that did not measure it, and how many bars have a successful
// repetition.
func barsAt(ds dataset, tunnels, flowsPerTunnel int) (bs []bar, absent []string, ok int) {
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
	return bs, absent, ok
}

// drawnBars is what drawBars put on the plot, for the labels, legend and
// axes.
type drawnBars struct {
	names             []string
	ymax              float64
	valXY, failXY     plotter.XYs
	valText, failText []string
	anyErr, anyNoErr  bool
}

// drawBars adds one bar (with error bars) per series with a successful
// repetition, and a place for a "failed" mark for the others.
func drawBars(p *plot.Plot, bs []bar, eb ErrorBars) drawnBars {
	const w = 0.62
	var d drawnBars
	for i, b := range bs {
		x := float64(i)
		d.names = append(d.names, b.label)
		if b.s.N == 0 {
			d.failXY = append(d.failXY, plotter.XY{X: x, Y: 0})
			d.failText = append(d.failText, fmt.Sprintf("failed\n0/%d ok", b.s.Total))
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
			d.anyErr = true
		} else if eb != NoErrorBars {
			d.anyNoErr = true
		}
		d.ymax = math.Max(d.ymax, top)
		txt := gbps(b.s.Mean)
		if b.s.N < b.s.Total {
			txt += fmt.Sprintf("\n%d/%d ok", b.s.N, b.s.Total)
		}
		d.valXY = append(d.valXY, plotter.XY{X: x, Y: top})
		d.valText = append(d.valText, txt)
	}
	if d.ymax <= 0 {
		d.ymax = 1
	}
	return d
}

// addBarLabels puts texts centred above the points, in col when not nil.
func addBarLabels(p *plot.Plot, xy plotter.XYs, text []string, col color.Color) error {
	if len(xy) == 0 {
		return nil
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: text})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		setFont(&lb.TextStyle[i], tickSize)
		if col != nil {
			lb.TextStyle[i].Color = col
		}
		lb.TextStyle[i].XAlign = draw.XCenter
		lb.TextStyle[i].YAlign = draw.YBottom
	}
	lb.Offset = vg.Point{Y: vg.Points(2)}
	p.Add(lb)
	return nil
}

// compareLegend says what the error bars are and which series are absent.
func compareLegend(ds dataset, d drawnBars, absent []string, eb ErrorBars) *sideLegend {
	legend := newSideLegend()
	if d.anyErr {
		legend.Add("error bars:")
		legend.Add(eb.String(), errThumb{style: draw.LineStyle{Color: color.Black, Width: vg.Points(1)}})
	}
	if d.anyNoErr {
		legend.Add("no error bar: 1 successful rep.")
	}
	if len(absent) > 0 {
		legend.Add("")
		legend.Add("not measured here:")
		addNames(legend, absent)
	}
	addSkipped(legend, ds.Skipped)
	return legend
}

// setBarAxes names the bars on the x axis (slanted when they are many or
// long) and scales the y axis to leave room for the labels.
func setBarAxes(p *plot.Plot, names []string, ymax float64) {
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
}

// addNames adds up to five names to a legend as indented notes.
// addSkipped lists the series that were not run, if any, under a heading.
func addSkipped(l *sideLegend, skipped []skipped) {
	if len(skipped) == 0 {
		return
	}
	l.Add("")
	l.Add("not run (see report):")
	var sk []string
	for _, s := range skipped {
		sk = append(sk, s.Label)
	}
	addNames(l, sk)
}

func addNames(l *sideLegend, names []string) {
	for i, n := range names {
		if i == 4 && len(names) > 5 {
			l.Add(fmt.Sprintf("  …and %d more", len(names)-4))
			return
		}
		l.Add("  " + n)
	}
}
