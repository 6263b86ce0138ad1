package tuner

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// Severity ranks suggestions: a measured bottleneck with a known fix
// first, then set-ups likely to cost throughput, then benchmark hygiene.
type Severity int

// The severities.
const (
	// Low is benchmark hygiene: measurements are noisier or not
	// comparable with the papers'.
	Low Severity = iota + 1
	// Medium is a set-up likely to cost throughput.
	Medium
	// High is a measured bottleneck, or a set-up that defeats
	// multi-tunnel scaling outright.
	High
)

var severityNames = map[Severity]string{Low: "low", Medium: "medium", High: "high"}

// String returns "low", "medium" or "high".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var n string
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("severity: %w", err)
	}
	for k, v := range severityNames {
		if v == n {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("severity %q: want low, medium or high", n)
}

// AnyHost is the role of facts that describe every host of a run (the
// local testbed's gateways share this machine) or a host outside any run.
const AnyHost = "host"

// Hosts are the facts the rules read, by role: gw1, gw2, or AnyHost.
type Hosts map[string]*facts.Host

// For returns the facts of role, or those of AnyHost.
func (h Hosts) For(role string) *facts.Host {
	if f := h[role]; f != nil {
		return f
	}
	return h[AnyHost]
}

// roles returns the roles to check, gateways first.
func (h Hosts) roles() []string {
	var out []string
	for r, f := range h {
		if f != nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(roleOrder(a), roleOrder(b)), strings.Compare(a, b))
	})
	return out
}

func roleOrder(r string) int {
	switch r {
	case "gw2":
		return 0
	case "gw1":
		return 1
	case AnyHost:
		return 2
	}
	return 3
}

// Evidence is one fact or measurement behind a suggestion.
type Evidence struct {
	// Kind is "fact" (read on the host) or "measured" (from a run).
	Kind string `json:"kind"`
	// Host is the role the evidence is about.
	Host string `json:"host,omitempty"`
	// Text states it with its numbers.
	Text string `json:"text"`
	// Where locates it: the file it was read from, or the run's series,
	// point and repetitions.
	Where string `json:"where,omitempty"`
}

// Evidence kinds.
const (
	KindFact     = "fact"
	KindMeasured = "measured"
)

// Effect is what applying a suggestion is expected to do.
type Effect struct {
	Text string `json:"text"`
	// Gain is the relative throughput change the source reports (0.14
	// for +14 %); 0 when it gives no figure.
	Gain float64 `json:"gain,omitempty"`
	// Source is where the figure comes from (file and section).
	Source string `json:"source"`
}

// Verify is the scenario change that measures a suggestion: a copy of
// each baseline series with the knobs set (or the datapath changed), or
// more sweep points to compare within a series.
type Verify struct {
	// Tuning holds the knobs the variant series sets on top of the
	// baseline's.
	Tuning scenarios.Tuning `json:"tuning,omitzero"`
	// Datapath, when set, replaces the baseline's datapath.
	Datapath scenarios.Datapath `json:"datapath,omitempty"`
	// On lists the baseline datapaths the variant is made for; empty
	// means every datapath that accepts the knobs.
	On []scenarios.Datapath `json:"on,omitempty"`
	// Tunnels and Flows, when set, are added to the sweep: the
	// suggestion is verified inside each baseline series by comparing
	// one tunnel carrying k flows with k tunnels carrying one flow each.
	Tunnels []int `json:"tunnels,omitempty"`
	Flows   []int `json:"flows,omitempty"`
	// Note says what the variant needs to run (a patched module, …).
	Note string `json:"note,omitempty"`
}

// Suggestion is one ranked piece of advice with its evidence.
type Suggestion struct {
	// ID names the rule (see the package documentation).
	ID    string `json:"id"`
	Title string `json:"title"`
	// Severity and Rank order the suggestions; Rank 1 comes first.
	Severity Severity `json:"severity"`
	Rank     int      `json:"rank"`
	// Host is the role (or roles, comma-separated) the suggestion is for.
	Host string `json:"host"`
	// Fact is the finding in one line, Advice what to do about it.
	Fact   string `json:"fact"`
	Advice string `json:"advice"`
	// Evidence backs Fact with facts and measurements.
	Evidence []Evidence `json:"evidence"`
	// Apply and Undo are shell commands to run on Host, in order; lines
	// starting with "#" are steps to do by hand.
	Apply []string `json:"apply,omitempty"`
	Undo  []string `json:"undo,omitempty"`
	// Effect is the expected effect and its source.
	Effect Effect `json:"effect"`
	// Source is the paper and section the rule rests on.
	Source string `json:"source"`
	// Verify is the scenario change that measures the suggestion; nil
	// when no scenario knob expresses it.
	Verify *Verify `json:"verify,omitempty"`
}

// measured reports whether a suggestion rests on measurements.
func (s *Suggestion) measured() bool {
	for _, e := range s.Evidence {
		if e.Kind == KindMeasured {
			return true
		}
	}
	return false
}

// Status of a check.
type Status string

// The statuses.
const (
	StatusOK      Status = "ok"
	StatusWarning Status = "warning"
	// StatusInfo is a check that could not be decided (facts missing) or
	// a measurement worth knowing that no tuning addresses.
	StatusInfo Status = "info"
)

// Check is one line of a report.
type Check struct {
	ID     string `json:"id"`
	Host   string `json:"host,omitempty"`
	Status Status `json:"status"`
	Fact   string `json:"fact"`
	// Suggestion is the Rank of the warning's suggestion, 0 otherwise.
	Suggestion int `json:"suggestion,omitempty"`
}

// Report is the outcome of every check.
type Report struct {
	// Checks are ranked warnings first, then info, then OK lines.
	Checks []Check `json:"checks"`
	// Suggestions are ranked.
	Suggestions []Suggestion `json:"suggestions"`
}

// input is what the rules read.
type input struct {
	hosts Hosts
	run   *results.Run
}

// report collects what the rules say.
type report struct {
	checks []Check
	sugg   []*Suggestion
	owner  map[*Suggestion]int // suggestion → index of its check
}

func (r *report) ok(id, host, format string, args ...any) {
	r.checks = append(r.checks, Check{ID: id, Host: host, Status: StatusOK, Fact: fmt.Sprintf(format, args...)})
}

func (r *report) info(id, host, format string, args ...any) {
	r.checks = append(r.checks, Check{ID: id, Host: host, Status: StatusInfo, Fact: fmt.Sprintf(format, args...)})
}

func (r *report) warn(s *Suggestion) {
	if r.owner == nil {
		r.owner = map[*Suggestion]int{}
	}
	r.owner[s] = len(r.checks)
	r.checks = append(r.checks, Check{ID: s.ID, Host: s.Host, Status: StatusWarning, Fact: s.Fact})
	r.sugg = append(r.sugg, s)
}

// rules run in order; irqbalance last, as it looks at what the others
// suggest pinning.
var rules = []func(*input, *report){
	ruleFactsCoverage,
	ruleMultiTunnel,
	ruleThreadedNAPI,
	ruleDecryptOffRxCore,
	ruleInline,
	ruleNUMALocal,
	ruleRSSCollisions,
	ruleMTU,
	ruleOffloads,
	ruleGovernor,
	ruleIdleStates,
	ruleSMT,
	ruleMeasuredInfo,
	ruleIrqbalance,
}

// Analyze runs every check on the hosts' facts and the run (either may be
// missing: nil run, empty hosts) and returns the report.
func Analyze(hosts Hosts, run *results.Run) *Report {
	in := &input{hosts: hosts, run: withoutBaselines(run)}
	if in.hosts == nil {
		in.hosts = Hosts{}
	}
	r := &report{}
	for _, rule := range rules {
		rule(in, r)
	}
	merge(r)
	order := slices.Clone(r.sugg)
	slices.SortStableFunc(order, func(a, b *Suggestion) int {
		return cmp.Or(
			-cmp.Compare(a.Severity, b.Severity),
			-cmp.Compare(boolInt(a.measured()), boolInt(b.measured())),
			-cmp.Compare(a.Effect.Gain, b.Effect.Gain),
			cmp.Compare(roleOrder(firstRole(a.Host)), roleOrder(firstRole(b.Host))),
			strings.Compare(a.ID, b.ID),
		)
	})
	out := &Report{Suggestions: make([]Suggestion, 0, len(order))}
	for i, s := range order {
		s.Rank = i + 1
		r.checks[r.owner[s]].Suggestion = s.Rank
		out.Suggestions = append(out.Suggestions, *s)
	}
	statusOrder := map[Status]int{StatusWarning: 0, StatusInfo: 1, StatusOK: 2}
	out.Checks = mergeChecks(r.checks)
	slices.SortStableFunc(out.Checks, func(a, b Check) int {
		if c := cmp.Compare(statusOrder[a.Status], statusOrder[b.Status]); c != 0 {
			return c
		}
		if a.Status == StatusWarning {
			return cmp.Compare(a.Suggestion, b.Suggestion)
		}
		return 0
	})
	return out
}

// Suggest returns the ranked suggestions for the hosts' facts and the
// run; either may be missing.
func Suggest(hosts Hosts, run *results.Run) []Suggestion {
	return Analyze(hosts, run).Suggestions
}

// TopLines returns one line for each of the first n suggestions (all when
// n ≤ 0): rank, severity, host, fact, advice and expected effect, for the
// end of `wgbench run` and the report.
func TopLines(s []Suggestion, n int) []string {
	if n <= 0 || n > len(s) {
		n = len(s)
	}
	out := make([]string, 0, n)
	for _, x := range s[:n] {
		line := fmt.Sprintf("%d. [%s] %s: %s >>> %s", x.Rank, x.Severity, x.Host, x.Fact, x.Advice)
		if x.Effect.Gain > 0 {
			line += fmt.Sprintf(" (expected up to %+.0f %%: %s)", 100*x.Effect.Gain, firstCite(x.Effect.Source))
		}
		out = append(out, line)
	}
	return out
}

// mergeChecks folds OK and info lines that say the same of several
// hosts into one.
func mergeChecks(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Status != StatusWarning {
			i := slices.IndexFunc(out, func(o Check) bool { return o.Status == c.Status && o.ID == c.ID && o.Fact == c.Fact })
			if i >= 0 {
				if !slices.Contains(strings.Split(out[i].Host, ","), c.Host) {
					out[i].Host += "," + c.Host
				}
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// RuleIDs are the IDs of the tuner's rules, as Suggestion.ID names them.
var RuleIDs = []string{"multi-tunnel", "threaded-napi", "numa-local", "decrypt-off-rx-core", "inline", "vanilla-threaded",
	"mtu", "offloads", "rss-collisions", "governor", "idle-states", "smt", "irqbalance"}

// merge folds suggestions that say the same thing about several hosts
// (the local testbed's gateways share one machine) into one.
func merge(r *report) {
	var kept []*Suggestion
	for _, s := range r.sugg {
		var into *Suggestion
		for _, k := range kept {
			if k.ID == s.ID && k.Fact == s.Fact && slices.Equal(k.Apply, s.Apply) {
				into = k
				break
			}
		}
		if into == nil {
			kept = append(kept, s)
			continue
		}
		into.Host += "," + s.Host
		for _, e := range s.Evidence {
			if !slices.ContainsFunc(into.Evidence, func(x Evidence) bool { return x.Kind == e.Kind && x.Text == e.Text && x.Where == e.Where }) {
				into.Evidence = append(into.Evidence, e)
			}
		}
		for i := range into.Evidence {
			if into.Evidence[i].Host != "" {
				into.Evidence[i].Host = into.Host
			}
		}
		i := r.owner[s]
		r.checks[r.owner[into]].Host = into.Host
		r.checks = slices.Delete(r.checks, i, i+1)
		for k, v := range r.owner {
			if v > i {
				r.owner[k] = v - 1
			}
		}
		delete(r.owner, s)
	}
	r.sugg = kept
}

func firstRole(h string) string {
	r, _, _ := strings.Cut(h, ",")
	return r
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// firstCite returns the first citation of a source list: "file §x".
func firstCite(src string) string {
	c, _, _ := strings.Cut(src, ";")
	if i := strings.Index(c, " ("); i > 0 {
		c = c[:i]
	}
	return strings.TrimSpace(c)
}
