package tuner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/tuner/internal/fixtures"
)

const testdata = "testdata"

// machine reads a fixture machine's facts.
func machine(t *testing.T, name string) *facts.Host {
	t.Helper()
	h, err := facts.Read(context.Background(), filepath.Join(testdata, "machines", name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// loadRun reads a fixture run folder.
func loadRun(t *testing.T, name string) (*results.Run, Hosts) {
	t.Helper()
	run, hosts, err := LoadRun(filepath.Join(testdata, "runs", name))
	if err != nil {
		t.Fatal(err)
	}
	return run, hosts
}

// ids returns the suggestions' IDs in rank order.
func ids(s []Suggestion) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.ID
	}
	return out
}

// checkWellFormed asserts what every suggestion must carry.
func checkWellFormed(t *testing.T, sugg []Suggestion) {
	t.Helper()
	papers := []string{hpsr, netdev, edge}
	for i, s := range sugg {
		cites := func(src string) bool {
			return slices.ContainsFunc(papers, func(p string) bool { return strings.Contains(src, p) })
		}
		switch {
		case s.Rank != i+1:
			t.Errorf("%s: rank %d at position %d", s.ID, s.Rank, i)
		case s.Title == "" || s.Fact == "" || s.Advice == "" || s.Host == "":
			t.Errorf("%s: missing title, fact, advice or host: %+v", s.ID, s)
		case len(s.Evidence) == 0:
			t.Errorf("%s: no evidence", s.ID)
		case !cites(s.Source) || !strings.Contains(s.Source, "“") && !strings.Contains(s.Source, "§"):
			t.Errorf("%s: source %q does not cite a paper file and section", s.ID, s.Source)
		case s.Effect.Text == "" || !cites(s.Effect.Source):
			t.Errorf("%s: expected effect %q without a paper source (%q)", s.ID, s.Effect.Text, s.Effect.Source)
		case len(s.Apply) == 0:
			t.Errorf("%s: no commands", s.ID)
		}
		if i > 0 && s.Severity > sugg[i-1].Severity {
			t.Errorf("%s (%s) ranked after %s (%s)", s.ID, s.Severity, sugg[i-1].ID, sugg[i-1].Severity)
		}
		manual := !slices.ContainsFunc(s.Apply, func(c string) bool { return !strings.HasPrefix(c, "#") })
		if !manual && len(s.Undo) == 0 {
			t.Errorf("%s: commands %q but nothing to undo them", s.ID, s.Apply)
		}
	}
}

func TestMachines(t *testing.T) {
	for _, tc := range []struct {
		machine string
		want    []string // warning IDs in rank order
		// facts and advice that must appear (substrings)
		say []string
	}{
		{
			machine: fixtures.DualSocket,
			// numa-local first: of the medium ones only it has a gain the
			// paper states (+31 %); threaded NAPI has none.
			want: []string{"numa-local", "irqbalance", "rss-collisions", "threaded-napi", "idle-states", "offloads"},
			say: []string{
				"8 WireGuard devices (wg0, wg1, wg2, wg3 and 4 more) use softirq NAPI",
				"ens1f0np0 sits on NUMA node 1 (CPUs 16-31)",
				"echo 16-31 > /proc/irq/100/smp_affinity_list",
				"88 % chance that two tunnels hash to one queue",
				"irqbalance is running",
				"C6 (170 µs exit latency)",
				"ens1f0np0 has rx-udp-gro-forwarding off",
			},
		},
		{
			machine: fixtures.EdgeBox,
			want:    []string{"mtu", "offloads", "governor"},
			say: []string{
				"wg0 MTU 1500 on eth0 MTU 1500 leaves 0 bytes for 60",
				"ip link set dev wg0 mtu 1420",
				"eth0 has rx-gro, rx-udp-gro-forwarding off",
				"CPUs 0-3 use the ondemand governor",
			},
		},
		{
			machine: fixtures.Tuned,
			want:    []string{},
			say: []string{
				"OK       host: ens1f0np0 is on NUMA node 0",
				"OK       host: 4 ntuple rules on ens1f0np0 for 4 tunnels",
				"OK       host: decryption (decrypt_cpumask) stays off the receive cores 0-3",
				"OK       host: WireGuard devices wg0, wg1, wg2, wg3 use threaded NAPI",
				"OK       host: all CPUs use the performance governor",
			},
		},
	} {
		t.Run(tc.machine, func(t *testing.T) {
			rep := Analyze(Hosts{AnyHost: machine(t, tc.machine)}, nil)
			if d := cmp.Diff(tc.want, ids(rep.Suggestions)); d != "" {
				t.Errorf("suggestions (-want +got):\n%s", d)
			}
			checkWellFormed(t, rep.Suggestions)
			var b bytes.Buffer
			if err := rep.WriteText(&b, nil); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.say {
				if !strings.Contains(b.String(), s) {
					t.Errorf("text output lacks %q:\n%s", s, b.String())
				}
			}
			warnings := strings.Count(b.String(), "\nWarning: ") + boolInt(strings.HasPrefix(b.String(), "Warning: "))
			if warnings != len(tc.want) {
				t.Errorf("%d Warning lines, want %d", warnings, len(tc.want))
			}
		})
	}
}

func TestRuns(t *testing.T) {
	for _, tc := range []struct {
		run  string
		want []string
		// what the first suggestion's measured evidence must say
		firstSays []string
	}{
		{
			run:  fixtures.RunBlackHole,
			want: []string{"threaded-napi", "numa-local", "irqbalance", "rss-collisions", "idle-states", "offloads"},
			firstSays: []string{
				"black-hole on core 30, 100 % busy (97 % of it softirq) while the host was 71 % idle",
				"series kernel (kernel), 8 tunnels × 1 flow, repetitions with the finding: 3 of 3",
				"with threaded NAPI (series kernel-threaded) at 8 tunnels: 0 black-hole finding(s), 27.90",
			},
		},
		{
			run:  fixtures.RunSingleTunnel,
			want: []string{"multi-tunnel", "decrypt-off-rx-core", "numa-local", "irqbalance", "irqbalance", "idle-states", "offloads"},
			firstSays: []string{
				"single-core-bottleneck on core 16, 99 % busy",
				"1 tunnel × 8 flows, repetitions with the finding: 3 of 3",
			},
		},
	} {
		t.Run(tc.run, func(t *testing.T) {
			run, hosts := loadRun(t, tc.run)
			sugg := Suggest(hosts, run)
			if d := cmp.Diff(tc.want, ids(sugg)); d != "" {
				t.Errorf("suggestions (-want +got):\n%s", d)
			}
			checkWellFormed(t, sugg)
			first := sugg[0]
			if first.Severity != High || !first.measured() || first.Host != "gw2" {
				t.Errorf("first suggestion %s: severity %s, measured %v, host %s; want high, measured, gw2", first.ID, first.Severity, first.measured(), first.Host)
			}
			var ev strings.Builder
			for _, e := range first.Evidence {
				ev.WriteString(e.Text + " [" + e.Where + "]\n")
			}
			for _, s := range tc.firstSays {
				if !strings.Contains(ev.String(), s) {
					t.Errorf("evidence lacks %q:\n%s", s, ev.String())
				}
			}
			if first.Verify == nil {
				t.Errorf("%s has no scenario change to verify it", first.ID)
			}
		})
	}
}

// TestMergeHosts: the same finding on both gateways is one suggestion.
func TestMergeHosts(t *testing.T) {
	_, hosts := loadRun(t, fixtures.RunBlackHole)
	sugg := Suggest(hosts, nil)
	for _, s := range sugg {
		if s.ID == "idle-states" && s.Host != "gw2,gw1" {
			t.Errorf("idle-states host = %q, want gw2,gw1 (merged)", s.Host)
		}
		seen := map[string]bool{}
		for _, e := range s.Evidence {
			if seen[e.Kind+e.Text+e.Where] {
				t.Errorf("%s: evidence %q repeated after merging", s.ID, e.Text)
			}
			seen[e.Kind+e.Text+e.Where] = true
		}
	}
}

func TestSummaryOnlyFacts(t *testing.T) {
	run, _ := loadRun(t, fixtures.RunSingleTunnel)
	hosts := Hosts{"gw2": facts.FromSummary(run.Hosts["gw2"])}
	rep := Analyze(hosts, run)
	if got := ids(rep.Suggestions); !slices.Equal(got, []string{"multi-tunnel", "decrypt-off-rx-core"}) {
		t.Errorf("with summary facts, suggestions = %v; want the measured ones only", got)
	}
	if !slices.ContainsFunc(rep.Checks, func(c Check) bool {
		return c.Status == StatusInfo && strings.Contains(c.Fact, "only the run.json summary")
	}) {
		t.Errorf("no info line about the missing facts: %+v", rep.Checks)
	}
}

func TestCollisionProb(t *testing.T) {
	for _, tc := range []struct {
		n, q int
		want float64
	}{
		{1, 8, 0}, {2, 2, 0.5}, {2, 4, 0.25}, {8, 16, 0.8792}, {5, 4, 1}, {4, 4, 1 - 6.0/64},
	} {
		if got := collisionProb(tc.n, tc.q); math.Abs(got-tc.want) > 1e-3 {
			t.Errorf("collisionProb(%d, %d) = %.4f, want %.4f", tc.n, tc.q, got, tc.want)
		}
	}
}

// host builds facts with one underlay link and tunnels.
func host(under facts.Link, tunnels ...facts.Link) *facts.Host {
	under.Offloads.Error = "not read"
	h := &facts.Host{Source: "test", Machine: results.Machine{Cores: 4, NUMANodes: 1}, CPU: facts.CPU{Online: facts.CPUList{0, 1, 2, 3}},
		Nodes: []facts.NUMANode{{ID: 0, CPUs: facts.CPUList{0, 1, 2, 3}}}, Links: []facts.Link{under}, DefaultRoute: under.Name}
	for _, t := range tunnels {
		t.Kind = facts.KindWireGuard
		t.Offloads.Error = "not read"
		h.Links = append(h.Links, t)
	}
	return h
}

func TestMTU(t *testing.T) {
	eth := func(mtu int, v6 bool) facts.Link {
		return facts.Link{Name: "eth0", Kind: facts.KindPhysical, MTU: mtu, IPv6: v6, NUMANode: -1}
	}
	wg := func(mtu int, v6 bool) facts.Link { return facts.Link{Name: "wg0", MTU: mtu, IPv6: v6} }
	for _, tc := range []struct {
		name    string
		h       *facts.Host
		warn    bool
		command string
	}{
		{"wg-quick default", host(eth(1500, false), wg(1420, false)), false, ""},
		{"IPv4 minimum", host(eth(1500, false), wg(1440, false)), false, ""},
		{"IPv4 too big", host(eth(1500, false), wg(1441, false)), true, "ip link set dev wg0 mtu 1420"},
		{"IPv6 underlay needs 80", host(eth(1500, true), wg(1440, false)), true, "ip link set dev wg0 mtu 1420"},
		{"equal to the link", host(eth(9000, false), wg(9000, false)), true, "ip link set dev wg0 mtu 8920"},
		{"IPv6 inside below 1280", host(eth(1500, false), wg(1200, true)), true, "ip link set dev wg0 mtu 1420"},
		{"link too small for IPv6 inside", host(eth(1300, false), wg(1300, true)), true, "ip link set dev wg0 mtu 1280"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{}
			ruleMTU(&input{hosts: Hosts{AnyHost: tc.h}}, r)
			if got := len(r.sugg) > 0; got != tc.warn {
				t.Fatalf("warning = %v, want %v; checks %+v", got, tc.warn, r.checks)
			}
			if tc.warn && !slices.Contains(r.sugg[0].Apply, tc.command) {
				t.Errorf("apply = %q, want %q among them", r.sugg[0].Apply, tc.command)
			}
		})
	}
}

func TestRSSAddressOnlyHash(t *testing.T) {
	nic := facts.Link{Name: "eth0", Kind: facts.KindPhysical, MTU: 1500, NUMANode: -1, RxQueues: 8,
		RSS: &facts.RSS{Rings: 8, UDP4Hash: "sd", NTupleRules: 0}}
	h := host(nic, facts.Link{Name: "wg0", MTU: 1420}, facts.Link{Name: "wg1", MTU: 1420})
	r := &report{}
	ruleRSSCollisions(&input{hosts: Hosts{AnyHost: h}}, r)
	if len(r.sugg) != 1 || r.sugg[0].Severity != High || !slices.Contains(r.sugg[0].Apply, "ethtool -N eth0 rx-flow-hash udp4 sdfn") ||
		!slices.Contains(r.sugg[0].Undo, "ethtool -N eth0 rx-flow-hash udp4 sd") {
		t.Fatalf("suggestions = %+v; want one high-severity rx-flow-hash change", r.sugg)
	}
	// The local testbed's tunnels do not cross this machine's NIC.
	r = &report{}
	ruleRSSCollisions(&input{hosts: Hosts{AnyHost: h}, run: &results.Run{Testbed: results.TestbedInfo{Driver: "local"}}}, r)
	if len(r.sugg) != 0 {
		t.Errorf("local testbed run: suggestions %+v, want none", r.sugg)
	}
}

func TestTopLines(t *testing.T) {
	run, hosts := loadRun(t, fixtures.RunBlackHole)
	sugg := Suggest(hosts, run)
	lines := TopLines(sugg, 3)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, fmt.Sprintf("%d. [", i+1)) || strings.Contains(l, "\n") || !strings.Contains(l, " >>> ") {
			t.Errorf("line %d = %q; want one line \"N. [severity] host: fact >>> advice\"", i, l)
		}
	}
	// The papers state no gain for threaded NAPI at a given tunnel count,
	// so its line promises none.
	if !strings.Contains(lines[0], "threaded NAPI") || strings.Contains(lines[0], "expected up to") {
		t.Errorf("top line = %q", lines[0])
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "expected up to +31 %") }) {
		t.Errorf("no line promises NUMA locality's +31 %%: %q", lines)
	}
	if got := TopLines(sugg, 0); len(got) != len(sugg) {
		t.Errorf("TopLines(n=0) gave %d lines, want all %d", len(got), len(sugg))
	}
	if got := TopLines(nil, 3); len(got) != 0 {
		t.Errorf("TopLines(nil) = %q", got)
	}
}

func TestJSON(t *testing.T) {
	run, hosts := loadRun(t, fixtures.RunSingleTunnel)
	rep := Analyze(hosts, run)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rep, &back); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}
	if !strings.Contains(b.String(), `"severity": "high"`) {
		t.Error("severity not written by name")
	}
}

func TestScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to check the script's syntax")
	}
	for _, name := range []string{fixtures.DualSocket, fixtures.EdgeBox, fixtures.Tuned} {
		rep := Analyze(Hosts{AnyHost: machine(t, name)}, nil)
		var b bytes.Buffer
		if err := rep.WriteScript(&b, []string{"facts of " + name}); err != nil {
			t.Fatal(err)
		}
		script := b.String()
		path := filepath.Join(t.TempDir(), "tune.sh")
		os.WriteFile(path, b.Bytes(), 0o755)
		if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s\n%s", name, err, out, script)
		}
		if !strings.Contains(script, "\nset -eu\n") || !strings.Contains(script, "undo() {") {
			t.Errorf("%s: script lacks set -eu or an undo section", name)
		}
		// Usage without an action, and nothing is done.
		if out, err := exec.Command(sh, path).CombinedOutput(); err == nil || !strings.Contains(string(out), "usage:") {
			t.Errorf("%s: running without an action = %v, %s; want the usage and a failure", name, err, out)
		}
		// Undo runs in reverse order.
		if len(rep.Suggestions) > 1 {
			undo := script[strings.Index(script, "undo() {"):]
			a := strings.Index(undo, "undo 1. ")
			z := strings.Index(undo, "undo 2. ")
			if a < z {
				t.Errorf("%s: undo section not in reverse order", name)
			}
		}
	}
}

func TestTunedScenario(t *testing.T) {
	run, hosts := loadRun(t, fixtures.RunBlackHole)
	sugg := Suggest(hosts, run)
	tuned, err := TunedScenario(&run.Scenario, sugg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range tuned.Scenario.Series {
		names = append(names, s.Name)
	}
	want := []string{"kernel", "kernel-threaded", "kernel.threaded-napi", "kernel.numa-local", "kernel-threaded.numa-local",
		"kernel.rss-collisions", "kernel-threaded.rss-collisions", "kernel.offloads", "kernel-threaded.offloads"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("series (-want +got):\n%s", d)
	}
	byName := map[string]scenarios.Series{}
	for _, s := range tuned.Scenario.Series {
		byName[s.Name] = s
	}
	if s := byName["kernel-threaded.numa-local"]; !s.Tuning.ThreadedNAPI || s.Tuning.NUMANode == nil || *s.Tuning.NUMANode != -1 {
		t.Errorf("variant keeps the baseline's knobs and adds the suggestion's: %+v", s.Tuning)
	}
	if !slices.ContainsFunc(tuned.Notes, func(n string) bool {
		return strings.Contains(n, "threaded-napi: kernel-threaded already sets threaded_napi")
	}) {
		t.Errorf("notes = %q; want one saying kernel-threaded already sets threaded_napi", tuned.Notes)
	}
	if !slices.ContainsFunc(tuned.Notes, func(n string) bool { return strings.HasPrefix(n, "irqbalance: no scenario knob") }) {
		t.Errorf("notes = %q; want irqbalance without a knob", tuned.Notes)
	}
	y, err := tuned.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := scenarios.Parse("tuned.yaml", y, nil)
	if err != nil {
		t.Fatalf("tuned YAML does not parse: %v\n%s", err, y)
	}
	if !strings.Contains(string(y), "#   kernel.threaded-napi             verifies threaded-napi on kernel (threaded_napi)") {
		t.Errorf("header does not say what the variants verify:\n%s", y)
	}
	// Tuning the tuned scenario again adds nothing.
	again, err := TunedScenario(back, sugg)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Scenario.Series) != len(back.Series) {
		t.Errorf("tuning twice: %d series, want %d", len(again.Scenario.Series), len(back.Series))
	}

	// The single-tunnel bottleneck is verified with more sweep points.
	run, hosts = loadRun(t, fixtures.RunSingleTunnel)
	tuned, err = TunedScenario(&run.Scenario, Suggest(hosts, run))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tuned.Scenario.Sweep.Tunnels, []int{1, 8}) || !slices.Equal(tuned.Scenario.Sweep.Flows, []int{1, 4, 8}) {
		t.Errorf("sweep = %v × %v; want tunnels [1 8] × flows [1 4 8]", tuned.Scenario.Sweep.Tunnels, tuned.Scenario.Sweep.Flows)
	}
	if _, ok := byNameOf(tuned.Scenario, "kernel.decrypt-off-rx-core"); !ok {
		t.Errorf("no decrypt variant in %+v", tuned.Scenario.Series)
	}
}

func byNameOf(sc *scenarios.Scenario, name string) (scenarios.Series, bool) {
	for _, s := range sc.Series {
		if s.Name == name {
			return s, true
		}
	}
	return scenarios.Series{}, false
}

func TestVariantName(t *testing.T) {
	for _, tc := range []struct{ base, id, want string }{
		{"kernel", "threaded-napi", "kernel.threaded-napi"},
		{"kernel-threaded-numa-aware", "decrypt-off-rx-core", "kernel-threaded-numa-aware.decry"},
	} {
		if got := VariantName(tc.base, tc.id); got != tc.want || len(got) > maxSeriesName {
			t.Errorf("VariantName(%q, %q) = %q, want %q", tc.base, tc.id, got, tc.want)
		}
	}
	// A cut label still names its rule.
	if got := resolveLabel("decry"); got != "decrypt-off-rx-core" {
		t.Errorf("resolveLabel(decry) = %q", got)
	}
	if got := resolveLabel("pin"); got != "pin" {
		t.Errorf("resolveLabel(pin) = %q", got)
	}
	// No room for the label: left out with a note.
	base := &scenarios.Scenario{Name: "x", Testbed: scenarios.Testbed{Driver: "local"}, Traffic: scenarios.Traffic{Tool: "iperf3", Protocol: scenarios.TCP,
		Duration: scenarios.Duration(2e9), Omit: scenarios.Duration(1e9)}, Sweep: scenarios.Sweep{Tunnels: []int{1}, Flows: []int{1}}, Repetitions: 1,
		Series: []scenarios.Series{{Name: "a-very-long-series-name-of-32-ch", Datapath: scenarios.Kernel}},
		Probes: scenarios.Probes{Interval: scenarios.Duration(25e7), Saturation: 90, Persistence: 0.6, Headroom: 0.25}}
	tuned, err := TunedScenario(base, []Suggestion{{ID: "threaded-napi", Verify: &Verify{Tuning: scenarios.Tuning{ThreadedNAPI: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tuned.Scenario.Series) != 1 || !slices.ContainsFunc(tuned.Notes, func(n string) bool { return strings.Contains(n, "too long") }) {
		t.Errorf("long baseline name: series %+v, notes %q", tuned.Scenario.Series, tuned.Notes)
	}
}

func TestCompareStats(t *testing.T) {
	s := func(n int, mean, sd float64) results.Summary {
		return results.Summary{N: n, MeanGbps: mean, StddevGbps: sd}
	}
	for _, tc := range []struct {
		name string
		a, b results.Summary
		want string
	}{
		{"clearly better", s(5, 10, 0.2), s(5, 12, 0.2), VerdictBetter},
		{"clearly worse", s(5, 10, 0.2), s(5, 8, 0.2), VerdictWorse},
		{"within spread", s(3, 10, 1), s(3, 10.5, 1), VerdictUnclear},
		{"one repetition", s(1, 10, 0), s(3, 12, 0.1), VerdictNoSpread},
		{"not measured", s(0, 0, 0), s(3, 12, 0.1), VerdictNotMeasured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := compare(tc.a, tc.b)
			if d.Verdict != tc.want {
				t.Errorf("verdict = %q (Δ %.3f ± %.3f), want %q", d.Verdict, d.DeltaGbps, d.CI95Gbps, tc.want)
			}
		})
	}
	// Welch's interval for equal spreads: t(0.975, 8) · sqrt(2·0.04/5).
	d := compare(s(5, 10, 0.2), s(5, 12, 0.2))
	if want := 2.306 * math.Sqrt(2*0.04/5); math.Abs(d.CI95Gbps-want) > 1e-3 || math.Abs(d.DeltaPct-20) > 1e-9 {
		t.Errorf("CI = %.4f, Δ%% = %.2f; want %.4f, 20", d.CI95Gbps, d.DeltaPct, want)
	}
}

func TestCompareVerifyRun(t *testing.T) {
	run, _ := loadRun(t, fixtures.RunVerify)
	sugg := []Suggestion{{ID: "threaded-napi", Effect: Effect{Text: "scales", Source: hpsr + " §IV-B"}}}
	rep := Compare(run, sugg)
	byKey := map[string]Item{}
	for _, it := range rep.Items {
		byKey[it.Suggestion+" "+it.Baseline+"→"+it.Variant] = it
	}
	th := byKey["threaded-napi kernel→kernel.threaded-napi"]
	if th.Measured || !th.Known || th.Verdict != VerdictNotMeasured || !strings.Contains(th.Reason, "no WireGuard module") {
		t.Errorf("threaded-napi item = %+v; want not measured, with the skip reason", th)
	}
	pin := byKey["pin wggo→wggo.pin"]
	if !pin.Measured || pin.Known || len(pin.Points) != 4 {
		t.Fatalf("pin item = %+v; want measured over 4 points", pin)
	}
	verdicts := map[string]string{}
	for _, d := range pin.Points {
		verdicts[d.A] = d.Verdict
		if d.SummaryA.N != 3 || d.SummaryB.N != 3 {
			t.Errorf("%s: n = %d/%d, want 3/3", d.A, d.SummaryA.N, d.SummaryB.N)
		}
	}
	want := map[string]string{"1 tunnel × 1 flow": VerdictUnclear, "1 tunnel × 2 flows": VerdictUnclear,
		"2 tunnels × 1 flow": VerdictBetter, "2 tunnels × 2 flows": VerdictWorse}
	if d := cmp.Diff(want, verdicts); d != "" {
		t.Errorf("per-point verdicts (-want +got):\n%s", d)
	}
	if pin.Verdict != VerdictMixed {
		t.Errorf("pin verdict = %q, want mixed", pin.Verdict)
	}
	split := byKey["multi-tunnel wggo→wggo"]
	if !split.Measured || len(split.Points) != 1 || split.Points[0].A != "1 tunnel × 2 flows" || split.Points[0].B != "2 tunnels × 1 flow" || split.Verdict != VerdictBetter {
		t.Errorf("split item = %+v; want 1×2 → 2×1 better", split)
	}
	if _, ok := byKey["multi-tunnel kernel→kernel"]; ok {
		t.Error("split comparison inside the skipped kernel series, which has no points")
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"Skipped:  threaded-napi [kernel → kernel.threaded-napi]: not measured: variant kernel.threaded-napi skipped: gw1: this kernel has no WireGuard module",
		"Mixed:    pin (hand-made variant) [wggo → wggo.pin]: mixed",
		"2 tunnels × 1 flow: 1.900 ± ",
		"Better:   multi-tunnel (not among the current suggestions) [inside wggo]: better",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
}

// TestFixturesUpToDate regenerates the fixtures and compares them with
// testdata, so the generator and the checked-in files cannot drift.
func TestFixturesUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := fixtures.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"machines", "runs"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			got, _ := os.ReadFile(p)
			want, err := os.ReadFile(filepath.Join(testdata, rel))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generator's output; run: go run ./tuner/testdata/genfixtures tuner/testdata", rel)
				return filepath.SkipAll
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPartialFacts: facts files written by hand or by older versions may
// lack anything; the rules must not fail on them.
func TestPartialFacts(t *testing.T) {
	run, _ := loadRun(t, fixtures.RunBlackHole)
	for _, js := range []string{
		`{}`,
		`{"irqbalance": {"running": true}, "cpu": {"online": "0-3", "threads_per_core": 2, "governors": {"powersave": "0-3"}}}`,
		`{"nodes": [{"id": 0, "cpus": "0-1"}, {"id": 1, "cpus": "2-3"}], "links": [{"name": "eth0", "kind": "physical", "numa_node": 1, "irqs": [{"irq": 5}]}]}`,
		`{"links": [{"name": "wg0", "kind": "wireguard", "wireguard": {"patched": true}}, {"name": "eth0", "kind": "physical", "rss": {"ntuple_rules": -1}}], "default_route": "eth0"}`,
		`{"links": [{"name": "wg0", "kind": "tun", "mtu": 0}], "cpu": {"idle_states": [{"name": "C6", "latency_us": 100}]}}`,
	} {
		var h facts.Host
		if err := json.Unmarshal([]byte(js), &h); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		for _, r := range []*results.Run{nil, run} {
			rep := Analyze(Hosts{"gw2": &h, AnyHost: &h}, r)
			var b bytes.Buffer
			if err := rep.WriteText(&b, nil); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteScript(&b, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	// No facts and no run at all.
	rep := Analyze(nil, nil)
	if len(rep.Suggestions) != 0 || len(rep.Checks) == 0 {
		t.Errorf("empty input: %+v", rep)
	}
}
