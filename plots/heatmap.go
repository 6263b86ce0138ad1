package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// busyGrid is a core × time grid of busy %, as plotter.GridXYZ: columns
// are sample times, rows cores.
type busyGrid struct {
	times []float64
	cores []int
	z     [][]float64 // [time][core index]
}

// Dims implements plotter.GridXYZ.
func (g *busyGrid) Dims() (c, r int) { return len(g.times), len(g.cores) }

// Z implements plotter.GridXYZ.
func (g *busyGrid) Z(c, r int) float64 { return g.z[c][r] }

// X implements plotter.GridXYZ.
func (g *busyGrid) X(c int) float64 { return g.times[c] }

// Y implements plotter.GridXYZ.
func (g *busyGrid) Y(r int) float64 { return float64(r) }

// newBusyGrid builds the grid of host from t; samples at the same time and
// core are averaged, missing cells are NaN.
func newBusyGrid(t CPUTable, host string) *busyGrid {
	g := &busyGrid{cores: t.Cores(host)}
	for _, s := range t {
		if s.Host == host && finite(s.T) {
			g.times = append(g.times, s.T)
		}
	}
	slices.Sort(g.times)
	g.times = slices.Compact(g.times)
	ti := make(map[float64]int, len(g.times))
	for i, x := range g.times {
		ti[x] = i
	}
	ci := make(map[int]int, len(g.cores))
	for i, c := range g.cores {
		ci[c] = i
	}
	sum := make([][]float64, len(g.times))
	n := make([][]int, len(g.times))
	g.z = make([][]float64, len(g.times))
	for i := range g.times {
		sum[i] = make([]float64, len(g.cores))
		n[i] = make([]int, len(g.cores))
		g.z[i] = make([]float64, len(g.cores))
	}
	for _, s := range t {
		if s.Host != host || !finite(s.T) || math.IsNaN(s.Busy) {
			continue
		}
		i, j := ti[s.T], ci[s.Core]
		sum[i][j] += s.Busy
		n[i][j]++
	}
	for i := range g.z {
		for j := range g.z[i] {
			if n[i][j] == 0 {
				g.z[i][j] = math.NaN()
			} else {
				g.z[i][j] = math.Min(100, math.Max(0, sum[i][j]/float64(n[i][j])))
			}
		}
	}
	return g
}

// regular reports whether the sample times are evenly spaced (within
// 20 %), so the grid can be drawn as an image without gaps or seams.
func (g *busyGrid) regular() bool {
	if len(g.times) < 3 {
		return false
	}
	lo, hi := math.Inf(1), 0.0
	for i := 1; i < len(g.times); i++ {
		d := g.times[i] - g.times[i-1]
		lo, hi = math.Min(lo, d), math.Max(hi, d)
	}
	return lo > 0 && hi <= lo*1.2
}

// upGrid repeats every cell of an evenly sampled busyGrid kx times along
// time and ky times along cores (nearest neighbour), so a rasterized
// heatmap keeps sharp cell edges when it is scaled up.
type upGrid struct {
	g      *busyGrid
	kx, ky int
	dt     float64
}

// Target size in image pixels of an upsampled grid.
const upPixelsX, upPixelsY = 800, 480

func newUpGrid(g *busyGrid) *upGrid {
	k := func(n, target int) int { return min(64, max(1, (target+n-1)/n)) }
	dt := (g.times[len(g.times)-1] - g.times[0]) / float64(len(g.times)-1)
	return &upGrid{g: g, kx: k(len(g.times), upPixelsX), ky: k(len(g.cores), upPixelsY), dt: dt}
}

// Dims implements plotter.GridXYZ.
func (u *upGrid) Dims() (c, r int) { return len(u.g.times) * u.kx, len(u.g.cores) * u.ky }

// Z implements plotter.GridXYZ.
func (u *upGrid) Z(c, r int) float64 { return u.g.z[c/u.kx][r/u.ky] }

// X implements plotter.GridXYZ: the sub-cells split a sample's interval
// evenly around its time.
func (u *upGrid) X(c int) float64 {
	return u.g.times[c/u.kx] - u.dt/2 + (float64(c%u.kx)+0.5)*u.dt/float64(u.kx)
}

// Y implements plotter.GridXYZ.
func (u *upGrid) Y(r int) float64 {
	return float64(r/u.ky) - 0.5 + (float64(r%u.ky)+0.5)/float64(u.ky)
}

// busyColorMap returns the colour map of busy %: light yellow for idle to
// dark red for saturated, with luminance falling linearly.
func busyColorMap() palette.ColorMap {
	// ColorBrewer YlOrRd, darkest first: NewLuminance wants luminance to
	// rise, and Reverse turns it the way round.
	ctrl := []color.Color{
		color.RGBA{0x80, 0x00, 0x26, 0xff}, color.RGBA{0xbd, 0x00, 0x26, 0xff},
		color.RGBA{0xe3, 0x1a, 0x1c, 0xff}, color.RGBA{0xfc, 0x4e, 0x2a, 0xff},
		color.RGBA{0xfd, 0x8d, 0x3c, 0xff}, color.RGBA{0xfe, 0xb2, 0x4c, 0xff},
		color.RGBA{0xfe, 0xd9, 0x76, 0xff}, color.RGBA{0xff, 0xed, 0xa0, 0xff},
		color.RGBA{0xff, 0xff, 0xcc, 0xff},
	}
	var cm palette.ColorMap
	if l, err := moreland.NewLuminance(ctrl); err == nil {
		cm = palette.Reverse(l)
	} else {
		cm = moreland.ExtendedBlackBody()
	}
	cm.SetMin(0)
	cm.SetMax(100)
	return cm
}

// heatNoPad is a HeatMap whose cells reach the axes: plotter.HeatMap pads
// the data area by 5 points on every side.
type heatNoPad struct{ *plotter.HeatMap }

// GlyphBoxes implements plot.GlyphBoxer.
func (heatNoPad) GlyphBoxes(*plot.Plot) []plot.GlyphBox { return nil }

// maxVectorCells bounds the heatmap cells drawn as vector rectangles; a
// larger grid is drawn as an image.
const maxVectorCells = 20000

// Heatmap draws the busy share of every core of one gateway over time, a
// core × time grid coloured from light yellow (idle) to dark red (100 %),
// where a black hole shows as one dark row while the others stay light. The
// cores in highlight are framed in red and named in the title. The window
// of at, when it starts after the trace, is marked by a dashed line at the
// end of the warm-up. It returns an error wrapping ErrNoData when the table
// has no sample of host.
func Heatmap(cpu CPUTable, host string, at CPUPoint, highlight []int, highlightLabel string, opts Options) (*plot.Plot, error) {
	g := newBusyGrid(cpu, host)
	if len(g.times) == 0 || len(g.cores) == 0 {
		return nil, noHostData("CPU heatmap", host, cpu)
	}
	title := cpuTitle("busy per core", host, at)
	var hlIdx []int
	var hlNames []string
	for i, c := range g.cores {
		if slices.Contains(highlight, c) {
			hlIdx = append(hlIdx, i)
			hlNames = append(hlNames, strconv.Itoa(c))
		}
	}
	if len(hlIdx) > 0 {
		if highlightLabel == "" {
			highlightLabel = "highlighted"
		}
		title += fmt.Sprintf("\nred frame: %s core %s", highlightLabel, truncate(strings.Join(hlNames, ", "), 40))
	}
	p := newPlot(title, "time since the sampler started (s)", "core")

	cm := busyColorMap()
	pal := cm.Palette(256)
	// An evenly sampled grid is drawn as an image, upsampled so that the
	// renderer's smoothing cannot blur one sample into the next; vector
	// cells would show thin seams between them.
	var grid plotter.GridXYZ = g
	if g.regular() {
		grid = newUpGrid(g)
	}
	hm := plotter.NewHeatMap(grid, pal)
	hm.Min, hm.Max = 0, 100
	hm.NaN = color.Gray{0xE8}
	_, isUp := grid.(*upGrid)
	hm.Rasterized = isUp || len(g.times)*len(g.cores) > maxVectorCells
	p.Add(heatNoPad{hm})

	xmin, xmax, ymin, ymax := hm.DataRange()
	frame := vg.Points(1.5)
	if len(g.cores) > 32 {
		frame = vg.Points(0.8)
	}
	for _, i := range hlIdx {
		y := float64(i)
		p.Add(&bars{
			rects:   []rect{{X: (xmin + xmax) / 2, W: xmax - xmin, Bottom: y - 0.5, Top: y + 0.5}},
			outline: draw.LineStyle{Color: highlightColor, Width: frame},
		})
	}
	if at.From > xmin && at.From < xmax {
		p.Add(&vline{x: at.From, label: "warm-up ends", style: draw.LineStyle{
			Color: color.Gray{0x20}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)},
		}})
	}
	if at.To > 0 && at.To > xmin && at.To < xmax {
		p.Add(&vline{x: at.To, style: draw.LineStyle{
			Color: color.Gray{0x20}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)},
		}})
	}
	addMarks(p, at.Marks, xmin, xmax)
	p.Add(newColorBar(cm, "busy (% of the core)", []float64{0, 25, 50, 75, 100}))

	ticks := valueTicks{max: 24, keep: map[float64]bool{}}
	for i, c := range g.cores {
		ticks.values = append(ticks.values, float64(i))
		ticks.labels = append(ticks.labels, strconv.Itoa(c))
		if slices.Contains(hlIdx, i) {
			ticks.keep[float64(i)] = true
		}
	}
	p.Y.Tick.Marker = ticks
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	return p, nil
}

// markColor draws event marks (mode switches): blue, apart from the
// heatmap's yellow to red.
var markColor = color.RGBA{0x1f, 0x4e, 0xd8, 0xff}

// maxMarkLabels bounds the marks that get a label; the others are lines.
const maxMarkLabels = 6

// addMarks draws the marks within [xmin, xmax] as dotted blue lines, the
// first maxMarkLabels labelled one below the other so that close ones
// stay readable.
func addMarks(p *plot.Plot, marks []TimeMark, xmin, xmax float64) {
	labelled := 0
	for _, m := range marks {
		if m.T < xmin || m.T > xmax {
			continue
		}
		v := &vline{x: m.T, style: draw.LineStyle{
			Color: markColor, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(1.5), vg.Points(2)},
		}}
		if labelled < maxMarkLabels {
			// Below the warm-up line's label; to the left of the line
			// in the right part of the plot, so it stays inside.
			v.label, v.row, v.left = m.Label, labelled+1, m.T > xmin+0.6*(xmax-xmin)
			labelled++
		}
		p.Add(v)
	}
}

// vline is a vertical line across the data area at x, with an optional
// label at its top (row rows of text lower), right of the line or, with
// left, left of it.
type vline struct {
	x     float64
	label string
	row   int
	left  bool
	style draw.LineStyle
}

// Plot implements plot.Plotter.
func (v *vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
	if v.label == "" {
		return
	}
	sty := p.X.Tick.Label
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	sty.Color = v.style.Color
	y := c.Max.Y - vg.Points(2) - vg.Length(v.row)*1.2*sty.Font.Size
	x += vg.Points(2)
	if v.left {
		sty.XAlign = draw.XRight
		x -= vg.Points(4)
	}
	c.FillText(sty, vg.Point{X: x, Y: y}, v.label)
}
