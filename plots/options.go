package plots

import (
	"errors"
	"fmt"

	"gonum.org/v1/plot/vg"
)

// ErrNoData is wrapped by the errors of figures that have nothing to show:
// no point measured, every repetition failed, no CPU sample for the host.
// Callers that plot "whatever there is" test for it with errors.Is and go
// on.
var ErrNoData = errors.New("no data to plot")

// ErrorBars selects what the error bars of throughput figures show.
type ErrorBars int

const (
	// CI95 draws the half-width of the 95 % confidence interval of the
	// mean (Student's t), as results.Summary.CI95Gbps. The default.
	CI95 ErrorBars = iota
	// Stddev draws ± one sample standard deviation.
	Stddev
	// NoErrorBars draws the means only.
	NoErrorBars
)

// String names the error bars as the legend does.
func (e ErrorBars) String() string {
	switch e {
	case CI95:
		return "95 % CI of the mean"
	case Stddev:
		return "± 1 standard deviation"
	case NoErrorBars:
		return "none"
	}
	return fmt.Sprintf("ErrorBars(%d)", int(e))
}

// XAxis selects the x axis of the throughput figure.
type XAxis int

const (
	// XAuto picks from the data: tunnels when the tunnel count varies,
	// flows per tunnel when only that varies, and tunnels with one line
	// per series and flow count when both vary. The x label says which.
	XAuto XAxis = iota
	// XTunnels plots against the number of tunnels; a sweep that also
	// varies flows per tunnel gets one line per series and flow count.
	XTunnels
	// XFlowsPerTunnel plots against the flows per tunnel; a sweep that
	// also varies tunnels gets one line per series and tunnel count.
	XFlowsPerTunnel
	// XTotalFlows plots against tunnels × flows per tunnel; points with
	// the same total are told apart by one line per flow count.
	XTotalFlows
)

// CPUFigures selects the points WriteAll draws per-core figures for.
type CPUFigures int

const (
	// CPUAuto draws, per series, the point with the most flows and every
	// point where a highlighted (saturated) core was found.
	CPUAuto CPUFigures = iota
	// CPUAll draws every point that has a CPU trace.
	CPUAll
	// CPUNone draws no per-core figure.
	CPUNone
)

// Highlighter picks the cores a per-core figure highlights for one host at
// one point, and the legend text naming them ("black-hole core"). The
// black-hole detector plugs in here; DefaultHighlighter marks persistently
// saturated cores.
type Highlighter func(host string, at CPUPoint, cpu CPUTable) (cores []int, label string)

// Point names one sweep point: a tunnel count and flows per tunnel.
type Point struct {
	Tunnels        int
	FlowsPerTunnel int
}

// Options tune the figures. The zero value is usable: 95 % CI error bars,
// the x axis chosen from the data, 16 × 10 cm at 150 dpi.
type Options struct {
	// ErrorBars selects what error bars show; CI95 by default.
	ErrorBars ErrorBars
	// XAxis selects the x axis of the throughput figure.
	XAxis XAxis
	// Width and Height are the figure size; 16 cm × 10 cm when zero.
	// Per-core bars of hosts with many cores are drawn wider.
	Width, Height vg.Length
	// DPI is the resolution of PNG files; 150 when zero.
	DPI int
	// Title replaces the scenario-derived title of Throughput and Compare.
	Title string
	// RunLabels name the runs, index for index, where series of several
	// runs are combined ("run/series"); the scenario name (and start time,
	// when two runs share it) by default.
	RunLabels []string
	// RunDirs are the run folders of the runs, index for index, where
	// WriteAll finds the per-repetition cpu.csv files. With one run and
	// no RunDirs, WriteAll's dir is taken as its folder.
	RunDirs []string
	// Formats are the file formats WriteAll writes: "png", "svg". Both
	// when empty.
	Formats []string
	// CPUFigures selects the points WriteAll draws per-core figures for.
	CPUFigures CPUFigures
	// ComparePoints are the points WriteAll draws comparison bars at; by
	// default the smallest and the largest point measured by two series
	// or more.
	ComparePoints []Point
	// Highlight picks the cores per-core figures highlight;
	// DefaultHighlighter with the scenario's probe thresholds when nil.
	Highlight Highlighter
}

// Default figure geometry.
const (
	defaultWidth  = 16 * vg.Centimeter
	defaultHeight = 10 * vg.Centimeter
	defaultDPI    = 150
)

// size returns the figure size and resolution, defaults applied.
func (o Options) size() (w, h vg.Length, dpi int) {
	w, h, dpi = o.Width, o.Height, o.DPI
	if w <= 0 {
		w = defaultWidth
	}
	if h <= 0 {
		h = defaultHeight
	}
	if dpi <= 0 {
		dpi = defaultDPI
	}
	return w, h, dpi
}

// PixelSize returns the size in pixels of a PNG of a w × h figure at dpi,
// as Save writes it.
func PixelSize(w, h vg.Length, dpi int) (int, int) {
	return int(w.Dots(float64(dpi)) + 0.5), int(h.Dots(float64(dpi)) + 0.5)
}
