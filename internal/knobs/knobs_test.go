package knobs

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the knob table of docs/scenarios.md")

const (
	docPath  = "../../docs/scenarios.md"
	docBegin = "<!-- knobs table: generated from internal/knobs; regenerate with go test ./internal/knobs -update -->\n"
	docEnd   = "<!-- end of knobs table -->\n"
)

// TestDocMatchesTable checks that the knob table of docs/scenarios.md is
// Markdown's; -update rewrites it.
func TestDocMatchesTable(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	before, rest, ok := strings.Cut(doc, docBegin)
	table, after, ok2 := strings.Cut(rest, docEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", docPath, docBegin, docEnd)
	}
	want := Markdown()
	if *update {
		if err := os.WriteFile(docPath, []byte(before+docBegin+want+docEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, table); diff != "" {
		t.Errorf("%s's knob table is stale; run go test ./internal/knobs -update (-want +got):\n%s", docPath, diff)
	}
}

// TestTableConsistent checks the table's own references.
func TestTableConsistent(t *testing.T) {
	seen := map[string]bool{}
	flags := map[string]string{}
	for _, k := range All {
		if seen[k.Name] {
			t.Errorf("knob %s listed twice", k.Name)
		}
		seen[k.Name] = true
		if len(k.Datapaths) == 0 || k.Label == "" || k.Lacks == "" || k.Help == "" {
			t.Errorf("knob %s lacks datapaths, label, lacks or help", k.Name)
		}
		if k.Flag != "" {
			if other, dup := flags[k.Flag]; dup {
				t.Errorf("knobs %s and %s share the flag --%s", other, k.Name, k.Flag)
			}
			flags[k.Flag] = k.Name
		}
		if (k.Flag != "") != k.Takes(Kernel) {
			t.Errorf("knob %s: a kernel flag (%q) exactly when the kernel takes it (%t)", k.Name, k.Flag, k.Takes(Kernel))
		}
		if k.Type == Int && k.Min >= k.Max {
			t.Errorf("knob %s: an int knob without a range", k.Name)
		}
		if len(k.Conflicts) > 0 && k.ConflictMsg == "" {
			t.Errorf("knob %s has conflicts and no message", k.Name)
		}
	}
	for _, k := range All {
		for _, n := range k.Requires {
			if _, ok := Lookup(n.Knob); !ok || n.Msg == "" {
				t.Errorf("knob %s requires unknown knob %s or has no message", k.Name, n.Knob)
			}
		}
		for _, c := range k.Conflicts {
			if _, ok := Lookup(c); !ok {
				t.Errorf("knob %s conflicts with unknown knob %s", k.Name, c)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	cpus, _ := Lookup("cpus")
	value := func(name string) string {
		if name == "placement" {
			return "emulated-inline"
		}
		return "x"
	}
	tests := []struct {
		name string
		dp   string
		set  []string
		want []Problem
	}{
		{"numa on softirq NAPI", Kernel, []string{"numa_node"}, nil},
		{"napi pinning without threads", Kernel, []string{"napi_cpus"},
			[]Problem{{"napi_cpus", "pinning NAPI threads needs threaded_napi: true; softirq NAPI has no thread to pin"}}},
		{"kernel cpus alone", Kernel, []string{"cpus"}, []Problem{{"cpus", cpus.Requires[0].Msg}}},
		{"wggo cpus alone", WireGuardGo, []string{"cpus"}, nil},
		{"placement with steering", Kernel, []string{"placement", "cpus", "steering"},
			[]Problem{{"steering", "placement emulated-inline sets steering itself from cpus; remove steering or the placement"}}},
		{"placement without cpus", Kernel, []string{"placement"},
			[]Problem{{"placement", "placement emulated-inline needs the tunnels' cores: add cpus, e.g. cpus: 0-3 (tunnel i on the i-th)"}}},
		{"knobs of another datapath are not checked", WireGuardGo, []string{"napi_cpus"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Check(tt.dp, tt.set, value)); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}
