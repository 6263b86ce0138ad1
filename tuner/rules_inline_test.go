package tuner

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// pt is a measured point of a run: n repetitions at mean ± sd Gbit/s.
func pt(series string, dp scenarios.Datapath, tunnels int, mean float64) results.Point {
	return results.Point{Series: series, Datapath: dp, Tunnels: tunnels, FlowsPerTunnel: 1, Complete: true,
		Summary: results.Summary{N: 5, MeanGbps: mean, StddevGbps: 0.1, CI95Gbps: 0.12}}
}

func runOf(series []scenarios.Series, points ...results.Point) *results.Run {
	r := &results.Run{Scenario: scenarios.Scenario{Name: "x", Series: series}, Points: points}
	for _, s := range series {
		r.Series = append(r.Series, results.SeriesStatus{Name: s.Name, Datapath: s.Datapath})
	}
	return r
}

// wgHost has n kernel WireGuard devices; inline is the patched module's
// inline_en of each (nil: the vanilla module).
func wgHost(n int, inline *bool) *facts.Host {
	h := &facts.Host{}
	for i := range n {
		l := facts.Link{Name: fmt.Sprintf("wg%d", i), Kind: facts.KindWireGuard}
		if inline != nil {
			l.WireGuard = &facts.WireGuard{Patched: true, InlineEnabled: inline}
		}
		h.Links = append(h.Links, l)
	}
	return h
}

// ruleInlineCase is an input of the inline rule and what it must say.
type ruleInlineCase struct {
	name  string
	in    input
	id    string // the one warning's rule ID; "" for none
	says  []string
	apply string
	ok    string // an OK line's text when there is no warning
}

func ruleInlineCases() []ruleInlineCase {
	on, off := true, false
	kernel := scenarios.Series{Name: "kernel", Datapath: scenarios.Kernel}
	thr := scenarios.Series{Name: "kernel-thr", Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{ThreadedNAPI: true}}
	inline := scenarios.Series{Name: "inline", Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Pin: true}}
	return []ruleInlineCase{
		{name: "many tunnels measured on vanilla",
			in: input{run: runOf([]scenarios.Series{kernel}, pt("kernel", scenarios.Kernel, 1, 5), pt("kernel", scenarios.Kernel, 16, 13))},
			id: "inline", says: []string{"16 tunnels with one flow each on kernel", "kernel at 16 tunnels", "16 % of linear scaling from 1 tunnel(s)"},
			apply: "inline_en"},
		{name: "many tunnels, inline measured too",
			in: input{run: runOf([]scenarios.Series{kernel, inline}, pt("kernel", scenarios.Kernel, 16, 13), pt("inline", scenarios.Inline, 16, 40))}},
		{name: "inline slower than threaded below 12 tunnels",
			in: input{run: runOf([]scenarios.Series{thr, inline}, pt("kernel-thr", scenarios.Kernel, 4, 20), pt("inline", scenarios.Inline, 4, 10))},
			id: "vanilla-threaded", says: []string{"at 4 tunnels × 1 flow inline", "inline 10.00 Gbit/s vs kernel-thr 20.00 Gbit/s: +100.0 %"},
			apply: "echo 1 > /sys/class/net/wgN/threaded"},
		{name: "inline faster than threaded",
			in: input{run: runOf([]scenarios.Series{thr, inline}, pt("kernel-thr", scenarios.Kernel, 4, 10), pt("inline", scenarios.Inline, 4, 20))}},
		{name: "12 vanilla devices",
			in: input{hosts: Hosts{"gw2": wgHost(12, &off)}},
			id: "inline", says: []string{"12 WireGuard tunnels run the vanilla architecture", "inline_en on 0 of them"},
			apply: "echo 1 > /sys/class/net/wg0/inline_en"},
		{name: "12 devices on the vanilla module",
			in: input{hosts: Hosts{"gw2": wgHost(12, nil)}},
			id: "inline", says: []string{"12 WireGuard tunnels"}, apply: "# load the patched module"},
		{name: "inline on for 2 devices",
			in: input{hosts: Hosts{"gw1": wgHost(2, &on)}},
			id: "vanilla-threaded", says: []string{"inline_en is on for wg0, wg1 with only 2 tunnels"},
			apply: "echo 0 > /sys/class/net/wg0/inline_en"},
		{name: "12 devices inline", in: input{hosts: Hosts{"gw2": wgHost(12, &on)}}, ok: "12 tunnels run inline"},
		{name: "2 vanilla devices", in: input{hosts: Hosts{"gw2": wgHost(2, &off)}}, ok: "the vanilla architecture suits fewer than ~12 tunnels"},
	}
}

func TestRuleInline(t *testing.T) {
	for _, tc := range ruleInlineCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.hosts == nil {
				tc.in.hosts = Hosts{}
			}
			r := &report{}
			ruleInline(&tc.in, r)
			if tc.id == "" {
				if len(r.sugg) != 0 {
					t.Fatalf("suggestions %+v, want none", r.sugg)
				}
				if tc.ok != "" && !slices.ContainsFunc(r.checks, func(c Check) bool { return c.Status == StatusOK && strings.Contains(c.Fact, tc.ok) }) {
					t.Errorf("checks %+v; want an OK line saying %q", r.checks, tc.ok)
				}
				return
			}
			if len(r.sugg) != 1 || r.sugg[0].ID != tc.id {
				t.Fatalf("suggestions %+v, want one %s", r.sugg, tc.id)
			}
			s := r.sugg[0]
			text := s.Fact + "\n" + s.Advice
			for _, e := range s.Evidence {
				text += "\n" + e.Text
			}
			for _, want := range tc.says {
				if !strings.Contains(text, want) {
					t.Errorf("suggestion does not say %q:\n%s", want, text)
				}
			}
			if !slices.ContainsFunc(s.Apply, func(l string) bool { return strings.Contains(l, tc.apply) }) {
				t.Errorf("apply %q lacks %q", s.Apply, tc.apply)
			}
			if s.Effect.Text == "" || s.Source == "" || s.Verify == nil {
				t.Errorf("suggestion %+v lacks its effect, source or verification", s)
			}
		})
	}
}
