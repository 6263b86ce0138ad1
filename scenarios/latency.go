package scenarios

import (
	"math"
	"slices"
	"time"

	"github.com/wgbench/wgbench/internal/strictyaml"
)

// Latency configures the latency probe: round trips from source to drain
// through tunnel 0 and back, idle before each repetition's load and loaded
// during its measured window.
type Latency struct {
	// Probe is ProbeUDP (wgbench's own timestamped echo) or ProbeICMP
	// (ping).
	Probe string `yaml:"probe" json:"probe"`
	// Rate is the number of probes per second.
	Rate float64 `yaml:"rate" json:"rate"`
	// Idle is how long the idle probe runs before each repetition's load.
	Idle Duration `yaml:"idle" json:"idle"`
}

// Latency probe kinds (Latency.Probe).
const (
	ProbeUDP  = "udp"
	ProbeICMP = "icmp"
)

// Latency probe defaults and limits.
const (
	DefaultProbe       = ProbeUDP
	DefaultProbeRate   = 50.0
	DefaultProbeIdle   = Duration(2 * time.Second)
	MaxProbeRate       = 1000.0
	MinProbesPerWindow = 10
)

// latencyDefaults fills in the latency keys left out, when the block is
// there at all.
func (d *decoder) latencyDefaults(s *Scenario) {
	l := s.Latency
	if l == nil {
		return
	}
	if !d.present("latency.probe") {
		l.Probe = DefaultProbe
	}
	if !d.present("latency.rate") {
		l.Rate = DefaultProbeRate
	}
	if !d.present("latency.idle") {
		l.Idle = DefaultProbeIdle
	}
}

// validateLatency checks the latency block.
func (d *decoder) validateLatency(s *Scenario) {
	l := s.Latency
	if l == nil {
		return
	}
	kinds := []string{ProbeUDP, ProbeICMP}
	if !slices.Contains(kinds, l.Probe) {
		d.fail("latency.probe", "%q is not a probe; allowed: udp (wgbench's timestamped echo), icmp (ping)%s", l.Probe, strictyaml.DidYouMean(l.Probe, kinds))
	}
	if !(l.Rate > 0 && l.Rate <= MaxProbeRate) || math.IsNaN(l.Rate) {
		d.fail("latency.rate", "%g is out of range; allowed above 0 up to %g probes per second, e.g. rate: 50", l.Rate, MaxProbeRate)
	} else {
		for _, w := range []struct {
			key  string
			span Duration
			what string
		}{{"latency.idle", l.Idle, "the idle probe"}, {"traffic.duration", s.Traffic.Duration, "the measured window"}} {
			if n := l.Rate * w.span.Std().Seconds(); n < MinProbesPerWindow {
				d.fail("latency.rate", "%g probes per second send only %.0f probes in %s (%s); at least %d are needed for percentiles: raise the rate or lengthen %s", l.Rate, n, w.what, w.span, MinProbesPerWindow, w.key)
				break
			}
		}
	}
	if l.Idle < Duration(100*time.Millisecond) || l.Idle > Duration(time.Hour) {
		d.fail("latency.idle", "%s is out of range; allowed 100ms..1h", l.Idle)
	}
}
