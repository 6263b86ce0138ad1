package scenarios

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

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

// knob describes where a tuning knob applies, for validation messages.
type knob struct {
	label     string     // what it is, as a subject: "threaded NAPI"
	datapaths []Datapath // the datapaths that accept it
	lacks     string     // why the others do not: "has no NAPI"
}

// knobs maps the yaml name of every Tuning knob to where it applies.
var knobs = map[string]knob{
	"threaded_napi":      {"threaded NAPI", []Datapath{Kernel}, "has no NAPI"},
	"napi_cpus":          {"pinning NAPI threads", []Datapath{Kernel}, "has no NAPI threads to pin"},
	"numa_node":          {"NUMA placement", []Datapath{Kernel, Inline}, "does not place its work by NUMA node"},
	"steering":           {"ntuple flow steering", []Datapath{Kernel}, "does not install steering rules"},
	"irq_cpus":           {"the receive queues' IRQ affinity", []Datapath{Kernel}, "does not place NIC interrupts"},
	"rps_cpus":           {"the RPS mask", []Datapath{Kernel}, "does not set RPS masks"},
	"xps_cpus":           {"the XPS masks", []Datapath{Kernel}, "does not set XPS masks"},
	"udp_gro_forwarding": {"UDP GRO forwarding", []Datapath{Kernel}, "does not turn it on"},
	"encrypt_cpus":       {"the encryption CPU mask", []Datapath{Kernel}, "has no kernel crypto workers"},
	"decrypt_cpus":       {"the decryption CPU mask", []Datapath{Kernel}, "has no kernel crypto workers"},
	"serial_cpus":        {"the patched module's serial_work_cpu", []Datapath{Kernel}, "has no kernel serial workers"},
	"inline_kernel":      {"the patched module's inline mode", []Datapath{Kernel}, "is not the kernel module"},
	"placement":          {"a kernel placement preset", []Datapath{Kernel}, "has no kernel stages to place; use cpus and pin"},
	"cpus":               {"placing engine tunnels on cores", []Datapath{WireGuardGo, Inline, Kernel}, "has no engine threads to place; use napi_cpus, rps_cpus or encrypt_cpus/decrypt_cpus"},
	"pin":                {"pinning engine tunnels to cores", []Datapath{WireGuardGo, Inline}, "has no engine threads to pin; use threaded_napi with napi_cpus"},
}

// KnobDatapaths returns the datapaths that accept the tuning knob with the
// given yaml name, or nil for an unknown knob.
func KnobDatapaths(name string) []Datapath {
	return slices.Clone(knobs[name].datapaths)
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

// validateTuning checks that every knob set in t applies to datapath dp.
func (d *decoder) validateTuning(path string, dp Datapath, t *Tuning) {
	set := t.Set()
	for _, name := range set {
		p := path + "." + name
		k := knobs[name]
		switch {
		case dp == Plain:
			d.fail(p, "the plain datapath is the no-tunnel baseline and takes no tuning; remove %s", name)
		case !slices.Contains(k.datapaths, dp):
			where := joinDatapaths(k.datapaths)
			d.fail(p, "%s is a %s knob; the %s datapath %s. Move it to a %s series or remove it.", k.label, where, dp, k.lacks, where)
		}
	}
	if t.NUMANode != nil && (*t.NUMANode < -1 || *t.NUMANode > 1023) {
		d.fail(path+".numa_node", "%d is out of range; allowed -1 (the NIC's node) or 0..1023", *t.NUMANode)
	}
	if dp == Kernel && t.Placement != "" && !slices.Contains(Placements, t.Placement) {
		d.fail(path+".placement", "%q is not a placement; allowed: %s%s", t.Placement, strings.Join(Placements, ", "), strictyaml.DidYouMean(t.Placement, Placements))
	}
	if dp == Kernel && t.Placement != "" && len(t.CPUs) == 0 {
		d.fail(path+".placement", "%s needs the tunnels' cores: add cpus, e.g. cpus: 0-3 (tunnel i on the i-th)", t.Placement)
	}
	if dp == Kernel && len(t.CPUs) > 0 && t.Placement == "" {
		d.fail(path+".cpus", "on the kernel datapath cpus are the cores of a placement preset; add placement (%s), or use napi_cpus, irq_cpus or encrypt_cpus/decrypt_cpus", strings.Join(Placements, " or "))
	}
	if dp == Kernel && t.Placement != "" {
		for _, k := range []string{"napi_cpus", "irq_cpus", "encrypt_cpus", "decrypt_cpus", "serial_cpus", "numa_node"} {
			if slices.Contains(set, k) {
				d.fail(path+"."+k, "placement %s sets %s itself from cpus; remove %s or the placement", t.Placement, k, k)
			}
		}
	}
	if dp == Kernel && len(t.NAPICPUs) > 0 && !t.ThreadedNAPI {
		d.fail(path+".napi_cpus", "pinning NAPI threads needs threaded_napi: true; softirq NAPI has no thread to pin")
	}
	allKnobs := slices.DeleteFunc(fieldNames(reflect.TypeFor[Tuning]()), func(s string) bool { return s == "optional" })
	for i, o := range t.Optional {
		p := fmt.Sprintf("%s.optional[%d]", path, i)
		switch {
		case !slices.Contains(allKnobs, o):
			d.fail(p, "%q is not a tuning knob; allowed: %s%s", o, strings.Join(allKnobs, ", "), strictyaml.DidYouMean(o, allKnobs))
		case !slices.Contains(set, o):
			d.fail(p, "%s is not set in this series; optional lists knobs the series sets", o)
		case slices.Index(t.Optional, o) < i:
			d.fail(p, "%s is listed twice", o)
		}
	}
}

// joinDatapaths writes "kernel" or "wggo or inline".
func joinDatapaths(dps []Datapath) string {
	s := make([]string, len(dps))
	for i, dp := range dps {
		s[i] = string(dp)
	}
	return strings.Join(s, " or ")
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
