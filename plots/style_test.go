package plots

import (
	"slices"
	"testing"
)

func TestValueTicks(t *testing.T) {
	labels := func(v valueTicks) []string {
		var out []string
		for _, tk := range v.Ticks(-1, 1e9) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	few := intTicks([]int{1, 2, 4, 8}, 12)
	if got := labels(few); !slices.Equal(got, []string{"1", "2", "4", "8"}) {
		t.Errorf("few values: %v", got)
	}
	var cores []int
	for c := range 64 {
		cores = append(cores, c)
	}
	many := intTicks(cores, 24) // every 3rd core
	many.keep = map[float64]bool{40: true}
	got := labels(many)
	if !slices.Contains(got, "40") || slices.Contains(got, "39") || slices.Contains(got, "42") {
		t.Errorf("kept label 40 crowded by its neighbours: %v", got)
	}
	if !slices.Contains(got, "36") || !slices.Contains(got, "45") || len(got) > 24 {
		t.Errorf("labels: %v", got)
	}
	if ticks := many.Ticks(-1, 100); len(ticks) != 64 {
		t.Errorf("%d tick marks, want one per core", len(ticks))
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		min, max float64
		want     []string
	}{
		{0, 10.8, []string{"0", "2", "4", "6", "8", "10"}},
		{0, 56, []string{"0", "10", "20", "30", "40", "50"}},
		{0, 29.5, []string{"0", "5", "10", "15", "20", "25"}},
		{0, 1.08, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{0, 0.06, []string{"0.00", "0.01", "0.02", "0.03", "0.04", "0.05", "0.06"}},
		{0, 13, []string{"0.0", "2.5", "5.0", "7.5", "10.0", "12.5"}},
		{0, 0, nil}, // degenerate: gonum's default ticks
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (niceTicks{}).Ticks(tt.min, tt.max) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if tt.want != nil && !slices.Equal(got, tt.want) {
			t.Errorf("ticks(%g, %g) = %v, want %v", tt.min, tt.max, got, tt.want)
		}
	}
}
