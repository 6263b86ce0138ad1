package scenarios

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wgbench/wgbench/internal/knobs"
	"github.com/wgbench/wgbench/internal/strictyaml"
)

// Limits checked by validation.
const (
	MaxTunnels        = 250  // most tunnels in a point
	MaxFlowsPerTunnel = 250  // most flows per tunnel in a point
	MaxFlows          = 1000 // most flows (tunnels × flows per tunnel) in a point
	MaxRepetitions    = 1000
	MaxSeries         = 16
)

var (
	scenarioNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	seriesNameRe   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
)

// KnobDatapaths returns the datapaths that accept the tuning knob with the
// given yaml name, or nil for an unknown knob.
func KnobDatapaths(name string) []Datapath {
	k, ok := knobs.Lookup(name)
	if !ok {
		return nil
	}
	out := make([]Datapath, len(k.Datapaths))
	for i, dp := range k.Datapaths {
		out[i] = Datapath(dp)
	}
	return out
}

// fail records an error at path, positioned at its node or, when path was
// not written, at its nearest written parent.
// Nothing is recorded when path already has an error.
func (d *decoder) fail(path, format string, args ...any) {
	if d.hasError(path) {
		return
	}
	d.report(d.at(path), path, format, args...)
}

// checkRange records an error when v is outside lo..hi.
func (d *decoder) checkRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		d.fail(path, "%d is out of range; allowed %d..%d", v, lo, hi)
	}
}

// validate checks s after defaults were applied.
func (d *decoder) validate(s *Scenario) {
	switch {
	case s.Name == "":
		d.fail("name", "missing; name the scenario with 1..64 letters, digits, '.', '_' or '-'")
	case !scenarioNameRe.MatchString(s.Name):
		d.fail("name", "%q is not a valid name; use 1..64 letters, digits, '.', '_' or '-'", s.Name)
	}
	d.validateTestbed(&s.Testbed)
	d.validateTraffic(&s.Traffic)
	d.validateCounts("sweep.tunnels", s.Sweep.Tunnels, MaxTunnels)
	d.validateCounts("sweep.flows", s.Sweep.Flows, MaxFlowsPerTunnel)
	if len(s.Sweep.Tunnels) > 0 && len(s.Sweep.Flows) > 0 {
		t, f := slices.Max(s.Sweep.Tunnels), slices.Max(s.Sweep.Flows)
		if t*f > MaxFlows {
			d.fail("sweep", "%d tunnels × %d flows is %d flows in one point; at most %d", t, f, t*f, MaxFlows)
		}
	}
	d.checkRange("repetitions", s.Repetitions, 1, MaxRepetitions)
	d.validateSeries(s.Series)
	d.validateProbes(&s.Probes)
	d.validateLatency(s)
	d.validateRate(s)
	d.validateSizes(s)
}

func (d *decoder) validateTestbed(t *Testbed) {
	switch t.Driver {
	case "local":
		if t.Inventory != "" {
			d.fail("testbed.inventory", "the local driver builds its own hosts and takes no inventory; remove it or set driver: ssh")
		}
	case "ssh":
		if t.Inventory == "" {
			d.fail("testbed.inventory", "missing; the ssh driver needs an inventory file naming the four hosts")
		}
	default:
		d.fail("testbed.driver", "%q is not a testbed driver; allowed: local, ssh%s", t.Driver, strictyaml.DidYouMean(t.Driver, []string{"local", "ssh"}))
	}
	if w := t.WAN; w.GW1 != "" || w.GW2 != "" {
		switch {
		case t.Driver != "local":
			d.fail("testbed.wan", "only the local driver takes WAN ports; the ssh driver's are in its inventory")
		case w.GW1 == "" || w.GW2 == "":
			d.fail("testbed.wan", "give both gw1 and gw2: two interfaces cabled to each other")
		case w.GW1 == w.GW2:
			d.fail("testbed.wan.gw2", "%s is gw1's port too; give two interfaces cabled to each other", w.GW2)
		}
		for _, p := range []struct{ key, name string }{{"gw1", w.GW1}, {"gw2", w.GW2}} {
			if p.name != "" && (len(p.name) > 15 || strings.ContainsAny(p.name, "/: \t") || p.name == "." || p.name == "..") {
				d.fail("testbed.wan."+p.key, "%q is not an interface name (at most 15 characters, no '/', ':' or spaces)", p.name)
			}
		}
	}
	if t.MTU != 0 && (t.MTU < 1280 || t.MTU > 9000) {
		d.fail("testbed.mtu", "%d is out of range; allowed 1280..9000, or 0 for the default 1500", t.MTU)
	}
}

func (d *decoder) validateTraffic(t *Traffic) {
	if t.Tool != "iperf3" {
		d.fail("traffic.tool", "%q is not a supported tool; allowed: iperf3", t.Tool)
	}
	switch t.Protocol {
	case TCP:
		if t.Bitrate != 0 {
			d.fail("traffic.bitrate", "bitrate applies to udp only; tcp flows send as fast as they can. Remove it or set protocol: udp")
		}
	case UDP:
		if t.Bitrate == 0 && !t.Rate.Search && !d.hasError("traffic.rate") {
			d.fail("traffic.bitrate", "missing; udp needs a bitrate per flow (iperf3 would send only 1 Mbit/s), e.g. bitrate: 1G")
		}
	default:
		d.fail("traffic.protocol", "%q is not a protocol; allowed: tcp, udp", t.Protocol)
	}
	if t.Duration < Duration(time.Second) || t.Duration > Duration(24*time.Hour) {
		d.fail("traffic.duration", "%s is out of range; allowed 1s..24h", t.Duration)
	} else if t.Omit >= t.Duration {
		d.fail("traffic.omit", "%s is too long a warm-up; omit must be shorter than duration (%s)", t.Omit, t.Duration)
	}
	if t.Length != 0 && (t.Length < 16 || t.Length > 65507) {
		d.fail("traffic.length", "%d is out of range; allowed 16..65507, or 0 for iperf3's default", t.Length)
	}
}

// validateCounts checks a sweep list: non-empty, each in 1..hi, ascending.
func (d *decoder) validateCounts(path string, vals []int, hi int) {
	if len(vals) == 0 {
		d.fail(path, "needs at least one value, e.g. [1, 2, 4]")
		return
	}
	for i, v := range vals {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case v < 1 || v > hi:
			d.fail(p, "%d is out of range; allowed 1..%d", v, hi)
		case i > 0 && v == vals[i-1]:
			d.fail(p, "%d is listed twice", v)
		case i > 0 && v < vals[i-1]:
			d.fail(p, "%d comes after %d; list the values in ascending order", v, vals[i-1])
		}
	}
}

func (d *decoder) validateSeries(series []Series) {
	switch {
	case len(series) == 0:
		d.fail("series", "at least one series is needed, e.g. series: [{datapath: wggo}]")
	case len(series) > MaxSeries:
		d.fail("series", "%d series; at most %d fit in one scenario", len(series), MaxSeries)
	}
	names := map[string]int{}
	for i, s := range series {
		p := fmt.Sprintf("series[%d]", i)
		if !s.Datapath.Valid() {
			allowed := make([]string, len(Datapaths))
			for j, dp := range Datapaths {
				allowed[j] = string(dp)
			}
			if s.Datapath == "" {
				d.fail(p+".datapath", "missing; allowed: %s", strings.Join(allowed, ", "))
			} else {
				d.fail(p+".datapath", "%q is not a datapath; allowed: %s%s", s.Datapath, strings.Join(allowed, ", "), strictyaml.DidYouMean(string(s.Datapath), allowed))
			}
		}
		switch first, dup := names[s.Name]; {
		case s.Name == "" && s.Datapath == "":
			// Reported as the missing datapath the name defaults to.
		case !seriesNameRe.MatchString(s.Name):
			d.fail(p+".name", "%q is not a valid series name; use 1..32 letters, digits, '.', '_' or '-'", s.Name)
		case dup:
			d.fail(p+".name", "%q is already the name of series[%d]; give each series its own name", s.Name, first)
		default:
			names[s.Name] = i
		}
		if s.Datapath.Valid() {
			d.validateTuning(p+".tuning", s.Datapath, &s.Tuning)
		}
	}
}

// validateTuning checks a series' tuning t on datapath dp: that every
// knob written applies to dp and, in a gw1 or gw2 block, may be set per
// gateway; that its value is allowed; and that the knobs each gateway
// ends up with go together, as the knobs table says.
func (d *decoder) validateTuning(path string, dp Datapath, t *Tuning) {
	d.validateKnobs(path, dp, t)
	blocks := []int{}
	for n := 1; n <= 2; n++ {
		b := t.Block(n)
		if b == nil {
			continue
		}
		blocks = append(blocks, n)
		bp := fmt.Sprintf("%s.gw%d", path, n)
		for m := 1; m <= 2; m++ {
			if b.Block(m) != nil {
				d.fail(fmt.Sprintf("%s.gw%d", bp, m), "gateway blocks do not nest; set the knobs of gw%d in %s.gw%d", m, path, m)
			}
		}
		for _, name := range knobs.Names() {
			if d.present(bp+"."+name) && !slices.Contains(b.Set(), name) && slices.Contains(t.Set(), name) {
				d.fail(bp+"."+name, "a gateway block cannot turn the shared %s off; set %s in each gateway's block instead of the shared tuning", name, name)
			}
		}
		for _, name := range b.Set() {
			if k, _ := knobs.Lookup(name); !k.PerGateway && k.Takes(string(dp)) {
				d.fail(bp+"."+name, "%s is not per gateway; set %s in the series' shared tuning, for both gateways", name, name)
			}
		}
		d.validateKnobs(bp, dp, b)
	}
	// The rules, on what each gateway ends up with, reported where the
	// knob was written; a problem of one gateway alone names it.
	type problem struct{ path, msg string }
	var found [2][]problem
	for n := 1; n <= 2; n++ {
		eff := t.Gateway(n)
		value := func(name string) string { v, _ := eff.Value(name); return v }
		for _, p := range knobs.Check(string(dp), eff.Set(), value) {
			where := path
			if b := t.Block(n); b != nil && slices.Contains(b.Set(), p.Knob) {
				where = fmt.Sprintf("%s.gw%d", path, n)
			}
			found[n-1] = append(found[n-1], problem{where + "." + p.Knob, p.Msg})
		}
	}
	for n, ps := range found {
		for _, p := range ps {
			switch {
			case slices.Contains(found[1-n], p) && n == 1:
				// Reported with gw1's.
			case slices.Contains(found[1-n], p):
				d.fail(p.path, "%s", p.msg)
			default:
				d.fail(p.path, "%s (on gw%d)", p.msg, n+1)
			}
		}
	}
	// Optional names knobs set on some gateway (shared) or on its own
	// (in a block).
	d.validateOptional(path, t.Optional, union(t.Gateway(1).Set(), t.Gateway(2).Set()), "in this series; optional lists knobs the series sets")
	for _, n := range blocks {
		d.validateOptional(fmt.Sprintf("%s.gw%d", path, n), t.Block(n).Optional, t.Gateway(n).Set(),
			fmt.Sprintf("on gw%d; a gateway's optional lists knobs set on that gateway", n))
	}
}

// validateKnobs checks the knobs written in t, one tuning mapping at
// path: each applies to dp, and its value is allowed.
func (d *decoder) validateKnobs(path string, dp Datapath, t *Tuning) {
	for _, name := range t.Set() {
		p := path + "." + name
		k, _ := knobs.Lookup(name)
		switch {
		case dp == Plain:
			d.fail(p, "the plain datapath is the no-tunnel baseline and takes no tuning; remove %s", name)
		case !k.Takes(string(dp)):
			where := joinDatapaths(KnobDatapaths(name))
			d.fail(p, "%s is a %s knob; the %s datapath %s. Move it to a %s series or remove it.", k.Label, where, dp, k.Lacks, where)
		}
	}
	if k, _ := knobs.Lookup("numa_node"); t.NUMANode != nil && !k.InRange(*t.NUMANode) {
		d.fail(path+".numa_node", "%d is out of range; allowed -1 (the NIC's node) or 0..%d", *t.NUMANode, k.Max)
	}
	if t.Mode != "" && !slices.Contains(knobs.Modes, t.Mode) {
		d.fail(path+".mode", "%q is not a mode; allowed: %s%s", t.Mode, strings.Join(knobs.Modes, ", "), strictyaml.DidYouMean(t.Mode, knobs.Modes))
	}
	if t.Cipher != "" && !slices.Contains(Ciphers, t.Cipher) {
		d.fail(path+".cipher", "%q is not a cipher; allowed: %s%s", t.Cipher, strings.Join(Ciphers, ", "), strictyaml.DidYouMean(t.Cipher, Ciphers))
	}
	if dp == Kernel && t.Placement != "" && !slices.Contains(Placements, t.Placement) {
		d.fail(path+".placement", "%q is not a placement; allowed: %s%s", t.Placement, strings.Join(Placements, ", "), strictyaml.DidYouMean(t.Placement, Placements))
	}
	if dp != Kernel && t.CPUs.Symbolic() {
		d.fail(path+".cpus", "%q: the %s datapath takes a plain CPU list such as 0-3; only the kernel datapath resolves CPU sets", string(t.CPUs), dp)
	}
}

// validateOptional checks the optional list at path against the knobs
// set where it applies; notSet ends the message for a knob not in set.
func (d *decoder) validateOptional(path string, optional, set []string, notSet string) {
	allKnobs := slices.DeleteFunc(fieldNames(reflect.TypeFor[Tuning]()), func(s string) bool { return !isKnob(s) })
	for i, o := range optional {
		p := fmt.Sprintf("%s.optional[%d]", path, i)
		switch {
		case !slices.Contains(allKnobs, o):
			d.fail(p, "%q is not a tuning knob; allowed: %s%s", o, strings.Join(allKnobs, ", "), strictyaml.DidYouMean(o, allKnobs))
		case !slices.Contains(set, o):
			d.fail(p, "%s is not set %s", o, notSet)
		case slices.Index(optional, o) < i:
			d.fail(p, "%s is listed twice", o)
		}
	}
}

// union returns the names of a and b, each once.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// joinDatapaths writes "kernel", "wggo or inline" or "wggo, inline or
// openvpn".
func joinDatapaths(dps []Datapath) string {
	s := make([]string, len(dps))
	for i, dp := range dps {
		s[i] = string(dp)
	}
	if len(s) < 3 {
		return strings.Join(s, " or ")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (d *decoder) validateProbes(p *Probes) {
	if p.Interval < Duration(50*time.Millisecond) || p.Interval > Duration(10*time.Second) {
		d.fail("probes.interval", "%s is out of range; allowed 50ms..10s", p.Interval)
	}
	if !(p.Saturation >= 50 && p.Saturation <= 100) {
		d.fail("probes.saturation", "%g is out of range; allowed 50..100 (percent busy)", p.Saturation)
	}
	if !(p.Persistence > 0 && p.Persistence <= 1) {
		d.fail("probes.persistence", "%g is out of range; allowed above 0 up to 1 (share of the window)", p.Persistence)
	}
	if !(p.Headroom >= 0 && p.Headroom < 1) {
		d.fail("probes.headroom", "%g is out of range; allowed 0 up to but not including 1 (share of capacity)", p.Headroom)
	}
}

// roleKeyRe matches keys that name a host of the testbed, or try to.
var roleKeyRe = regexp.MustCompile(`(?i)^((gw|gateway|gate)[-_ ]?[0-9]*|source|src|drain|dst|sink|controller)$`)

// roleKeyError returns the message for an unknown tuning key that names
// a host, or "" when key does not look like one.
func roleKeyError(key string) string {
	if !roleKeyRe.MatchString(key) {
		return ""
	}
	hint := strictyaml.DidYouMean(key, []string{RoleGW1, RoleGW2})
	if hint == "" && (strings.HasSuffix(key, "1") || strings.HasSuffix(key, "2")) {
		hint = fmt.Sprintf(" (did you mean gw%s?)", key[len(key)-1:])
	}
	return fmt.Sprintf("%q is not a gateway that tuning can address; per-gateway blocks are gw1 (the source's side) and gw2 (the drain's side)%s", key, hint)
}
