package plots

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Font sizes, chosen for a 16 cm wide figure that is read both on a screen
// and in a two-column paper.
const (
	titleSize  = vg.Length(11)
	labelSize  = vg.Length(10)
	tickSize   = vg.Length(9)
	legendSize = vg.Length(9)
)

// sans is the typeface of every text: Liberation Sans reads better on a
// screen than gonum's default serif and prints as well.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// setFont gives a text style the package's typeface at size.
func setFont(s *text.Style, size vg.Length) {
	s.Font = font.From(sans, size)
}

// seriesColors is the Okabe–Ito palette without its yellow, which is
// unreadable on white: distinguishable by colour-blind readers.
var seriesColors = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
}

// seriesGlyphs and seriesDashes tell series apart in black and white.
var (
	seriesGlyphs = []draw.GlyphDrawer{
		draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
		draw.PyramidGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{},
		draw.CrossGlyph{}, draw.PlusGlyph{},
	}
	seriesDashes = [][]vg.Length{
		nil, {vg.Points(6), vg.Points(2)}, {vg.Points(2), vg.Points(2)},
		{vg.Points(6), vg.Points(2), vg.Points(2), vg.Points(2)},
	}
)

// Colours of the CPU time categories and of highlights.
var (
	userColor      = color.RGBA{0x56, 0xB4, 0xE9, 0xff}
	systemColor    = color.RGBA{0x00, 0x72, 0xB2, 0xff}
	softirqColor   = color.RGBA{0xE6, 0x9F, 0x00, 0xff}
	otherColor     = color.RGBA{0xAA, 0xAA, 0xAA, 0xff}
	highlightColor = color.RGBA{0xC0, 0x00, 0x00, 0xff}
	failedColor    = color.RGBA{0xC0, 0x00, 0x00, 0xff}
	gridColor      = color.Gray{0xDD}
)

// seriesStyle returns the colour, glyph and dashes of the i-th series.
func seriesStyle(i int) (color.Color, draw.GlyphDrawer, []vg.Length) {
	return seriesColors[i%len(seriesColors)],
		seriesGlyphs[i%len(seriesGlyphs)],
		seriesDashes[(i/len(seriesColors))%len(seriesDashes)]
}

// newPlot returns a plot with the package's fonts and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	setFont(&p.Title.TextStyle, titleSize)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		setFont(&a.Label.TextStyle, labelSize)
		setFont(&a.Tick.Label, tickSize)
		a.Padding = vg.Points(2)
	}
	p.X.Label.Padding = vg.Points(3)
	p.Y.Label.Padding = vg.Points(3)
	return p
}

// addGrid adds horizontal grid lines behind the data.
func addGrid(p *plot.Plot) {
	g := &hgrid{style: draw.LineStyle{Color: gridColor, Width: vg.Points(0.5)}}
	p.Add(g)
}

// hgrid draws horizontal lines at the major y ticks.
type hgrid struct{ style draw.LineStyle }

// Plot implements plot.Plotter.
func (g *hgrid) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.IsMinor() || t.Value < p.Y.Min || t.Value > p.Y.Max {
			continue
		}
		y := trY(t.Value)
		c.StrokeLine2(g.style, c.Min.X, y, c.Max.X, y)
	}
}

// truncate shortens s to at most n runes, with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n || n < 2 {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// maxLegendText bounds legend entries so the legend column stays narrow.
const maxLegendText = 32

// sideLegend draws a legend in a column right of the data area and makes
// the plot reserve room for it, so it never hides data.
type sideLegend struct {
	legend plot.Legend
	gap    vg.Length
	extra  vg.Length // room for something drawn below the entries
	n      int       // entries
}

// newSideLegend returns an empty legend column.
func newSideLegend() *sideLegend {
	l := plot.NewLegend()
	setFont(&l.TextStyle, legendSize)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(18)
	l.Padding = vg.Points(2.5)
	return &sideLegend{legend: l, gap: vg.Points(8), extra: vg.Points(4)}
}

// Add adds an entry; an entry without thumbnails is a note.
func (s *sideLegend) Add(name string, thumbs ...plot.Thumbnailer) {
	s.legend.Add(truncate(name, maxLegendText), thumbs...)
	s.n++
}

// width is the room the legend takes.
func (s *sideLegend) width() vg.Length {
	r := s.legend.Rectangle(draw.Canvas{})
	return r.Max.X - r.Min.X
}

// Plot implements plot.Plotter: it draws the legend right of c.
func (s *sideLegend) Plot(c draw.Canvas, _ *plot.Plot) {
	lc := c
	lc.Min.X = c.Max.X + s.gap
	lc.Max.X = lc.Min.X + s.width()
	s.legend.Draw(lc)
}

// GlyphBoxes implements plot.GlyphBoxer: a zero-height box right of the
// data area makes the plot leave room for the legend.
func (s *sideLegend) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	w := s.width()
	if w <= 0 {
		return nil
	}
	return []plot.GlyphBox{{X: 1, Y: 0.5, Rectangle: vg.Rectangle{
		Min: vg.Point{X: 0},
		Max: vg.Point{X: s.gap + w + s.extra},
	}}}
}

// boxThumb is a legend thumbnail: a filled box with an optional outline.
type boxThumb struct {
	fill    color.Color
	outline draw.LineStyle
}

// Thumbnail implements plot.Thumbnailer.
func (b boxThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	h := r.Max.Y - r.Min.Y
	inset := h * 0.1
	pts := []vg.Point{
		{X: r.Min.X + inset, Y: r.Min.Y + inset}, {X: r.Max.X - inset, Y: r.Min.Y + inset},
		{X: r.Max.X - inset, Y: r.Max.Y - inset}, {X: r.Min.X + inset, Y: r.Max.Y - inset},
	}
	if b.fill != nil {
		c.FillPolygon(b.fill, pts)
	}
	if b.outline.Color != nil && b.outline.Width > 0 {
		c.StrokeLines(b.outline, append(pts, pts[0]))
	}
}

// errThumb is a legend thumbnail of an error bar.
type errThumb struct{ style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (e errThumb) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	h := c.Max.Y - c.Min.Y
	lo, hi := c.Min.Y+h*0.1, c.Max.Y-h*0.1
	cap := vg.Points(3)
	c.StrokeLine2(e.style, x, lo, x, hi)
	c.StrokeLine2(e.style, x-cap, lo, x+cap, lo)
	c.StrokeLine2(e.style, x-cap, hi, x+cap, hi)
}

// glyphThumb is a legend thumbnail of one glyph.
type glyphThumb struct{ style draw.GlyphStyle }

// Thumbnail implements plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(g.style, c.Center())
}

// rect is one bar: x centre and width in data units, bottom and top.
type rect struct {
	X, W, Bottom, Top float64
}

// bars draws rectangles in data units, so bars keep their proportions at
// any figure size and core count.
type bars struct {
	rects   []rect
	fill    color.Color
	outline draw.LineStyle
}

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, r := range b.rects {
		if !finite(r.Bottom) || !finite(r.Top) || r.Top == r.Bottom {
			continue
		}
		x0, x1 := trX(r.X-r.W/2), trX(r.X+r.W/2)
		y0, y1 := trY(r.Bottom), trY(r.Top)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		if b.fill != nil {
			c.FillPolygon(b.fill, c.ClipPolygonXY(pts))
		}
		if b.outline.Color != nil && b.outline.Width > 0 {
			c.StrokeLines(b.outline, c.ClipLinesXY(append(pts, pts[0]))...)
		}
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, r := range b.rects {
		xmin = math.Min(xmin, r.X-r.W/2)
		xmax = math.Max(xmax, r.X+r.W/2)
		for _, y := range []float64{r.Bottom, r.Top} {
			if finite(y) {
				ymin = math.Min(ymin, y)
				ymax = math.Max(ymax, y)
			}
		}
	}
	if len(b.rects) == 0 || math.IsInf(ymin, 0) {
		return 0, 0, 0, 0
	}
	return xmin, xmax, ymin, ymax
}

// Thumbnail implements plot.Thumbnailer.
func (b *bars) Thumbnail(c *draw.Canvas) {
	boxThumb{fill: b.fill, outline: b.outline}.Thumbnail(c)
}

// valueTicks marks the given values on an axis, with their labels; when
// there are too many to read, only every k-th is labelled, and values in
// keep always are.
type valueTicks struct {
	values []float64
	labels []string
	max    int // most labels shown
	keep   map[float64]bool
}

// Ticks implements plot.Ticker.
func (v valueTicks) Ticks(min, max float64) []plot.Tick {
	n := len(v.values)
	step := 1
	if v.max > 0 && n > v.max {
		step = (n + v.max - 1) / v.max
	}
	// A label kept out of turn pushes aside the regular labels so close
	// to it that they would overlap.
	var kept []int
	for i, x := range v.values {
		if v.keep[x] {
			kept = append(kept, i)
		}
	}
	crowded := func(i int) bool {
		for _, k := range kept {
			if k != i && abs(k-i) < step {
				return true
			}
		}
		return false
	}
	ticks := make([]plot.Tick, 0, n)
	for i, x := range v.values {
		if x < min || x > max {
			continue
		}
		label := ""
		switch {
		case v.keep[x]:
			label = v.labels[i]
		case i%step == 0 && !crowded(i):
			label = v.labels[i]
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
	}
	return ticks
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// niceTicks marks about five round values (1, 2, 2.5 or 5 × 10^k apart)
// with labels that carry no useless decimals: 0, 5, 10 rather than 0.00,
// 25.00.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !finite(min) || !finite(max) || max <= min {
		if finite(min) {
			return []plot.Tick{{Value: min, Label: strconv.FormatFloat(min, 'g', 4, 64)}}
		}
		return nil
	}
	// The smallest round step that gives at most six intervals.
	mag := math.Pow(10, math.Floor(math.Log10((max-min)/6)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if (max-min)/(m*mag) <= 6+1e-9 {
			step = m * mag
			break
		}
	}
	prec := 0
	if step < 1 {
		prec = int(math.Ceil(-math.Log10(step) - 1e-9))
		if step*math.Pow(10, float64(prec)) != math.Round(step*math.Pow(10, float64(prec))) {
			prec++
		}
	} else if step != math.Round(step) { // 2.5
		prec = 1
	}
	var ticks []plot.Tick
	first := math.Ceil(min/step-1e-9) * step
	for v := first; v <= max+step*1e-9; v += step {
		x := math.Round(v/step) * step
		if x == 0 {
			x = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', prec, 64)})
		// minor ticks halfway
		if h := x + step/2; h <= max {
			ticks = append(ticks, plot.Tick{Value: h})
		}
	}
	return ticks
}

// intTicks returns valueTicks for integer values.
func intTicks(values []int, max int) valueTicks {
	t := valueTicks{max: max}
	for _, v := range values {
		t.values = append(t.values, float64(v))
		t.labels = append(t.labels, strconv.Itoa(v))
	}
	return t
}

// colorBar draws a vertical colour scale right of the data area, with its
// own ticks and title, and makes the plot leave room for it.
type colorBar struct {
	cmap  palette.ColorMap
	title string
	ticks []float64
	unit  string
	gap   vg.Length
	width vg.Length
	style text.Style
}

// newColorBar returns a colour bar for cmap.
func newColorBar(cmap palette.ColorMap, title string, ticks []float64) *colorBar {
	return &colorBar{
		cmap: cmap, title: title, ticks: ticks,
		gap: vg.Points(10), width: vg.Points(10),
		style: text.Style{
			Font:    font.From(sans, tickSize),
			Handler: plot.DefaultTextHandler,
			XAlign:  draw.XLeft, YAlign: draw.YCenter,
		},
	}
}

// labelWidth is the width of the widest tick label.
func (b *colorBar) labelWidth() vg.Length {
	var w vg.Length
	for _, t := range b.ticks {
		r := b.style.Rectangle(b.tickLabel(t))
		w = max(w, r.Max.X-r.Min.X)
	}
	return w
}

func (b *colorBar) tickLabel(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// titleHeight is the height of the rotated title.
func (b *colorBar) titleHeight() vg.Length {
	r := b.style.Rectangle(b.title)
	return r.Max.Y - r.Min.Y
}

// total is the room the bar takes right of the data area.
func (b *colorBar) total() vg.Length {
	return b.gap + b.width + vg.Points(3) + b.labelWidth() + vg.Points(4) + b.titleHeight()
}

// Plot implements plot.Plotter.
func (b *colorBar) Plot(c draw.Canvas, _ *plot.Plot) {
	lo, hi := b.cmap.Min(), b.cmap.Max()
	if !(hi > lo) {
		return
	}
	x0 := c.Max.X + b.gap
	x1 := x0 + b.width
	h := c.Max.Y - c.Min.Y
	const steps = 100
	for i := range steps {
		v := lo + (hi-lo)*(float64(i)+0.5)/steps
		col, err := b.cmap.At(v)
		if err != nil {
			continue
		}
		y0 := c.Min.Y + h*vg.Length(i)/steps
		y1 := c.Min.Y + h*vg.Length(i+1)/steps + vg.Points(0.3)
		c.FillPolygon(col, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	}
	frame := draw.LineStyle{Color: color.Gray{0x55}, Width: vg.Points(0.5)}
	c.StrokeLines(frame, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}, {X: x0, Y: c.Min.Y}})
	for _, t := range b.ticks {
		if t < lo || t > hi {
			continue
		}
		y := c.Min.Y + h*vg.Length((t-lo)/(hi-lo))
		c.StrokeLine2(frame, x1, y, x1+vg.Points(2), y)
		c.FillText(b.style, vg.Point{X: x1 + vg.Points(3), Y: y}, b.tickLabel(t))
	}
	ts := b.style
	ts.Rotation = math.Pi / 2
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	tx := x1 + vg.Points(3) + b.labelWidth() + vg.Points(4)
	c.FillText(ts, vg.Point{X: tx, Y: (c.Min.Y + c.Max.Y) / 2}, b.title)
}

// GlyphBoxes implements plot.GlyphBoxer, reserving room for the bar.
func (b *colorBar) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	return []plot.GlyphBox{{X: 1, Y: 0.5, Rectangle: vg.Rectangle{Max: vg.Point{X: b.total()}}}}
}

// gbps formats a throughput for a label.
func gbps(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
