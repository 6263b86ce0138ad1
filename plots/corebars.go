package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CPUPoint says which measurement a CPU table belongs to, for titles and
// file names, and which part of the trace per-core bars average.
type CPUPoint struct {
	// Run labels the run when several are shown; optional.
	Run string
	// Series, Tunnels and FlowsPerTunnel name the point.
	Series         string
	Tunnels        int
	FlowsPerTunnel int
	// Rep is the repetition index, -1 when the table is not of one.
	Rep int
	// From and To bound the window, in seconds of the trace, that bars
	// average and heatmaps mark (the measured interval without the
	// warm-up). To <= 0 means to the end of the trace.
	From, To float64
	// SharedCores says the hosts of the testbed share one machine's
	// cores, so per-core figures are machine-wide.
	SharedCores bool
	// Marks are events on the host a heatmap draws, such as a hybrid
	// tunnel's mode switches, at their times in seconds of the trace.
	Marks []TimeMark
}

// TimeMark is an event to mark on a time axis: a vertical line at T
// seconds of the trace, labelled Label.
type TimeMark struct {
	T     float64
	Label string
}

// String names the point: "kernel, 8 tunnels × 1 flow, rep 0".
func (c CPUPoint) String() string {
	var parts []string
	name := c.Series
	if c.Run != "" {
		name = c.Run + "/" + name
	}
	if name != "" {
		parts = append(parts, name)
	}
	if c.Tunnels > 0 {
		parts = append(parts, plural(c.Tunnels, "tunnel")+" × "+plural(c.FlowsPerTunnel, "flow"))
	}
	if c.Rep >= 0 {
		parts = append(parts, "rep "+strconv.Itoa(c.Rep))
	}
	return strings.Join(parts, ", ")
}

// windowText says which part of the trace is averaged.
func (c CPUPoint) windowText() string {
	switch {
	case c.From > 0 && c.To > 0:
		return fmt.Sprintf("mean over %g–%g s", c.From, c.To)
	case c.From > 0:
		return fmt.Sprintf("mean from %g s, after the warm-up", c.From)
	case c.To > 0:
		return fmt.Sprintf("mean until %g s", c.To)
	}
	return "mean over the trace"
}

// cpuTitle is the title of a per-core figure.
func cpuTitle(what, host string, at CPUPoint) string {
	t := host + " " + what
	if s := at.String(); s != "" {
		t += ": " + s
	}
	if at.SharedCores {
		t += "\n(machine-wide: the testbed's hosts share these cores)"
	}
	return t
}

// noHostData is the error of a per-core figure for a host the table lacks.
func noHostData(what, host string, cpu CPUTable) error {
	hosts := cpu.Hosts()
	if len(hosts) == 0 {
		return fmt.Errorf("%s of %s: the CPU table has no sample: %w", what, host, ErrNoData)
	}
	return fmt.Errorf("%s of %s: the CPU table has no sample of it (hosts: %s): %w",
		what, host, strings.Join(hosts, ", "), ErrNoData)
}

// CoreBars draws the mean CPU use of every core of one gateway over the
// window of at as stacked bars — user, system, softirq, and irq + steal
// when there is any — with the cores in highlight outlined in red and
// marked above (Fig. 5 and 9 of the HPSR 2025 paper). highlightLabel names
// them in the legend ("black-hole core"); "highlighted core" when empty.
// It returns an error wrapping ErrNoData when the table has no sample of
// host in the window.
func CoreBars(cpu CPUTable, host string, at CPUPoint, highlight []int, highlightLabel string, opts Options) (*plot.Plot, error) {
	loads := cpu.CoreLoads(host, at.From, at.To, math.Inf(1))
	loads = slices.DeleteFunc(loads, func(l CoreLoad) bool { return l.Samples == 0 })
	if len(loads) == 0 {
		if len(cpu.Host(host)) > 0 {
			return nil, fmt.Errorf("per-core CPU of %s: no sample in the window %s: %w", host, at.windowText(), ErrNoData)
		}
		return nil, noHostData("per-core CPU", host, cpu)
	}
	p := newPlot(cpuTitle("per-core CPU", host, at), "core ("+at.windowText()+")", "CPU time (%)")
	addGrid(p)

	bottoms, layers, drawn := stackCoreLayers(p, loads)
	top := 100.0
	for _, v := range bottoms {
		top = math.Max(top, v)
	}

	legend := newSideLegend()
	for i := len(layers) - 1; i >= 0; i-- {
		legend.Add(layers[i].name, drawn[i])
	}
	if grow, err := markCores(p, legend, loads, bottoms, top, highlight, highlightLabel); err != nil {
		return nil, fmt.Errorf("per-core CPU of %s: %w", host, err)
	} else if grow {
		top += top * 0.1
	}
	p.Add(legend)

	ticks := valueTicks{max: 32, keep: map[float64]bool{}}
	for i, l := range loads {
		ticks.values = append(ticks.values, float64(i))
		ticks.labels = append(ticks.labels, strconv.Itoa(l.Core))
		if slices.Contains(highlight, l.Core) {
			ticks.keep[float64(i)] = true
		}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.6, float64(len(loads)-1)+0.6
	p.Y.Min, p.Y.Max = 0, top
	p.Y.Tick.Marker = valueTicks{values: []float64{0, 20, 40, 60, 80, 100}, labels: []string{"0", "20", "40", "60", "80", "100"}}
	return p, nil
}

// coreBarWidth is the width of a core's bar, in cores.
const coreBarWidth = 0.72

// coreLayer is one kind of CPU time stacked in the per-core bars.
type coreLayer struct {
	name string
	col  color.Color
	get  func(CoreLoad) float64
}

// stackCoreLayers draws the user, system, softirq (and, when any core has
// some, irq + steal) time of each core as stacked bars; it returns each
// bar's top, the layers and their drawings.
func stackCoreLayers(p *plot.Plot, loads []CoreLoad) ([]float64, []coreLayer, []*bars) {
	anyOther := false
	for _, l := range loads {
		if l.Other >= 0.5 {
			anyOther = true
		}
	}
	layers := []coreLayer{
		{"user", userColor, func(l CoreLoad) float64 { return l.User }},
		{"system", systemColor, func(l CoreLoad) float64 { return l.System }},
		{"softirq", softirqColor, func(l CoreLoad) float64 { return l.SoftIRQ }},
	}
	if anyOther {
		layers = append(layers, coreLayer{"irq + steal", otherColor, func(l CoreLoad) float64 { return l.Other }})
	}
	bottoms := make([]float64, len(loads))
	var drawn []*bars
	for _, layer := range layers {
		b := &bars{fill: layer.col}
		for i, l := range loads {
			v := layer.get(l)
			if !finite(v) || v < 0 {
				v = 0
			}
			b.rects = append(b.rects, rect{X: float64(i), W: coreBarWidth, Bottom: bottoms[i], Top: bottoms[i] + v})
			bottoms[i] += v
		}
		p.Add(b)
		drawn = append(drawn, b)
	}
	return bottoms, layers, drawn
}

// markCores frames the highlighted cores' bars in red with a marker above
// them and names them in the legend; it reports whether it marked any.
func markCores(p *plot.Plot, legend *sideLegend, loads []CoreLoad, bottoms []float64, top float64, highlight []int, label string) (bool, error) {
	hl := &bars{outline: draw.LineStyle{Color: highlightColor, Width: vg.Points(1.6)}}
	var marks plotter.XYs
	var named []string
	for i, l := range loads {
		if !slices.Contains(highlight, l.Core) {
			continue
		}
		hl.rects = append(hl.rects, rect{X: float64(i), W: coreBarWidth + 0.14, Bottom: 0, Top: math.Max(bottoms[i], 1)})
		marks = append(marks, plotter.XY{X: float64(i), Y: math.Max(bottoms[i], 1) + top*0.045})
		named = append(named, strconv.Itoa(l.Core))
	}
	if len(hl.rects) == 0 {
		return false, nil
	}
	p.Add(hl)
	sc, err := plotter.NewScatter(marks)
	if err != nil {
		return false, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: highlightColor, Radius: vg.Points(3.5), Shape: draw.PyramidGlyph{}}
	p.Add(sc)
	if label == "" {
		label = "highlighted core"
	}
	legend.Add("")
	legend.Add(label, hl, sc)
	legend.Add("  core " + truncate(strings.Join(named, ", "), maxLegendText-7))
	return true, nil
}
