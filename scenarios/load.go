package scenarios

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the scenario file at path, applies the --set overrides
// ("key.path=value"), decodes it strictly, fills in defaults and validates
// it. A scenario that is not valid yields an *Errors listing every problem
// with its file:line:col; a file that cannot be read yields the os error.
func Load(path string, overrides []string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data, overrides)
}

// Parse is Load for a scenario already in memory; name is the file name
// used in error positions.
func Parse(name string, data []byte, overrides []string) (*Scenario, error) {
	d := newDecoder(name)
	root := d.parseDocument(data)
	if root == nil {
		return nil, d.errs.Err()
	}
	for _, o := range overrides {
		d.applyOverride(root, o)
	}
	var s Scenario
	d.decode(root, reflect.ValueOf(&s).Elem(), "")
	d.applyDefaults(&s)
	d.validate(&s)
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Defaults applied to keys a scenario leaves out.
const (
	DefaultDriver      = "local"
	DefaultTool        = "iperf3"
	DefaultProtocol    = TCP
	DefaultDuration    = Duration(5 * time.Second)
	DefaultOmit        = Duration(time.Second)
	DefaultRepetitions = 1
	DefaultInterval    = Duration(250 * time.Millisecond)
	DefaultSaturation  = 90.0
	DefaultPersistence = 0.6
	DefaultHeadroom    = 0.25
)

// applyDefaults fills in the keys the file and overrides left out.
func (d *decoder) applyDefaults(s *Scenario) {
	set := func(path string, apply func()) {
		if !d.present(path) {
			apply()
		}
	}
	set("testbed.driver", func() { s.Testbed.Driver = DefaultDriver })
	set("traffic.tool", func() { s.Traffic.Tool = DefaultTool })
	set("traffic.protocol", func() { s.Traffic.Protocol = DefaultProtocol })
	set("traffic.duration", func() { s.Traffic.Duration = DefaultDuration })
	set("traffic.omit", func() { s.Traffic.Omit = DefaultOmit })
	set("sweep.tunnels", func() { s.Sweep.Tunnels = []int{1} })
	set("sweep.flows", func() { s.Sweep.Flows = []int{1} })
	set("repetitions", func() { s.Repetitions = DefaultRepetitions })
	set("probes.interval", func() { s.Probes.Interval = DefaultInterval })
	set("probes.saturation", func() { s.Probes.Saturation = DefaultSaturation })
	set("probes.persistence", func() { s.Probes.Persistence = DefaultPersistence })
	set("probes.headroom", func() { s.Probes.Headroom = DefaultHeadroom })
	d.latencyDefaults(s)
	d.rateDefaults(s)
	for i := range s.Series {
		set(fmt.Sprintf("series[%d].name", i), func() { s.Series[i].Name = string(s.Series[i].Datapath) })
	}
}

// Expand returns the points of s in run order: for each series in order,
// for each MTU, for each tunnel count, for each flow count, for each packet
// size (MTU and packet size only when swept).
func (s *Scenario) Expand() []Point {
	mtus, sizes := orZero(s.Sweep.MTU), orZero(s.Sweep.PacketSize)
	points := make([]Point, 0, len(s.Series)*len(mtus)*len(s.Sweep.Tunnels)*len(s.Sweep.Flows)*len(sizes))
	for i := range s.Series {
		for _, m := range mtus {
			for _, t := range s.Sweep.Tunnels {
				for _, f := range s.Sweep.Flows {
					for _, ps := range sizes {
						points = append(points, Point{Series: i, Tunnels: t, FlowsPerTunnel: f, PacketSize: ps, MTU: m})
					}
				}
			}
		}
	}
	return points
}

// orZero returns l, or a list of one 0 when l is empty.
func orZero(l []int) []int {
	if len(l) == 0 {
		return []int{0}
	}
	return l
}

// YAML writes s back out as a scenario file, defaults included. Parsing the
// result gives a Scenario equal to s.
func (s *Scenario) YAML() ([]byte, error) {
	n, err := encode(reflect.ValueOf(s).Elem())
	if err != nil {
		return nil, fmt.Errorf("encode scenario %q: %w", s.Name, err)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode scenario %q: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode scenario %q: %w", s.Name, err)
	}
	return b.Bytes(), nil
}

// Set returns the yaml names of the knobs set in t, in declaration order.
// Optional and the gw1 and gw2 blocks are not knobs and are never listed.
func (t Tuning) Set() []string {
	var names []string
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		name := yamlName(v.Type().Field(i))
		if name == "" || !isKnob(name) || v.Field(i).IsZero() {
			continue
		}
		if v.Field(i).Kind() == reflect.Slice && v.Field(i).Len() == 0 {
			continue
		}
		names = append(names, name)
	}
	return names
}

// Valid reports whether d is one of Datapaths.
func (d Datapath) Valid() bool {
	for _, x := range Datapaths {
		if d == x {
			return true
		}
	}
	return false
}
