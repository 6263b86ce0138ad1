package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/wgbench/wgbench/results"
)

// stageColors are the colours of the cost stages, in results.CostStages
// order (colour-blind safe, softirq in the CPU figures' softirq colour).
var stageColors = []color.Color{
	softirqColor,                       // softirq
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // napi
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // crypto
	systemColor,                        // datapath
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // tun-io
	otherColor,                         // other
}

// costBar is one series' stacked bar at one point.
type costBar struct {
	x      float64 // centre, in category units
	stages []float64
	ci     float64
	label  string
}

// Cost draws what each byte cost the gateways: for every point (tunnels,
// or flows per tunnel when only those vary) one bar per series, its
// height the mean cycles per byte of both gateways together, stacked by
// cost stage, with the 95 % CI of the total as a whisker and the series
// named above the bar. It returns an error wrapping ErrNoData when no
// point has a cost.
func Cost(runs []*results.Run, opts Options) (*plot.Plot, error) {
	d, err := costDataOf(runs, opts)
	if err != nil {
		return nil, err
	}
	p := newPlot(d.title, d.xlabel, "cycles per byte")
	addGrid(p)
	p.Add(d.bars)
	legend := newSideLegend()
	for i := len(results.CostStages) - 1; i >= 0; i-- {
		legend.Add(results.CostStages[i], &plotter.Line{LineStyle: draw.LineStyle{Color: stageColors[i], Width: vg.Points(8)}})
	}
	legend.Add("")
	legend.Add("whisker: 95 % CI of the total")
	p.Add(legend)
	ticks := make([]float64, len(d.names))
	for i := range d.names {
		ticks[i] = float64(i)
	}
	p.X.Tick.Marker = valueTicks{values: ticks, labels: d.names}
	p.X.Min, p.X.Max = -0.6, float64(len(d.names))-0.4
	p.Y.Min, p.Y.Max = 0, d.ymax*1.15
	return p, nil
}

// costData is what the cost figure draws.
type costData struct {
	title, xlabel string
	names         []string // category labels
	bars          *costBars
	ymax          float64
}

// costKey is one category of the cost figure: a tunnel and flow count.
type costKey struct{ t, f int }

// costLine is one series' costs, by category.
type costLine struct {
	label string
	pts   map[costKey]*results.PointCost
}

// costPoints is what the runs measured of cost per byte, gathered by series.
type costPoints struct {
	lines          []*costLine
	cats           map[costKey]bool
	tunnels, flows map[int]bool
	method, clock  string
}

// costDataOf gathers the cost figure's bars from runs.
func costDataOf(runs []*results.Run, opts Options) (costData, error) {
	cp := gatherCosts(runs, opts)
	if len(cp.lines) == 0 {
		return costData{}, fmt.Errorf("cost per byte: no point has CPU samples: %w", ErrNoData)
	}
	keys := make([]costKey, 0, len(cp.cats))
	for k := range cp.cats {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b costKey) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.f, b.f)) })
	byFlows := len(cp.tunnels) == 1 && len(cp.flows) > 1
	xlabel := "tunnels"
	switch {
	case byFlows:
		xlabel = "flows per tunnel"
	case len(cp.flows) > 1:
		xlabel = "tunnels × flows per tunnel"
	}
	names, bars, ymax := cp.bars(keys, byFlows)
	if ymax <= 0 {
		ymax = 1
	}
	return costData{title: costTitle(cp.method, cp.clock), xlabel: xlabel, names: names, bars: bars, ymax: ymax}, nil
}

// gatherCosts collects the points of runs that have a finite cost per
// byte, one line per series (per run and series when there are several
// runs), in the order they first appear.
func gatherCosts(runs []*results.Run, opts Options) costPoints {
	labels := runLabels(runs, opts.RunLabels)
	cp := costPoints{cats: map[costKey]bool{}, tunnels: map[int]bool{}, flows: map[int]bool{}}
	index := map[string]*costLine{}
	for ri, r := range runs {
		if r == nil {
			continue
		}
		for _, p := range r.Points {
			if p.Cost == nil || !finite(p.Cost.CyclesPerByte) {
				continue
			}
			label := p.Series
			if len(runs) > 1 {
				label = labels[ri] + "/" + label
			}
			l := index[label]
			if l == nil {
				l = &costLine{label: label, pts: map[costKey]*results.PointCost{}}
				index[label] = l
				cp.lines = append(cp.lines, l)
			}
			k := costKey{p.Tunnels, p.FlowsPerTunnel}
			l.pts[k] = p.Cost
			cp.cats[k] = true
			cp.tunnels[p.Tunnels], cp.flows[p.FlowsPerTunnel] = true, true
			cp.method = p.Cost.Method
		}
		if r.Clock != nil && cp.clock == "" {
			cp.clock = fmt.Sprintf("%.2f GHz %s clock", r.Clock.Hz/1e9, r.Clock.Source)
		}
	}
	return cp
}

// bars lays out one stacked bar per line and category, side by side in
// each category; it returns the category names and the top of the
// highest whisker.
func (cp costPoints) bars(keys []costKey, byFlows bool) (names []string, bars *costBars, ymax float64) {
	n := len(cp.lines)
	width := 0.8 / float64(n)
	bars = &costBars{width: width}
	for ci, k := range keys {
		switch {
		case byFlows:
			names = append(names, fmt.Sprint(k.f))
		case len(cp.flows) > 1:
			names = append(names, fmt.Sprintf("%d×%d", k.t, k.f))
		default:
			names = append(names, fmt.Sprint(k.t))
		}
		for i, l := range cp.lines {
			pc := l.pts[k]
			if pc == nil {
				continue
			}
			b := costBar{x: float64(ci) + (float64(i)-float64(n-1)/2)*width, ci: pc.CyclesPerByteCI95, label: truncate(l.label, 12)}
			b.stages = stageCosts(pc)
			bars.bars = append(bars.bars, b)
			ymax = max(ymax, pc.CyclesPerByte+pc.CyclesPerByteCI95)
		}
	}
	return names, bars, ymax
}

// stageCosts is pc's cycles per byte of each stage, in results.CostStages
// order; a stage it lacks counts 0.
func stageCosts(pc *results.PointCost) []float64 {
	var out []float64
	for _, st := range results.CostStages {
		v := 0.0
		for _, s := range pc.Stages {
			if s.Stage == st && finite(s.CyclesPerByte) {
				v = s.CyclesPerByte
			}
		}
		out = append(out, v)
	}
	return out
}

// costTitle is the cost figure's title, with how the cycles were
// attributed and the clock below it.
func costTitle(method, clock string) string {
	title := "Cost per byte: gateway CPU cycles per payload byte, both gateways"
	var sub []string
	if method == results.ByThread {
		sub = append(sub, "attributed by thread: the cores are shared")
	}
	if clock != "" {
		sub = append(sub, clock)
	}
	if len(sub) > 0 {
		title += "\n(" + sub[0]
		for _, s := range sub[1:] {
			title += ", " + s
		}
		title += ")"
	}
	return title
}

// costBars draws the stacked bars of Cost.
type costBars struct {
	width float64
	bars  []costBar
}

// Plot implements plot.Plotter.
func (cb *costBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := text.Style{Color: color.Gray{0x30}, XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: p.Title.TextStyle.Handler}
	setFont(&sty, tickSize)
	for _, b := range cb.bars {
		x0, x1 := trX(b.x-cb.width*0.45), trX(b.x+cb.width*0.45)
		y := 0.0
		for i, v := range b.stages {
			if v <= 0 {
				continue
			}
			y0, y1 := trY(y), trY(y+v)
			pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
			c.FillPolygon(stageColors[i%len(stageColors)], c.ClipPolygonXY(pts))
			y += v
		}
		top := trY(y)
		if b.ci > 0 {
			xm := trX(b.x)
			ls := draw.LineStyle{Color: color.Gray{0x20}, Width: vg.Points(0.8)}
			hi := trY(y + b.ci)
			lo := trY(max(0, y-b.ci))
			c.StrokeLine2(ls, xm, lo, xm, hi)
			c.StrokeLine2(ls, xm-vg.Points(3), hi, xm+vg.Points(3), hi)
			top = hi
		}
		c.FillText(sty, vg.Point{X: trX(b.x), Y: top + vg.Points(2)}, b.label)
	}
}

// DataRange implements plot.DataRanger.
func (cb *costBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = 0, 1
	for i, b := range cb.bars {
		total := b.ci
		for _, v := range b.stages {
			total += v
		}
		if i == 0 || b.x < xmin {
			xmin = b.x
		}
		xmax = max(xmax, b.x)
		ymax = max(ymax, total)
	}
	return xmin, xmax, 0, ymax
}

// costFigure adds the cost figure of runs when any point has a cost.
func (wr *writer) costFigure(runs []*results.Run) {
	p, err := Cost(runs, wr.opts)
	caption := "Gateway CPU cycles per payload byte of each series at each point, both gateways together, stacked by stage (softirq, NAPI threads, crypto workers, datapath threads, TUN I/O, other; traffic generators and samplers left out); means over the successful repetitions, whisker the 95 % CI of the total."
	if slices.ContainsFunc(runs, func(r *results.Run) bool { return r != nil && r.Testbed.SharedCores }) {
		caption += " On shared cores the cost is attributed by thread: softirq work done in another process's context (forwarding without a tunnel runs in the iperf3 senders') is not counted."
	}
	wr.add("cost", "cost", caption, p, err, 0, 0)
}
