package tuner

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/scenarios"
)

// maxSeriesName is the longest series name a scenario accepts; minLabel
// the fewest characters of a suggestion ID a variant name keeps.
const (
	maxSeriesName = 32
	minLabel      = 4
)

// resolveLabel returns the rule ID a variant label names: the label, or
// the one rule ID it is a cut prefix of.
func resolveLabel(label string) string {
	if slices.Contains(RuleIDs, label) || len(label) < minLabel {
		return label
	}
	var match string
	for _, id := range RuleIDs {
		if strings.HasPrefix(id, label) {
			if match != "" {
				return label
			}
			match = id
		}
	}
	if match == "" {
		return label
	}
	return match
}

// VariantName returns the name of the series that verifies suggestion id
// on baseline: "<baseline>.<id>", the id cut so the name fits.
func VariantName(baseline, id string) string {
	name := baseline + "." + id
	if len(name) > maxSeriesName {
		name = name[:maxSeriesName]
	}
	return strings.TrimRight(name, ".-_")
}

// Variant says which series of a tuned scenario verifies which suggestion.
type Variant struct {
	Series     string `json:"series"`
	Baseline   string `json:"baseline"`
	Suggestion string `json:"suggestion"`
	// Knobs are the yaml names of the knobs the variant sets, or
	// "datapath: X" when it changes the datapath.
	Knobs []string `json:"knobs,omitempty"`
}

// Tuned is a scenario that verifies suggestions.
type Tuned struct {
	Scenario *scenarios.Scenario
	Variants []Variant
	// Notes say which suggestions could not be expressed and why.
	Notes []string
}

// TunedScenario returns base with the suggestions set as extra series:
// for each suggestion with a scenario change, a copy of each baseline
// series it applies to with the knobs set ("<baseline>.<id>"), or the
// sweep points it compares added. Series of base that are already
// variants ("<baseline>.<label>") are kept and not varied again. The
// result is validated as a scenario file would be.
func TunedScenario(base *scenarios.Scenario, sugg []Suggestion) (*Tuned, error) {
	sc := *base
	sc.Series = slices.Clone(base.Series)
	sc.Sweep.Tunnels = slices.Clone(base.Sweep.Tunnels)
	sc.Sweep.Flows = slices.Clone(base.Sweep.Flows)
	t := &Tuned{Scenario: &sc}
	names := make([]string, len(base.Series))
	for i, s := range base.Series {
		names[i] = s.Name
	}
	var baselines []scenarios.Series
	for _, s := range base.Series {
		if b, label, ok := splitVariant(s.Name, names); ok {
			t.Variants = append(t.Variants, Variant{Series: s.Name, Baseline: b, Suggestion: resolveLabel(label), Knobs: s.Tuning.Set()})
		} else {
			baselines = append(baselines, s)
		}
	}
	done := map[string]bool{}
	for _, s := range sugg {
		v := s.Verify
		if v == nil {
			if !done[s.ID] {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: no scenario knob expresses it; apply it and re-run the scenario", s.ID))
			}
			done[s.ID] = true
			continue
		}
		if done[s.ID] {
			continue
		}
		done[s.ID] = true
		if len(v.Tunnels) > 0 || len(v.Flows) > 0 {
			sc.Sweep.Tunnels = union(sc.Sweep.Tunnels, v.Tunnels)
			sc.Sweep.Flows = union(sc.Sweep.Flows, v.Flows)
			t.Notes = append(t.Notes, fmt.Sprintf("%s: sweep tunnels %v, flows %v: %s", s.ID, sc.Sweep.Tunnels, sc.Sweep.Flows, v.Note))
			continue
		}
		added := 0
		for _, b := range baselines {
			if len(v.On) > 0 && !slices.Contains(v.On, b.Datapath) {
				continue
			}
			if len(b.Name)+1+minLabel > maxSeriesName {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: not on %s: the series name is too long for a variant name (%s.<suggestion>, at most %d characters)", s.ID, b.Name, b.Name, maxSeriesName))
				continue
			}
			n := scenarios.Series{Name: VariantName(b.Name, s.ID), Datapath: b.Datapath, Tuning: b.Tuning}
			knobs := v.Tuning.Set()
			if v.Datapath != "" && v.Datapath != b.Datapath {
				n.Datapath, n.Tuning = v.Datapath, scenarios.Tuning{}
				knobs = append([]string{"datapath: " + string(v.Datapath)}, knobs...)
			}
			n.Tuning = mergeTuning(n.Tuning, v.Tuning)
			if reason := rejects(n); reason != "" {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: not on %s: %s", s.ID, b.Name, reason))
				continue
			}
			if n.Datapath == b.Datapath && reflect.DeepEqual(n.Tuning, b.Tuning) {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: %s already sets %s", s.ID, b.Name, strings.Join(v.Tuning.Set(), ", ")))
				continue
			}
			if slices.ContainsFunc(sc.Series, func(x scenarios.Series) bool { return x.Name == n.Name }) {
				continue // verified by a series already there
			}
			if len(sc.Series) >= scenarios.MaxSeries {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: left out on %s: a scenario holds at most %d series", s.ID, b.Name, scenarios.MaxSeries))
				continue
			}
			sc.Series = append(sc.Series, n)
			t.Variants = append(t.Variants, Variant{Series: n.Name, Baseline: b.Name, Suggestion: s.ID, Knobs: knobs})
			added++
		}
		if added == 0 && len(baselines) > 0 && !slices.ContainsFunc(t.Variants, func(x Variant) bool { return x.Suggestion == s.ID }) {
			on := "any datapath"
			if len(v.On) > 0 {
				on = fmt.Sprint(v.On)
			}
			t.Notes = append(t.Notes, fmt.Sprintf("%s: no baseline series it applies to (made for %s)", s.ID, on))
		}
	}
	y, err := sc.YAML()
	if err != nil {
		return nil, fmt.Errorf("tuned scenario: %w", err)
	}
	parsed, err := scenarios.Parse(sc.Name+" (tuned)", y, nil)
	if err != nil {
		return nil, fmt.Errorf("tuned scenario is not valid: %w", err)
	}
	t.Scenario = parsed
	return t, nil
}

// rejects says why a series is not valid: a knob its datapath does not
// accept.
func rejects(s scenarios.Series) string {
	for _, k := range s.Tuning.Set() {
		if !slices.Contains(scenarios.KnobDatapaths(k), s.Datapath) {
			return fmt.Sprintf("%s does not apply to the %s datapath", k, s.Datapath)
		}
	}
	if s.Tuning.NAPICPUs != "" && !s.Tuning.ThreadedNAPI {
		return "napi_cpus needs threaded_napi"
	}
	return ""
}

// mergeTuning returns a with every knob b sets set as b sets it;
// Optional lists are joined.
func mergeTuning(a, b scenarios.Tuning) scenarios.Tuning {
	out := a
	ov, bv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(b)
	for i := range bv.NumField() {
		f := bv.Field(i)
		if f.IsZero() || f.Kind() == reflect.Slice && f.Len() == 0 {
			continue
		}
		if ov.Type().Field(i).Name == "Optional" {
			ov.Field(i).Set(reflect.ValueOf(union(out.Optional, b.Optional)))
			continue
		}
		ov.Field(i).Set(f)
	}
	return out
}

// union returns the sorted union of two lists.
func union[T interface{ ~int | ~string }](a, b []T) []T {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// YAML writes the tuned scenario with a header saying what each variant
// series verifies and what could not be expressed.
func (t *Tuned) YAML() ([]byte, error) {
	y, err := t.Scenario.YAML()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Tuned by `wgbench tune`: the baseline series plus one series per suggestion\n")
	fmt.Fprintf(&b, "# that a scenario knob expresses. Verify with: wgbench tune --verify THIS_FILE\n")
	for _, v := range t.Variants {
		fmt.Fprintf(&b, "#   %-32s verifies %s on %s (%s)\n", v.Series, v.Suggestion, v.Baseline, strings.Join(v.Knobs, ", "))
	}
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "#   note: %s\n", n)
	}
	b.Write(y)
	return b.Bytes(), nil
}
