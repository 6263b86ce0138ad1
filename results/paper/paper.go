// Package paper holds the published results of the papers wgbench
// reproduces, as data (hpsr2025.yaml, embedded), and compares a run with
// them: per figure, series and point where both have a number, and the
// ratios the papers state between series.
package paper

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/results"
)

//go:embed hpsr2025.yaml
var hpsr2025 []byte

//go:embed osm.yaml
var osm []byte

// Where a published value comes from.
const (
	// FromText is a number the paper's text states.
	FromText = "text"
	// Derived is computed from numbers the text states.
	Derived = "derived"
	// Estimate is not stated: the shape the text describes, filled in.
	Estimate = "estimate"
)

// Data is one paper's published results.
type Data struct {
	Paper   string `yaml:"paper"`
	Testbed string `yaml:"testbed"`
	// Setup, when set, says how the paper's setup differs from wgbench's,
	// so that its numbers are read with that in mind.
	Setup   string   `yaml:"setup"`
	Figures []Figure `yaml:"figures"`
	Claims  []Claim  `yaml:"claims"`
}

// Figure is one figure of the paper.
type Figure struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Scenarios are the names of the scenarios that measure it.
	Scenarios []string `yaml:"scenarios"`
	// X is the figure's x axis: tunnels or flows (per tunnel).
	X      string   `yaml:"x"`
	Series []Series `yaml:"series"`
}

// Series is one line or bar group of a figure.
type Series struct {
	Name  string `yaml:"name"`
	Label string `yaml:"label"`
	// Match lists the run series names that measure it.
	Match  []string `yaml:"match"`
	Points []Value  `yaml:"points"`
	// Max is the series' largest value over the figure's x axis.
	Max *Value `yaml:"max"`
}

// Value is one published number.
type Value struct {
	X    int     `yaml:"x"`
	Gbps float64 `yaml:"gbps"`
	// Bound is "min" when the paper says "over" or "exceeds" (or the
	// value is derived from such a number), "max" for an upper bound.
	Bound  string `yaml:"bound"`
	Source string `yaml:"source"`
	Note   string `yaml:"note"`
}

// Claim is a ratio the paper states between two measurements of a figure.
type Claim struct {
	ID     string   `yaml:"id"`
	Figure string   `yaml:"figure"`
	Text   string   `yaml:"text"`
	Num    Selector `yaml:"num"`
	Den    Selector `yaml:"den"`
	Ratio  float64  `yaml:"ratio"`
	// Bound makes Ratio a lower ("min") or upper ("max") bound.
	Bound  string `yaml:"bound"`
	Source string `yaml:"source"`
	// Metric is what the ratio is of: "" for throughput, MetricLatency
	// for latency, which runs do not record yet.
	Metric string `yaml:"metric"`
}

// MetricLatency marks a claim about latency.
const MetricLatency = "latency"

// The bounds a value or a claim may be.
const (
	// Min is a lower bound: "over", "exceeds", "more than".
	Min = "min"
	// Max is an upper bound: "lower than", "below".
	Max = "max"
)

// Verdicts of a measurement against a bound.
const (
	MeetsBound  = "meets the bound"
	MissesBound = "misses the bound"
)

// verdict says whether measured keeps to a bound on published; "" when
// there is no bound (the ratio of the two says how close they are).
func verdict(bound string, measured, published float64) string {
	switch {
	case bound == Min && measured >= published, bound == Max && measured <= published:
		return MeetsBound
	case bound == Min, bound == Max:
		return MissesBound
	}
	return ""
}

// BoundSign is "≥" for a lower bound, "≤" for an upper one, else "".
func BoundSign(bound string) string {
	switch bound {
	case Min:
		return "≥"
	case Max:
		return "≤"
	}
	return ""
}

// Selector picks a measurement: a series at x, or its maximum.
type Selector struct {
	Series string `yaml:"series"`
	X      int    `yaml:"x"`
	Max    bool   `yaml:"max"`
}

func (s Selector) String() string {
	if s.Max {
		return s.Series + " max"
	}
	return fmt.Sprintf("%s@%d", s.Series, s.X)
}

// HPSR2025 returns the published results of the HPSR 2025 paper.
func HPSR2025() (*Data, error) { return Parse(hpsr2025) }

// OSM returns the published results of the OSM-WireGuard paper
// (WireGuard against OpenVPN).
func OSM() (*Data, error) { return Parse(osm) }

// For returns the paper one of whose figures the scenario named
// scenario measures; when none does, the error names the scenarios that
// do.
func For(scenario string) (*Data, error) {
	var known []string
	for _, load := range []func() (*Data, error){HPSR2025, OSM} {
		d, err := load()
		if err != nil {
			return nil, err
		}
		for _, f := range d.Figures {
			if slices.Contains(f.Scenarios, scenario) {
				return d, nil
			}
			known = append(known, f.Scenarios...)
		}
	}
	slices.Sort(known)
	return nil, fmt.Errorf("scenario %q reproduces no published figure; the figures are measured by %s", scenario, strings.Join(slices.Compact(known), ", "))
}

// Parse decodes and checks a published-results file strictly.
func Parse(data []byte) (*Data, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d Data
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("published results: %w", err)
	}
	return &d, d.check()
}

func (d *Data) check() error {
	var errs []error
	source := func(where, s string) {
		if s != FromText && s != Derived && s != Estimate {
			errs = append(errs, fmt.Errorf("%s: source %q; want text, derived or estimate", where, s))
		}
	}
	bound := func(where, b string) {
		if b != "" && b != Min && b != Max {
			errs = append(errs, fmt.Errorf("%s: bound %q; want min, max or nothing", where, b))
		}
	}
	for _, f := range d.Figures {
		if f.X != "tunnels" && f.X != "flows" {
			errs = append(errs, fmt.Errorf("%s: x %q; want tunnels or flows", f.ID, f.X))
		}
		for _, s := range f.Series {
			where := f.ID + "/" + s.Name
			if len(s.Match) == 0 {
				errs = append(errs, fmt.Errorf("%s: matches no run series", where))
			}
			for i, v := range s.Points {
				source(fmt.Sprintf("%s point %d", where, v.X), v.Source)
				bound(where, v.Bound)
				if i > 0 && v.X <= s.Points[i-1].X {
					errs = append(errs, fmt.Errorf("%s: points out of order at x=%d", where, v.X))
				}
			}
			if s.Max != nil {
				source(where+" max", s.Max.Source)
				bound(where, s.Max.Bound)
			}
		}
	}
	for _, c := range d.Claims {
		if c.Metric != "" && c.Metric != MetricLatency {
			errs = append(errs, fmt.Errorf("claim %s: metric %q; want latency or nothing (throughput)", c.ID, c.Metric))
		}
		source("claim "+c.ID, c.Source)
		bound("claim "+c.ID, c.Bound)
		f := d.figure(c.Figure)
		if f == nil {
			errs = append(errs, fmt.Errorf("claim %s: no figure %s", c.ID, c.Figure))
			continue
		}
		for _, sel := range []Selector{c.Num, c.Den} {
			if f.series(sel.Series) == nil {
				errs = append(errs, fmt.Errorf("claim %s: figure %s has no series %s", c.ID, c.Figure, sel.Series))
			}
		}
	}
	return errors.Join(errs...)
}

// Claim returns the claim with the ID.
func (d *Data) Claim(id string) (Claim, bool) {
	for _, c := range d.Claims {
		if c.ID == id {
			return c, true
		}
	}
	return Claim{}, false
}

// Value returns the published value of a figure's series at x, or its
// maximum when x is 0.
func (d *Data) Value(figure, series string, x int) (Value, bool) {
	f := d.figure(figure)
	if f == nil {
		return Value{}, false
	}
	s := f.series(series)
	switch {
	case s == nil:
		return Value{}, false
	case x == 0 && s.Max != nil:
		return *s.Max, true
	}
	for _, v := range s.Points {
		if x > 0 && v.X == x {
			return v, true
		}
	}
	return Value{}, false
}

func (d *Data) figure(id string) *Figure {
	for i := range d.Figures {
		if d.Figures[i].ID == id {
			return &d.Figures[i]
		}
	}
	return nil
}

func (f *Figure) series(name string) *Series {
	for i := range f.Series {
		if f.Series[i].Name == name {
			return &f.Series[i]
		}
	}
	return nil
}

// Row compares one measured point with its published value.
type Row struct {
	Figure, Series, RunSeries string
	// X is the point (tunnels or flows); 0 for a series maximum.
	X     int
	XName string
	// Measured is the run's mean and 95 % CI, N its good repetitions.
	Measured, CI float64
	N            int
	Published    Value
	// Ratio is Measured / Published.
	Ratio float64
	// Verdict is MeetsBound or MissesBound when the published value is a
	// bound, "" otherwise.
	Verdict string
}

// ClaimRow compares a ratio the paper states with the run's.
type ClaimRow struct {
	Claim     Claim
	RunSeries [2]string
	Measured  float64 // num / den in the run
	Num, Den  float64
	// Verdict is MeetsBound or MissesBound when the claim is a bound, ""
	// otherwise.
	Verdict string
}

// Comparison is a run against a paper.
type Comparison struct {
	Figures []string
	Rows    []Row
	Claims  []ClaimRow
	// Missing lists published claims the run could not test, and why.
	Missing []string
}

// measured is a run series' mean per x.
type measured map[int]results.Point

// Compare matches run's points with the figures measured by its scenario.
// It returns an error when no figure is, naming the scenarios that are.
func Compare(d *Data, run *results.Run) (*Comparison, error) {
	name := run.Scenario.Name
	var figs []*Figure
	for i := range d.Figures {
		if slices.Contains(d.Figures[i].Scenarios, name) {
			figs = append(figs, &d.Figures[i])
		}
	}
	if len(figs) == 0 {
		var known []string
		for _, f := range d.Figures {
			known = append(known, f.Scenarios...)
		}
		return nil, fmt.Errorf("scenario %q reproduces no published figure; the figures are measured by %s", name, strings.Join(known, ", "))
	}
	c := &Comparison{}
	for _, f := range figs {
		c.Figures = append(c.Figures, f.ID+" "+f.Title)
		// run series name → x → point
		bySeries := map[string]measured{}
		for _, p := range run.Points {
			if p.Summary.N == 0 {
				continue
			}
			x := p.Tunnels
			if f.X == "flows" {
				if p.Tunnels != 1 {
					continue
				}
				x = p.FlowsPerTunnel
			} else if p.FlowsPerTunnel != 1 {
				continue
			}
			if bySeries[p.Series] == nil {
				bySeries[p.Series] = measured{}
			}
			bySeries[p.Series][x] = p
		}
		matches := func(s *Series) []string {
			var out []string
			for _, rs := range run.Series {
				if slices.Contains(s.Match, rs.Name) && bySeries[rs.Name] != nil {
					out = append(out, rs.Name)
				}
			}
			return out
		}
		for i := range f.Series {
			s := &f.Series[i]
			for _, rs := range matches(s) {
				m := bySeries[rs]
				for _, v := range s.Points {
					if p, ok := m[v.X]; ok {
						c.Rows = append(c.Rows, row(f, s, rs, v.X, p, v))
					}
				}
				if s.Max != nil {
					if p, ok := m.max(); ok {
						r := row(f, s, rs, 0, p, *s.Max)
						c.Rows = append(c.Rows, r)
					}
				}
			}
		}
		for _, cl := range d.Claims {
			if cl.Figure != f.ID {
				continue
			}
			if cl.Metric == MetricLatency {
				c.Missing = append(c.Missing, fmt.Sprintf("%s (%s): the run records no latency (wgbench has no latency probe yet)", cl.ID, cl.Text))
				continue
			}
			nums, dens := matches(f.series(cl.Num.Series)), matches(f.series(cl.Den.Series))
			tested := false
			for _, ns := range nums {
				for _, ds := range dens {
					n, okN := bySeries[ns].pick(cl.Num)
					dv, okD := bySeries[ds].pick(cl.Den)
					if !okN || !okD || dv.Summary.MeanGbps == 0 {
						continue
					}
					tested = true
					m := n.Summary.MeanGbps / dv.Summary.MeanGbps
					c.Claims = append(c.Claims, ClaimRow{Claim: cl, RunSeries: [2]string{ns, ds},
						Num: n.Summary.MeanGbps, Den: dv.Summary.MeanGbps, Measured: m, Verdict: verdict(cl.Bound, m, cl.Ratio)})
				}
			}
			if !tested {
				c.Missing = append(c.Missing, fmt.Sprintf("%s (%s): the run lacks %s or %s", cl.ID, cl.Text, cl.Num, cl.Den))
			}
		}
	}
	return c, nil
}

func row(f *Figure, s *Series, rs string, x int, p results.Point, v Value) Row {
	r := Row{Figure: f.ID, Series: s.Name, RunSeries: rs, X: x, XName: f.X,
		Measured: p.Summary.MeanGbps, CI: p.Summary.CI95Gbps, N: p.Summary.N, Published: v}
	if v.Gbps > 0 {
		r.Ratio = r.Measured / v.Gbps
	}
	r.Verdict = verdict(v.Bound, r.Measured, v.Gbps)
	return r
}

// max returns the point with the largest mean.
func (m measured) max() (results.Point, bool) {
	var best results.Point
	ok := false
	for _, p := range m {
		if !ok || p.Summary.MeanGbps > best.Summary.MeanGbps {
			best, ok = p, true
		}
	}
	return best, ok
}

func (m measured) pick(s Selector) (results.Point, bool) {
	if s.Max {
		return m.max()
	}
	p, ok := m[s.X]
	return p, ok
}
