package plots

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/wgbench/wgbench/results"
)

// axisChoice is the x axis of a throughput figure and how lines split.
type axisChoice struct {
	kind  XAxis // resolved: never XAuto
	label string
	// split is true when one series needs one line per value of the other
	// sweep dimension.
	split bool
}

// chooseAxis resolves opts.XAxis against the points of ds.
func chooseAxis(ds dataset, want XAxis, proto string) axisChoice {
	tunnels, flows := map[int]bool{}, map[int]bool{}
	for _, l := range ds.Lines {
		for _, p := range l.Points {
			tunnels[p.Tunnels] = true
			flows[p.Flows] = true
		}
	}
	flowWord := "flows"
	if proto != "" {
		flowWord = proto + " flows"
	}
	only := func(m map[int]bool) (int, bool) {
		if len(m) != 1 {
			return 0, false
		}
		for k := range m {
			return k, true
		}
		return 0, false
	}
	kind := want
	if kind == XAuto {
		switch {
		case len(tunnels) == 1 && len(flows) > 1:
			kind = XFlowsPerTunnel
		default:
			kind = XTunnels
		}
	}
	c := axisChoice{kind: kind}
	switch kind {
	case XFlowsPerTunnel:
		if t, ok := only(tunnels); ok {
			if t == 1 {
				c.label = fmt.Sprintf("%s in the tunnel (1 tunnel)", flowWord)
			} else {
				c.label = fmt.Sprintf("%s per tunnel (%d tunnels)", flowWord, t)
			}
		} else {
			c.label = flowWord + " per tunnel (one line per tunnel count)"
			c.split = true
		}
	case XTotalFlows:
		c.label = fmt.Sprintf("total %s (tunnels × flows per tunnel)", flowWord)
		c.split = len(flows) > 1 && len(tunnels) > 1
	default:
		c.kind = XTunnels
		if f, ok := only(flows); ok {
			c.label = fmt.Sprintf("tunnels (%s per tunnel)", plural(f, flowWord[:len(flowWord)-1]))
		} else {
			c.label = "tunnels (one line per flows-per-tunnel count)"
			c.split = true
		}
	}
	return c
}

// xOf returns the x value of a point on axis c.
func (c axisChoice) xOf(s stat) float64 {
	switch c.kind {
	case XFlowsPerTunnel:
		return float64(s.Flows)
	case XTotalFlows:
		return float64(s.Tunnels * s.Flows)
	}
	return float64(s.Tunnels)
}

// groupOf returns the value that splits a series into lines, and how
// legends name it.
func (c axisChoice) groupOf(s stat) (int, string) {
	if !c.split {
		return 0, ""
	}
	switch c.kind {
	case XFlowsPerTunnel:
		return s.Tunnels, plural(s.Tunnels, "tunnel")
	}
	return s.Flows, plural(s.Flows, "flow") + "/tunnel"
}

// Throughput draws the aggregate throughput (Gbit/s) of every series of runs
// against tunnels, flows per tunnel or total flows (opts.XAxis; the x label
// says which). Each series is a line of means with error bars (95 % CI by
// default; the legend says which), broken where a point has no successful
// repetition, which is marked with a red cross on the x axis. Series of
// several runs are combined, labelled "run/series" where names clash;
// skipped series are absent from the plot and listed as notes in the
// legend. It returns an error wrapping ErrNoData when no point has a
// successful repetition.
func Throughput(runs []*results.Run, opts Options) (*plot.Plot, error) {
	ds := collect(runs, opts)
	if !ds.hasData() {
		return nil, fmt.Errorf("throughput of %s: no successful repetition in any point%s: %w",
			describeRuns(runs), skippedSuffix(ds), ErrNoData)
	}
	proto := protocolName(runs)
	axis := chooseAxis(ds, opts.XAxis, proto)

	title := opts.Title
	if title == "" {
		title = scenarioTitle(runs) + ": aggregate throughput"
	}
	p := newPlot(title, axis.label, "aggregate throughput (Gbit/s)")
	addGrid(p)
	d := &drawnLines{plot: p, axis: axis, legend: newSideLegend(), errorBars: opts.ErrorBars, dodge: lineDodger(ds, axis)}
	for _, l := range ds.Lines {
		if err := d.series(l); err != nil {
			return nil, err
		}
	}
	d.finishLegend(ds)
	p.Add(d.legend)

	xs := slices.Clone(d.xs)
	slices.Sort(xs)
	xs = slices.Compact(xs)
	setXAxis(p, xs)
	p.Y.Min = 0
	p.Y.Tick.Marker = niceTicks{}
	ymax := d.ymax
	if ymax <= 0 {
		ymax = 1
	}
	p.Y.Max = ymax * 1.08
	return p, nil
}

// lineDodger returns the shift of each line's x values: lines are drawn a
// little apart where they share x values, so error bars at the same point
// do not hide each other.
func lineDodger(ds dataset, axis axisChoice) func(x float64, i int) float64 {
	nLines := 0
	for _, l := range ds.Lines {
		seen := map[int]bool{}
		for _, s := range l.Points {
			g, _ := axis.groupOf(s)
			seen[g] = true
		}
		nLines += len(seen)
	}
	var allX []int
	for _, l := range ds.Lines {
		for _, s := range l.Points {
			allX = append(allX, int(axis.xOf(s)))
		}
	}
	return dodger(allX, nLines)
}

// drawnLines draws the lines of a throughput figure and keeps what the
// legend and axes need.
type drawnLines struct {
	plot      *plot.Plot
	axis      axisChoice
	legend    *sideLegend
	errorBars ErrorBars
	dodge     func(x float64, i int) float64

	idx                         int // lines drawn so far
	xs                          []int
	ymax                        float64
	anyErr, anyNoErr, anyFailed bool
	failedXY                    plotter.XYs
}

// series draws one series: one line, or one per value of the other sweep
// dimension when the axis splits it.
func (d *drawnLines) series(l line) error {
	groups := map[int][]stat{}
	var keys []int
	names := map[int]string{}
	for _, s := range l.Points {
		g, name := d.axis.groupOf(s)
		if _, ok := groups[g]; !ok {
			keys = append(keys, g)
			names[g] = name
		}
		groups[g] = append(groups[g], s)
	}
	slices.Sort(keys)
	for _, g := range keys {
		label := l.Label
		if n := names[g]; n != "" {
			label += ", " + n
		}
		if err := d.line(label, groups[g]); err != nil {
			return err
		}
	}
	return nil
}

// line draws one line of means with its glyphs and error bars, broken at
// points with no successful repetition, and adds it to the legend.
func (d *drawnLines) line(label string, pts []stat) error {
	axis := d.axis
	slices.SortStableFunc(pts, func(a, b stat) int { return cmp.Compare(axis.xOf(a), axis.xOf(b)) })
	col, glyph, dashes := seriesStyle(d.idx)
	lineIdx := d.idx
	d.idx++
	ls := draw.LineStyle{Color: col, Width: vg.Points(1.5), Dashes: dashes}
	gs := draw.GlyphStyle{Color: col, Radius: vg.Points(2.8), Shape: glyph}

	var seg, all, errs plotter.XYs
	var errVals plotter.YErrors
	flush := func() {
		if len(seg) > 1 {
			ln, err := plotter.NewLine(seg)
			if err == nil {
				ln.LineStyle = ls
				d.plot.Add(ln)
			}
		}
		seg = nil
	}
	for _, s := range pts {
		d.xs = append(d.xs, int(axis.xOf(s)))
		x := d.dodge(axis.xOf(s), lineIdx)
		if s.N == 0 {
			flush()
			d.failedXY = append(d.failedXY, plotter.XY{X: axis.xOf(s), Y: 0})
			d.anyFailed = true
			continue
		}
		seg = append(seg, plotter.XY{X: x, Y: s.Mean})
		all = append(all, plotter.XY{X: x, Y: s.Mean})
		d.ymax = math.Max(d.ymax, s.Mean+s.Err)
		if s.HasErr {
			errs = append(errs, plotter.XY{X: x, Y: s.Mean})
			errVals = append(errVals, struct{ Low, High float64 }{s.Err, s.Err})
			d.anyErr = true
		} else if d.errorBars != NoErrorBars {
			d.anyNoErr = true
		}
	}
	flush()
	if len(all) == 0 {
		d.legend.Add(label + ": all failed")
		return nil
	}
	sc, err := plotter.NewScatter(all)
	if err != nil {
		return fmt.Errorf("throughput: series %s: %w", label, err)
	}
	sc.GlyphStyle = gs
	d.plot.Add(sc)
	if len(errs) > 0 {
		eb := &plotter.YErrorBars{XYs: errs, YErrors: errVals, LineStyle: draw.LineStyle{Color: col, Width: vg.Points(1)}, CapWidth: vg.Points(6)}
		d.plot.Add(eb)
	}
	lineThumb := &plotter.Line{LineStyle: ls}
	d.legend.Add(label, lineThumb, sc)
	return nil
}

// finishLegend marks the failed points and adds the notes: what the error
// bars are, and which series did not run.
func (d *drawnLines) finishLegend(ds dataset) {
	legend := d.legend
	if d.anyFailed {
		sc, err := plotter.NewScatter(d.failedXY)
		if err == nil {
			sc.GlyphStyle = draw.GlyphStyle{Color: failedColor, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
			d.plot.Add(sc)
			legend.Add("no successful rep.", sc)
		}
	}
	if d.anyErr {
		legend.Add("")
		legend.Add("error bars:")
		legend.Add(d.errorBars.String(), errThumb{style: draw.LineStyle{Color: seriesColors[len(seriesColors)-1], Width: vg.Points(1)}})
	}
	if d.anyNoErr {
		if !d.anyErr {
			legend.Add("")
		}
		legend.Add("no error bar: 1 successful rep.")
	}
	addSkipped(legend, ds.Skipped)
}

// setXAxis sets a numeric x axis with ticks at the measured values, on a
// log2 scale when they span a factor of 16 or more.
func setXAxis(p *plot.Plot, xs []int) {
	if len(xs) == 0 {
		return
	}
	lo, hi := xs[0], xs[len(xs)-1]
	ticks := intTicks(xs, 12)
	p.X.Tick.Marker = ticks
	if lo >= 1 && hi/lo >= 16 {
		p.X.Scale = plot.LogScale{}
		p.X.Min = float64(lo) / 1.25
		p.X.Max = float64(hi) * 1.25
		return
	}
	span := float64(hi - lo)
	if span == 0 {
		span = 2
	}
	p.X.Min = float64(lo) - 0.06*span
	p.X.Max = float64(hi) + 0.06*span
}

// dodger returns a function that shifts the x of line i of n a little, by
// at most ±1.5 % of the axis span (on a log axis, by a factor), so lines
// sharing x values keep their error bars apart.
func dodger(xs []int, n int) func(x float64, i int) float64 {
	if n < 2 || len(xs) == 0 {
		return func(x float64, _ int) float64 { return x }
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	off := func(i int) float64 { return (float64(i) - float64(n-1)/2) / float64(n-1) }
	if lo >= 1 && hi/lo >= 16 {
		return func(x float64, i int) float64 { return x * math.Pow(float64(hi)/float64(lo), 0.015*2*off(i)) }
	}
	span := float64(hi - lo)
	if span == 0 {
		span = 2
	}
	return func(x float64, i int) float64 { return x + 0.015*2*span*off(i) }
}

// skippedSuffix lists the skipped series of ds for an error message.
func skippedSuffix(ds dataset) string {
	if len(ds.Skipped) == 0 {
		return ""
	}
	s := " (not run:"
	for i, sk := range ds.Skipped {
		if i > 0 {
			s += ";"
		}
		s += " " + sk.Label + ": " + sk.Reason
	}
	return s + ")"
}
