package paper

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

func TestHPSR2025Parses(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	// The numbers the text states are there, marked as text.
	stated := map[string]float64{"fig7/improved": 7, "fig8/inline": 90}
	for _, f := range d.Figures {
		for _, s := range f.Series {
			if v, ok := stated[f.ID+"/"+s.Name]; ok {
				p := s.Points[len(s.Points)-1]
				if p.Gbps != v || p.Source != FromText || p.Bound != "min" {
					t.Errorf("%s/%s: %+v; want ≥%g from the text", f.ID, s.Name, p, v)
				}
			}
		}
	}
	var ratios []float64
	for _, c := range d.Claims {
		ratios = append(ratios, c.Ratio)
	}
	for _, r := range []float64{1.14, 1.31, 1.45, 2, 18} {
		if !slices.Contains(ratios, r) {
			t.Errorf("no claim with the stated ratio %g", r)
		}
	}
}

// The CloudLab scenarios measure every series the paper data names for
// them, and are valid scenarios.
func TestScenariosMatchPaper(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "scenarios", "cloudlab", "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d CloudLab scenarios, want 4", len(files))
	}
	byName := map[string]*scenarios.Scenario{}
	for _, f := range files {
		sc, err := scenarios.Load(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		byName[sc.Name] = sc
		if !slices.ContainsFunc(d.Figures, func(f Figure) bool { return f.Scenarios[0] == sc.Name }) {
			// Not an HPSR figure (vpn-compare, latency): it only has to
			// run on the CloudLab testbed.
			if sc.Testbed.Driver != "ssh" || sc.Testbed.Inventory != "hosts.yaml" {
				t.Errorf("%s: driver %s inventory %s; want ssh, hosts.yaml", f, sc.Testbed.Driver, sc.Testbed.Inventory)
			}
			continue
		}
		// The paper repeats every test 10 times; fig8 (4 h at 5) keeps 5.
		reps := 10
		if sc.Name == "cloudlab-fig8-multi-tunnel" {
			reps = 5
		}
		if sc.Testbed.Driver != "ssh" || sc.Testbed.Inventory != "hosts.yaml" || sc.Traffic.Duration.Std().Seconds() != 30 || sc.Repetitions != reps {
			t.Errorf("%s: driver %s inventory %s duration %s reps %d; want ssh, hosts.yaml, 30s, %d", f, sc.Testbed.Driver, sc.Testbed.Inventory, sc.Traffic.Duration, sc.Repetitions, reps)
		}
	}
	for _, f := range d.Figures {
		sc := byName[f.Scenarios[0]]
		if sc == nil {
			t.Errorf("%s: no CloudLab scenario %s", f.ID, f.Scenarios[0])
			continue
		}
		for _, s := range f.Series {
			found := false
			for _, ss := range sc.Series {
				found = found || slices.Contains(s.Match, ss.Name)
			}
			if !found {
				t.Errorf("%s/%s: scenario %s has none of the series %v", f.ID, s.Name, sc.Name, s.Match)
			}
		}
	}
}

func point(series string, tunnels int, gbps float64) results.Point {
	return results.Point{Series: series, Tunnels: tunnels, FlowsPerTunnel: 1, Complete: true,
		Summary: results.Summary{N: 5, MeanGbps: gbps, CI95Gbps: 0.1}}
}

func TestCompare(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{Scenario: scenarios.Scenario{Name: "cloudlab-fig8-multi-tunnel"}}
	for _, s := range []string{"vanilla", "vanilla-thr", "inline", "plain"} {
		run.Series = append(run.Series, results.SeriesStatus{Name: s})
	}
	run.Points = []results.Point{
		point("vanilla", 1, 4.5), point("vanilla", 4, 12), point("vanilla", 32, 12.5),
		point("vanilla-thr", 1, 6), point("vanilla-thr", 32, 40),
		point("inline", 1, 3), point("inline", 32, 88),
		point("plain", 1, 90),
	}
	c, err := Compare(d, run)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	for _, r := range c.Rows {
		rows[fmt.Sprintf("%s/%s/%d", r.Series, r.RunSeries, r.X)] = r
	}
	if r, ok := rows["vanilla/vanilla/32"]; !ok || r.Published.Gbps != 13 || math.Abs(r.Ratio-12.5/13) > 1e-9 {
		t.Errorf("vanilla@32: %+v", r)
	}
	if r, ok := rows["vanilla-thr/vanilla-thr/0"]; !ok || r.Measured != 40 || r.Published.Gbps != 45 {
		t.Errorf("vanilla-thr max: %+v (rows %v)", r, rows)
	}
	for k := range rows {
		if strings.HasPrefix(k, "plain") {
			t.Errorf("plain is in no figure but got row %s", k)
		}
	}
	claims := map[string]float64{}
	for _, cr := range c.Claims {
		claims[cr.Claim.ID] = cr.Measured
	}
	if got := claims["inline-vs-vanilla-thr"]; math.Abs(got-88.0/40) > 1e-9 {
		t.Errorf("inline/vanilla-thr = %g, want 2.2", got)
	}
	if got := claims["inline-vs-single"]; math.Abs(got-88/4.5) > 1e-9 {
		t.Errorf("inline/single = %g", got)
	}
	if len(c.Missing) == 0 || !strings.Contains(strings.Join(c.Missing, "\n"), "numa-doubles") {
		t.Errorf("missing claims %v; want numa-doubles (no NUMA series measured)", c.Missing)
	}

	run.Scenario.Name = "something-else"
	if _, err := Compare(d, run); err == nil || !strings.Contains(err.Error(), "cloudlab-fig8-multi-tunnel") {
		t.Errorf("unknown scenario: %v; want the known ones listed", err)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"bad source", "figures: [{id: f, x: tunnels, series: [{name: s, match: [s], points: [{x: 1, gbps: 1, source: figure}]}]}]", "source \"figure\""},
		{"unknown key", "figures: [{id: f, x: tunnels, colour: red}]", "colour"},
		{"bad axis", "figures: [{id: f, x: cores}]", "x \"cores\""},
		{"bad bound", "figures: [{id: f, x: tunnels, series: [{name: s, match: [s], points: [{x: 1, gbps: 1, bound: about, source: text}]}]}]", "bound \"about\""},
		{"claim on missing series", "figures: [{id: f, x: tunnels, series: [{name: a, match: [a]}]}]\nclaims: [{id: c, figure: f, num: {series: a, x: 1}, den: {series: b, x: 1}, ratio: 2, source: text}]", "no series b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want %q", err, tt.want)
			}
		})
	}
}

// Every figure starts from the same single-tunnel baseline: one tunnel,
// one flow, vanilla.
func TestOneSingleTunnelBaseline(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	var base []Value
	for _, f := range d.Figures {
		if s := f.series("vanilla"); s != nil {
			for _, v := range s.Points {
				if v.X == 1 {
					base = append(base, v)
				}
			}
		}
	}
	if len(base) != 4 {
		t.Fatalf("%d single-tunnel vanilla values, want one per figure 4, 6, 7, 8", len(base))
	}
	for _, v := range base[1:] {
		if v != base[0] {
			t.Errorf("single-tunnel baseline %+v differs from %+v", v, base[0])
		}
	}
	if base[0].Bound != Min {
		t.Errorf("baseline %+v: derived from \"exceeds 90\", it is a lower bound", base[0])
	}
}

// No value is filled in: each is stated or derived from stated numbers,
// and derived values say so.
func TestNoInventedValues(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Figures {
		for _, s := range f.Series {
			vals := slices.Clone(s.Points)
			if s.Max != nil {
				vals = append(vals, *s.Max)
			}
			for _, v := range vals {
				if v.Source == Estimate || v.Note == "" {
					t.Errorf("%s/%s x=%d: %+v; want a stated or derived value with its note", f.ID, s.Name, v.X, v)
				}
			}
		}
	}
	if v, ok := d.Value("fig8", "numa-aware", 4); ok {
		t.Errorf("fig8 NUMA-aware at 4 tunnels: %+v; the text gives no number there", v)
	}
}

// Claims compare like with like: both sides use the same NAPI mode.
func TestClaimsLikeForLike(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	threaded := func(s string) bool { return strings.HasSuffix(s, "-thr") }
	for _, c := range d.Claims {
		num, den := c.Num.Series, c.Den.Series
		if num == "inline" || den == "inline" {
			continue // inline has no NAPI mode of its own to match
		}
		if threaded(num) != threaded(den) {
			t.Errorf("claim %s compares %s with %s", c.ID, num, den)
		}
	}
	c, ok := d.Claim("numa-doubles")
	if !ok || c.Num.Series != "numa-aware" || c.Den.Series != "vanilla" || c.Bound != Min {
		t.Errorf("numa-doubles = %+v; want NUMA-aware over vanilla, both softirq, at least 2", c)
	}
}

func TestBoundVerdicts(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{Scenario: scenarios.Scenario{Name: "cloudlab-fig8-multi-tunnel"}}
	for _, s := range []string{"vanilla", "vanilla-thr", "inline"} {
		run.Series = append(run.Series, results.SeriesStatus{Name: s})
	}
	run.Points = []results.Point{
		point("vanilla", 1, 4.5), point("vanilla", 4, 13),
		point("vanilla-thr", 12, 20), point("vanilla-thr", 32, 46),
		point("inline", 12, 25), point("inline", 32, 95),
	}
	c, err := Compare(d, run)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, r := range c.Rows {
		rows[fmt.Sprintf("%s/%d", r.Series, r.X)] = r.Verdict
	}
	for k, want := range map[string]string{
		"vanilla/1":     MissesBound, // 4.5 < ≥5.0
		"vanilla/4":     "",          // "around 13": a value, not a bound
		"vanilla-thr/0": MeetsBound,  // 46 ≥ 45
		"inline/32":     MeetsBound,  // 95 ≥ 90
	} {
		if got, ok := rows[k]; !ok || got != want {
			t.Errorf("row %s: verdict %q (present %v), want %q", k, got, ok, want)
		}
	}
	claims := map[string]string{}
	for _, cr := range c.Claims {
		claims[cr.Claim.ID] = cr.Verdict
	}
	for k, want := range map[string]string{
		"inline-below-vanilla-thr": MissesBound, // 25/20 > 1: inline is faster at 12
		"inline-vs-vanilla-thr":    "",
	} {
		if got, ok := claims[k]; !ok || got != want {
			t.Errorf("claim %s: verdict %q (present %v), want %q", k, got, ok, want)
		}
	}
}

func TestLookups(t *testing.T) {
	d, err := HPSR2025()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := d.Value("fig8", "vanilla", 4); !ok || v.Gbps != 13 {
		t.Errorf("fig8 vanilla@4 = %+v, %v", v, ok)
	}
	if v, ok := d.Value("fig8", "numa-aware-thr", 0); !ok || v.Gbps != 65 {
		t.Errorf("fig8 numa-aware-thr max = %+v, %v", v, ok)
	}
	if _, ok := d.Value("fig9", "vanilla", 1); ok {
		t.Error("a value of a figure the data does not have")
	}
	if c, ok := d.Claim("numa-gw2"); !ok || c.Ratio != 1.31 {
		t.Errorf("claim numa-gw2 = %+v, %v", c, ok)
	}
	if _, ok := d.Claim("nope"); ok {
		t.Error("a claim the data does not have")
	}
}
