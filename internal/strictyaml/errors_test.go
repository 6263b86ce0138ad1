package strictyaml

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"datapth", "datapath", 1},
		{"kernal", "kernel", 1}, {"tunnels", "flows", 6}, {"ab", "ba", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if got := DidYouMean("Flow", []string{"tunnels", "flows"}); got != " (did you mean flows?)" {
		t.Errorf("DidYouMean(Flow) = %q", got)
	}
	if got := DidYouMean("colour", []string{"name", "series"}); got != "" {
		t.Errorf("DidYouMean(colour) = %q, want none", got)
	}
}
