package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/internal/knobs"
)

// TestParseErrors feeds malformed scenarios to Parse and checks that one of
// the reported errors is at the expected place, names the expected key path
// and says the expected thing.
func TestParseErrors(t *testing.T) {
	const series = "series:\n  - datapath: wggo\n"
	tests := []struct {
		name string
		yaml string
		set  []string
		file string // want Error.File; "" means "t.yaml"
		pos  string // want "line:col"
		path string // want Error.Path; "*" means any
		msg  string // want a substring of Msg
	}{
		{
			name: "unknown key with typo hint",
			yaml: "name: t\nseries:\n  - datapth: wggo\n",
			pos:  "3:5", path: "series[0].datapth",
			msg: "unknown key; allowed keys: name, datapath, tuning (did you mean datapath?)",
		},
		{
			name: "unknown placement",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning: {placement: emulated_inline, cpus: 0-1}\n",
			pos:  "4:25", path: "series[0].tuning.placement",
			msg: `"emulated_inline" is not a placement; allowed: emulated-inline, overlap-avoidance, numa-alternate (did you mean emulated-inline?)`,
		},
		{
			name: "unknown inline mode",
			yaml: "name: t\nseries:\n  - datapath: inline\n    tuning: {mode: hybird}\n",
			pos:  "4:20", path: "series[0].tuning.mode",
			msg: `"hybird" is not a mode; allowed: inline, hybrid (did you mean hybrid?)`,
		},
		{
			name: "mode on another datapath",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning: {mode: hybrid}\n",
			pos:  "4:20", path: "series[0].tuning.mode", msg: "the inline engine's mode is a inline knob",
		},
		{
			name: "placement without cores",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning: {placement: overlap-avoidance}\n",
			pos:  "4:25", path: "series[0].tuning.placement", msg: "overlap-avoidance needs the tunnels' cores: add cpus",
		},
		{
			name: "kernel cpus without a placement",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning: {cpus: 0-1}\n",
			pos:  "4:20", path: "series[0].tuning.cpus", msg: "on the kernel datapath cpus are the cores of a placement preset",
		},
		{
			name: "placement and a knob it sets",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning: {placement: emulated-inline, cpus: 0, irq_cpus: 1}\n",
			pos:  "4:61", path: "series[0].tuning.irq_cpus", msg: "placement emulated-inline sets irq_cpus itself from cpus",
		},
		{
			name: "placement and threaded NAPI, which it sets",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning: {placement: overlap-avoidance, cpus: 0, threaded_napi: true}\n",
			pos:  "4:68", path: "series[0].tuning.threaded_napi", msg: "placement overlap-avoidance sets threaded_napi itself from cpus; remove threaded_napi or the placement",
		},
		{
			name: "a gateway block for a host that is not a gateway",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      threaded_napi: true\n      gw3:\n        decrypt_cpus: 1\n",
			pos:  "6:7", path: "series[0].tuning.gw3",
			msg: `"gw3" is not a gateway that tuning can address; per-gateway blocks are gw1 (the source's side) and gw2 (the drain's side) (did you mean gw1?)`,
		},
		{
			name: "a gateway block spelt out",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      gateway2: {decrypt_cpus: 1}\n",
			pos:  "5:7", path: "series[0].tuning.gateway2", msg: `"gateway2" is not a gateway that tuning can address; per-gateway blocks are gw1 (the source's side) and gw2 (the drain's side) (did you mean gw2?)`,
		},
		{
			name: "a tuning block for the source",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      source: {decrypt_cpus: 1}\n",
			pos:  "5:7", path: "series[0].tuning.source", msg: `"source" is not a gateway that tuning can address`,
		},
		{
			name: "a knob that is not per gateway in a gateway block",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      gw2:\n        pin: true\n",
			pos:  "6:14", path: "series[0].tuning.gw2.pin", msg: "pin is not per gateway; set pin in the series' shared tuning, for both gateways",
		},
		{
			name: "nested gateway blocks",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      gw2:\n        gw1: {steering: true}\n",
			pos:  "6:14", path: "series[0].tuning.gw2.gw1", msg: "gateway blocks do not nest; set the knobs of gw1 in series[0].tuning.gw1",
		},
		{
			name: "a gateway block turning a shared knob off",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      steering: true\n      gw1: {steering: false}\n",
			pos:  "6:23", path: "series[0].tuning.gw1.steering", msg: "a gateway block cannot turn the shared steering off; set steering in each gateway's block instead of the shared tuning",
		},
		{
			name: "a kernel knob in a gateway block of wggo",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      gw1: {threaded_napi: true}\n",
			pos:  "5:28", path: "series[0].tuning.gw1.threaded_napi", msg: "threaded NAPI is a kernel knob; the wggo datapath has no NAPI",
		},
		{
			name: "napi_cpus on gw2 without threaded NAPI",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      gw1: {threaded_napi: true}\n      gw2: {napi_cpus: 0}\n",
			pos:  "6:24", path: "series[0].tuning.gw2.napi_cpus", msg: "pinning NAPI threads needs threaded_napi: true; softirq NAPI has no thread to pin (on gw2)",
		},
		{
			name: "shared napi_cpus with threaded NAPI on gw1 alone",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      napi_cpus: 0\n      gw1: {threaded_napi: true}\n",
			pos:  "5:18", path: "series[0].tuning.napi_cpus", msg: "softirq NAPI has no thread to pin (on gw2)",
		},
		{
			name: "a gateway's placement and the shared knob it sets",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      threaded_napi: true\n      gw2: {placement: emulated-inline, cpus: 0}\n",
			pos:  "5:22", path: "series[0].tuning.threaded_napi", msg: "placement emulated-inline sets threaded_napi itself from cpus; remove threaded_napi or the placement (on gw2)",
		},
		{
			name: "a gateway's optional naming the other gateway's knob",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      gw1: {steering: true}\n      gw2: {optional: [steering]}\n",
			pos:  "6:24", path: "series[0].tuning.gw2.optional[0]", msg: "steering is not set on gw2; a gateway's optional lists knobs set on that gateway",
		},
		{
			name: "placement on wggo",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning: {placement: emulated-inline}\n",
			pos:  "4:25", path: "series[0].tuning.placement", msg: "a kernel placement preset is a kernel knob",
		},
		{
			name: "override that is not UTF-8",
			yaml: "name: t\n" + series, set: []string{"description=caf\xe9"},
			file: "--set description=caf\xe9", pos: "0:0", path: "description", msg: "text is not valid UTF-8",
		},
		{
			name: "unknown top-level key",
			yaml: "name: t\ncolour: red\n" + series,
			pos:  "2:1", path: "colour",
			msg: "unknown key; allowed keys: name, description, testbed, traffic, sweep, repetitions, series, probes",
		},
		{
			name: "string where an integer belongs",
			yaml: "name: t\nrepetitions: \"two\"\n" + series,
			pos:  "2:14", path: "repetitions", msg: `expected an integer, got "two"`,
		},
		{
			name: "missing scalar value",
			yaml: "name: t\nrepetitions:\n" + series,
			pos:  "2:13", path: "repetitions", msg: "missing value; expected an integer",
		},
		{
			name: "yes is not a boolean in YAML 1.2",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      pin: yes\n",
			pos:  "5:12", path: "series[0].tuning.pin", msg: `expected true or false, got "yes"`,
		},
		{
			name: "mapping expected",
			yaml: "name: t\ntraffic: fast\n" + series,
			pos:  "2:10", path: "traffic", msg: `expected a mapping with keys tool, protocol, duration, omit, bitrate, length, rate, loss_tolerance, search, got "fast"`,
		},
		{
			name: "duration in words",
			yaml: "name: t\ntraffic:\n  duration: 5 seconds\n" + series,
			pos:  "3:13", path: "traffic.duration", msg: `"5 seconds" is not a duration; write e.g. 10s, 500ms, 1m`,
		},
		{
			name: "duration without unit",
			yaml: "name: t\ntraffic:\n  duration: 5\n" + series,
			pos:  "3:13", path: "traffic.duration", msg: "5 is not a duration (no unit)",
		},
		{
			name: "sweep value out of range",
			yaml: "name: t\nsweep:\n  tunnels: [1, 2, 0]\n" + series,
			pos:  "3:19", path: "sweep.tunnels[2]", msg: "0 is out of range; allowed 1..250",
		},
		{
			name: "unsorted sweep",
			yaml: "name: t\nsweep:\n  tunnels: [1, 4, 2]\n" + series,
			pos:  "3:19", path: "sweep.tunnels[2]", msg: "2 comes after 4; list the values in ascending order",
		},
		{
			name: "repeated sweep value",
			yaml: "name: t\nsweep:\n  flows:\n    - 1\n    - 1\n" + series,
			pos:  "5:7", path: "sweep.flows[1]", msg: "1 is listed twice",
		},
		{
			name: "empty sweep",
			yaml: "name: t\nsweep:\n  flows: []\n" + series,
			pos:  "3:10", path: "sweep.flows", msg: "needs at least one value",
		},
		{
			name: "too many flows per point",
			yaml: "name: t\nsweep:\n  tunnels: [100]\n  flows: [1, 20]\n" + series,
			pos:  "3:3", path: "sweep", msg: "100 tunnels × 20 flows is 2000 flows in one point; at most 1000",
		},
		{
			name: "unknown datapath",
			yaml: "name: t\nseries:\n  - datapath: wireguard\n",
			pos:  "3:15", path: "series[0].datapath",
			msg: `"wireguard" is not a datapath; allowed: plain, wggo, kernel, inline`,
		},
		{
			name: "datapath typo hint",
			yaml: "name: t\nseries:\n  - datapath: kernal\n",
			pos:  "3:15", path: "series[0].datapath", msg: "(did you mean kernel?)",
		},
		{
			name: "duplicate key",
			yaml: "name: t\nname: u\n" + series,
			pos:  "2:1", path: "name", msg: "duplicate key; first given at line 1",
		},
		{
			name: "syntax error from the parser",
			yaml: "name: t\nseries: [wggo\n",
			pos:  "2:0", msg: "YAML syntax: did not find expected ',' or ']'",
		},
		{
			name: "syntax error from the scanner",
			yaml: "name: t\nseries: @wggo\n",
			pos:  "2:0", msg: "YAML syntax: found character that cannot start any token",
		},
		{
			name: "syntax error at the end of the input",
			yaml: "name: t\nseries: [[[",
			pos:  "2:0", msg: "YAML syntax: did not find expected node content",
		},
		{
			name: "alias cycle",
			yaml: "name: t\nseries: &s\n  - *s\n",
			pos:  "3:5", path: "series[0]", msg: "alias *s refers to a node that contains it",
		},
		{
			name: "alias bomb",
			yaml: "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
				"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
			pos: "1:12", path: "*", msg: "the document is too large once its aliases are expanded",
		},
		{
			name: "empty file",
			yaml: "",
			pos:  "0:0", msg: "the file is empty",
		},
		{
			name: "only comments",
			yaml: "# nothing here\n",
			pos:  "0:0", msg: "the file is empty",
		},
		{
			name: "not a mapping",
			yaml: "- name: t\n",
			pos:  "1:1", msg: "a scenario is a mapping of keys (name, description, testbed, traffic, sweep, repetitions, series, probes, latency), got a list",
		},
		{
			name: "two documents",
			yaml: "name: t\n" + series + "---\nname: u\n",
			pos:  "4:1", msg: "a second YAML document starts here",
		},
		{
			name: "missing name",
			yaml: series,
			pos:  "0:0", path: "name", msg: "missing; name the scenario",
		},
		{
			name: "invalid name",
			yaml: "name: my scenario\n" + series,
			pos:  "1:7", path: "name", msg: `"my scenario" is not a valid name`,
		},
		{
			name: "no series",
			yaml: "name: t\n",
			pos:  "0:0", path: "series", msg: "at least one series is needed",
		},
		{
			name: "too many series",
			yaml: "name: t\nseries:\n" + manySeries(17),
			pos:  "3:3", path: "series", msg: "17 series; at most 16",
		},
		{
			name: "series without datapath",
			yaml: "name: t\nseries:\n  - name: x\n",
			pos:  "3:5", path: "series[0].datapath", msg: "missing; allowed: plain, wggo, kernel, inline",
		},
		{
			name: "duplicate series names by default",
			yaml: "name: t\nseries:\n  - datapath: wggo\n  - datapath: wggo\n",
			pos:  "4:5", path: "series[1].name", msg: `"wggo" is already the name of series[0]`,
		},
		{
			name: "ssh without inventory",
			yaml: "name: t\ntestbed:\n  driver: ssh\n" + series,
			pos:  "3:3", path: "testbed.inventory", msg: "the ssh driver needs an inventory file",
		},
		{
			name: "local with inventory",
			yaml: "name: t\ntestbed:\n  inventory: hosts.yaml\n" + series,
			pos:  "3:14", path: "testbed.inventory", msg: "the local driver builds its own hosts",
		},
		{
			name: "mtu out of range",
			yaml: "name: t\ntestbed:\n  mtu: 1000\n" + series,
			pos:  "3:8", path: "testbed.mtu", msg: "1000 is out of range; allowed 1280..9000",
		},
		{
			name: "bitrate with tcp",
			yaml: "name: t\ntraffic:\n  bitrate: 1G\n" + series,
			pos:  "3:12", path: "traffic.bitrate", msg: "bitrate applies to udp only",
		},
		{
			name: "udp without bitrate",
			yaml: "name: t\ntraffic:\n  protocol: udp\n" + series,
			pos:  "3:3", path: "traffic.bitrate", msg: "udp needs a bitrate per flow",
		},
		{
			name: "bitrate in words",
			yaml: "name: t\ntraffic:\n  protocol: udp\n  bitrate: 1 gigabit\n" + series,
			pos:  "4:12", path: "traffic.bitrate", msg: `"1 gigabit" is not a bitrate`,
		},
		{
			name: "omit not shorter than duration",
			yaml: "name: t\ntraffic:\n  duration: 2s\n  omit: 2s\n" + series,
			pos:  "4:9", path: "traffic.omit", msg: "omit must be shorter than duration (2s)",
		},
		{
			name: "duration too short",
			yaml: "name: t\ntraffic:\n  duration: 500ms\n  omit: 0s\n" + series,
			pos:  "3:13", path: "traffic.duration", msg: "500ms is out of range; allowed 1s..24h",
		},
		{
			name: "threaded_napi on wggo",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      threaded_napi: true\n",
			pos:  "5:22", path: "series[0].tuning.threaded_napi",
			msg: "threaded NAPI is a kernel knob; the wggo datapath has no NAPI. Move it to a kernel series or remove it.",
		},
		{
			name: "pin on kernel",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      pin: true\n",
			pos:  "5:12", path: "series[0].tuning.pin", msg: "Move it to a wggo, inline or openvpn series",
		},
		{
			name: "napi_cpus without threaded_napi",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      napi_cpus: [0, 1]\n",
			pos:  "5:18", path: "series[0].tuning.napi_cpus", msg: "needs threaded_napi: true",
		},
		{
			name: "tuning on plain",
			yaml: "name: t\nseries:\n  - datapath: plain\n    tuning:\n      pin: true\n",
			pos:  "5:12", path: "series[0].tuning.pin", msg: "the plain datapath is the no-tunnel baseline and takes no tuning",
		},
		{
			name: "backwards CPU range",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      cpus: \"3-1\"\n",
			pos:  "5:13", path: "series[0].tuning.cpus", msg: `"3-1" is not a CPU list: range 3-1 runs backwards`,
		},
		{
			name: "negative CPU in a list",
			yaml: "name: t\nseries:\n  - datapath: wggo\n    tuning:\n      cpus: [0, -1]\n",
			pos:  "5:17", path: "series[0].tuning.cpus[1]", msg: "CPU -1 is out of range; allowed 0..4095",
		},
		{
			name: "unknown optional knob",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      threaded_napi: true\n      optional: [threaded_nap]\n",
			pos:  "6:18", path: "series[0].tuning.optional[0]", msg: `"threaded_nap" is not a tuning knob; allowed: threaded_napi, napi_cpus`,
		},
		{
			name: "optional knob not set",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      threaded_napi: true\n      optional: [steering]\n",
			pos:  "6:18", path: "series[0].tuning.optional[0]", msg: "steering is not set in this series",
		},
		{
			name: "numa node out of range",
			yaml: "name: t\nseries:\n  - datapath: kernel\n    tuning:\n      numa_node: -2\n",
			pos:  "5:18", path: "series[0].tuning.numa_node", msg: "-2 is out of range; allowed -1",
		},
		{
			name: "probe persistence zero",
			yaml: "name: t\n" + series + "probes:\n  persistence: 0\n",
			pos:  "5:16", path: "probes.persistence", msg: "0 is out of range",
		},
		{
			name: "merge of a scalar",
			yaml: "name: t\nseries:\n  - <<: wggo\n",
			pos:  "3:9", path: "series[0]", msg: "a << merge needs a mapping",
		},
		{
			name: "bad override path",
			yaml: "name: t\n" + series,
			set:  []string{"traffic.durration=5s"},
			file: "--set traffic.durration=5s", pos: "0:0", path: "traffic.durration",
			msg: "unknown key; allowed keys: tool, protocol, duration, omit, bitrate, length, rate, loss_tolerance, search (did you mean duration?)",
		},
		{
			name: "override path below a value",
			yaml: "name: t\n" + series,
			set:  []string{"repetitions.max=3"},
			file: "--set repetitions.max=3", pos: "0:0", path: "repetitions", msg: "repetitions has no keys below it",
		},
		{
			name: "malformed override",
			yaml: "name: t\n" + series,
			set:  []string{"repetitions"},
			file: "--set repetitions", pos: "0:0", msg: "expected key.path=value",
		},
		{
			name: "bad override value",
			yaml: "name: t\n" + series,
			set:  []string{"traffic.duration=5 seconds"},
			file: "--set traffic.duration=5 seconds", pos: "0:0", path: "traffic.duration",
			msg: `"5 seconds" is not a duration`,
		},
		{
			name: "override value that is not YAML",
			yaml: "name: t\n" + series,
			set:  []string{"sweep.tunnels=[1,2"},
			file: "--set sweep.tunnels=[1,2", pos: "0:0", path: "sweep.tunnels", msg: `"[1,2" is not a YAML value`,
		},
		{
			name: "override index past the end",
			yaml: "name: t\n" + series,
			set:  []string{"series[3].datapath=kernel"},
			file: "--set series[3].datapath=kernel", pos: "0:0", path: "series[3]",
			msg: "index 3 is past the end; series has 1 entries (use [1] to add one)",
		},
		{
			name: "override creates a series that lacks a datapath",
			yaml: "name: t\n" + series,
			set:  []string{"series[1].name=x"},
			file: "--set series[1].name=x", pos: "0:0", path: "series[1].datapath", msg: "missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.yaml), tt.set)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not an *Errors", err, err)
			}
			file := tt.file
			if file == "" {
				file = "t.yaml"
			}
			for _, e := range errs.List {
				if e.File == file && fmt.Sprintf("%d:%d", e.Line, e.Col) == tt.pos &&
					(e.Path == tt.path || tt.path == "*") && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no error at %s:%s: %s: ...%s...; got:\n%v", file, tt.pos, tt.path, tt.msg, err)
		})
	}
}

// manySeries returns n uniquely named wggo series as YAML list items.
func manySeries(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - {name: s%d, datapath: wggo}\n", i)
	}
	return b.String()
}

// TestParseErrorsNoDuplicates checks that a value that failed to decode is
// not reported a second time by validation.
func TestParseErrorsNoDuplicates(t *testing.T) {
	_, err := Parse("t.yaml", []byte("name: t\ntraffic:\n  protocol: udp\n  bitrate: fast\n  duration: soon\nseries:\n  - datapath: wggo\n"), nil)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want *Errors", err)
	}
	want := []string{
		`t.yaml:4:12: traffic.bitrate: "fast" is not a bitrate; write bits per second, e.g. 1G, 500M, 100k or 10000`,
		`t.yaml:5:13: traffic.duration: "soon" is not a duration; write e.g. 10s, 500ms, 1m`,
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestParseManyErrors checks that every error of a file is reported, in
// file order, one per line.
func TestParseManyErrors(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "many-errors.yaml"), nil)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want *Errors", err)
	}
	var first *Error
	if !errors.As(err, &first) || first != errs.List[0] {
		t.Errorf("errors.As(*Error) = %v, want the first error %v", first, errs.List[0])
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(errs.List) {
		t.Errorf("Error() has %d lines for %d errors", len(lines), len(errs.List))
	}
	// The lines with a mistake; line 12 has two.
	wantLines := []int{2, 4, 5, 7, 8, 9, 10, 12, 12, 13, 14, 17, 18, 21, 22, 23, 24}
	var gotLines []int
	for _, e := range errs.List {
		gotLines = append(gotLines, e.Line)
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("error lines (-want +got):\n%s\n%v", diff, err)
	}
}

// TestErrorsCap checks that a file with very many errors reports the first
// maxErrors and counts the rest.
func TestErrorsCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: t\nseries:\n")
	for i := range 30 {
		fmt.Fprintf(&b, "  - datapath: dp%d\n", i)
	}
	_, err := Parse("t.yaml", []byte(b.String()), nil)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want *Errors", err)
	}
	if len(errs.List) != maxErrors || errs.Omitted == 0 {
		t.Errorf("got %d errors and %d omitted, want %d and more omitted", len(errs.List), errs.Omitted, maxErrors)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("(and %d more errors)", errs.Omitted)) {
		t.Errorf("Error() does not count the omitted errors:\n%v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: got %v, want os.ErrNotExist", err)
	}
}

// TestDefaults checks the defaults of a minimal scenario, and that values
// written explicitly, zero included, are kept.
func TestDefaults(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "minimal.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Name:    "minimal",
		Testbed: Testbed{Driver: "local"},
		Traffic: Traffic{
			Tool: "iperf3", Protocol: TCP,
			Duration: Duration(5 * time.Second), Omit: Duration(time.Second),
		},
		Sweep:       Sweep{Tunnels: []int{1}, Flows: []int{1}},
		Repetitions: 1,
		Series:      []Series{{Name: "wggo", Datapath: WireGuardGo}},
		Probes: Probes{
			Interval: Duration(250 * time.Millisecond), Saturation: 90, Persistence: 0.6, Headroom: 0.25,
		},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	s, err = Parse("t.yaml", []byte("name: t\ntraffic:\n  omit: 0s\nprobes:\n  headroom: 0\nseries:\n  - datapath: wggo\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Traffic.Omit != 0 || s.Probes.Headroom != 0 {
		t.Errorf("explicit zeros replaced by defaults: omit %v, headroom %v", s.Traffic.Omit, s.Probes.Headroom)
	}
}

// TestAnchors checks that aliases and merge keys are followed, with the
// mapping's own keys winning over merged ones.
func TestAnchors(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "anchors.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	pinned := Tuning{Pin: true, CPUs: CPUList("0-1")}
	want := []Series{
		{Name: "wggo-pinned", Datapath: WireGuardGo, Tuning: pinned},
		{Name: "inline", Datapath: Inline, Tuning: pinned},
		{Name: "inline-numa", Datapath: Inline, Tuning: Tuning{
			Pin: true, CPUs: CPUList("0-1"), NUMANode: &zero, Optional: []string{"numa_node"},
		}},
	}
	if diff := cmp.Diff(want, s.Series); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if s.Traffic.Bitrate != 2_500_000_000 {
		t.Errorf("bitrate = %d, want 2.5G", s.Traffic.Bitrate)
	}
}

// TestOverrides checks that --set values replace, create and extend what
// the file says, and touch nothing else.
func TestOverrides(t *testing.T) {
	base := `name: t
series:
  - &w
    datapath: wggo
    tuning:
      cpus: [0]
  - <<: *w
    name: wggo2
`
	s, err := Parse("t.yaml", []byte(base), []string{
		"sweep.tunnels=[1,2,4,8,16,32]",
		"traffic.duration=30s",
		"repetitions=5",
		"series[1].tuning.pin=true",
		"series[0].datapath=inline",
		"series[2].datapath=kernel",
		"series[2].tuning.napi_cpus=0-3",
		"series[2].tuning.threaded_napi=true",
		"description=Fig. 8: a=b",
		"sweep.flows=2",
		"probes.interval=100ms",
		"series[2].tuning.rps_cpus=[&c 5, 6]",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Name:        "t",
		Description: "Fig. 8: a=b",
		Testbed:     Testbed{Driver: "local"},
		Traffic: Traffic{
			Tool: "iperf3", Protocol: TCP,
			Duration: Duration(30 * time.Second), Omit: Duration(time.Second),
		},
		Sweep:       Sweep{Tunnels: []int{1, 2, 4, 8, 16, 32}, Flows: []int{2}},
		Repetitions: 5,
		Series: []Series{
			{Name: "inline", Datapath: Inline, Tuning: Tuning{CPUs: CPUList("0")}},
			{Name: "wggo2", Datapath: WireGuardGo, Tuning: Tuning{CPUs: CPUList("0"), Pin: true}},
			{Name: "kernel", Datapath: Kernel, Tuning: Tuning{
				ThreadedNAPI: true, NAPICPUs: CPUList("0-3"), RPSCPUs: CPUList("5-6"),
			}},
		},
		Probes: Probes{
			Interval: Duration(100 * time.Millisecond), Saturation: 90, Persistence: 0.6, Headroom: 0.25,
		},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("scenario (-want +got):\n%s", diff)
	}

	// A value may use anchors of its own.
	s, err = Parse("t.yaml", []byte(base), []string{"sweep={tunnels: &x [3], flows: *x}"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Sweep{Tunnels: []int{3}, Flows: []int{3}}, s.Sweep); diff != "" {
		t.Errorf("sweep (-want +got):\n%s", diff)
	}
}

// TestOverrideErrorsAreAttributed checks that a value an override wrote is
// blamed on the override, not the file, even when validation finds it.
func TestOverrideErrorsAreAttributed(t *testing.T) {
	_, err := Parse("t.yaml", []byte("name: t\nseries:\n  - datapath: wggo\n"), []string{"series[0].tuning.threaded_napi=true"})
	want := "--set series[0].tuning.threaded_napi=true: series[0].tuning.threaded_napi: threaded NAPI is a kernel knob"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want an error starting %q", err, want)
	}
}

func TestExpand(t *testing.T) {
	s := &Scenario{
		Sweep:  Sweep{Tunnels: []int{1, 4}, Flows: []int{1, 2}},
		Series: []Series{{Name: "a"}, {Name: "b"}},
	}
	want := []Point{
		{0, 1, 1, 0, 0}, {0, 1, 2, 0, 0}, {0, 4, 1, 0, 0}, {0, 4, 2, 0, 0},
		{1, 1, 1, 0, 0}, {1, 1, 2, 0, 0}, {1, 4, 1, 0, 0}, {1, 4, 2, 0, 0},
	}
	if diff := cmp.Diff(want, s.Expand()); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}
	if got := want[3].Flows(); got != 8 {
		t.Errorf("Flows() = %d, want 8", got)
	}
}

func TestTuningSet(t *testing.T) {
	node := -1
	tests := []struct {
		tuning Tuning
		want   []string
	}{
		{Tuning{}, nil},
		{Tuning{Optional: []string{"pin"}}, nil},
		{Tuning{CPUs: CPUList("")}, nil},
		{Tuning{ThreadedNAPI: true, NAPICPUs: CPUList("1"), NUMANode: &node}, []string{"threaded_napi", "napi_cpus", "numa_node"}},
		{Tuning{Pin: true, CPUs: CPUList("0")}, []string{"cpus", "pin"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.tuning.Set()); diff != "" {
			t.Errorf("%+v.Set() (-want +got):\n%s", tt.tuning, diff)
		}
	}
}

// TestKnobsCoverTuning checks that the knob table and the Tuning struct
// name the same knobs, with the same types, and that every knob has a
// datapath.
func TestKnobsCoverTuning(t *testing.T) {
	types := map[knobs.Type]reflect.Type{
		knobs.Bool: reflect.TypeFor[bool](), knobs.CPUList: reflect.TypeFor[CPUList](),
		knobs.Int: reflect.TypeFor[*int](), knobs.Name: reflect.TypeFor[string](),
	}
	tt := reflect.TypeFor[Tuning]()
	var fields []string
	for _, name := range fieldNames(tt) {
		if name == "optional" || name == "gw1" || name == "gw2" {
			continue
		}
		fields = append(fields, name)
		k, ok := knobs.Lookup(name)
		if !ok {
			t.Errorf("Tuning.%s has no row in the knobs table", name)
			continue
		}
		if got := tt.Field(fieldIndex(tt, name)).Type; got != types[k.Type] {
			t.Errorf("knob %s: the table says %s, Tuning has %s", name, k.Type, got)
		}
		if len(KnobDatapaths(name)) == 0 {
			t.Errorf("knob %s has no datapaths", name)
		}
	}
	for _, name := range knobs.Names() {
		if !slices.Contains(fields, name) {
			t.Errorf("knobs table row %s is not a Tuning field", name)
		}
	}
}
