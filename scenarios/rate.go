package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/internal/strictyaml"
)

// Rate is traffic.rate: "search" or a fixed bitrate.
type Rate struct {
	// Search asks for the RFC 2544 search of the highest rate within the
	// loss tolerance.
	Search bool
	// Fixed is the fixed rate when Search is false; 0 when rate is not
	// given.
	Fixed Bitrate
}

// RateSearch is the word that asks for the rate search.
const RateSearch = "search"

// String writes r as a scenario does: "search", "2G", or "" when unset.
func (r Rate) String() string {
	switch {
	case r.Search:
		return RateSearch
	case r.Fixed != 0:
		return r.Fixed.String()
	}
	return ""
}

// UnmarshalYAML reads "search" or a bitrate.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if !isScalar(n) {
		return fmt.Errorf("expected search or a bitrate such as 2G, got %s", strictyaml.Describe(n))
	}
	if strings.EqualFold(n.Value, RateSearch) {
		*r = Rate{Search: true}
		return nil
	}
	b, err := ParseBitrate(n.Value)
	if err != nil {
		return fmt.Errorf("%q is neither search nor a bitrate; write rate: search (find the highest rate within loss_tolerance) or a bitrate such as 2G", n.Value)
	}
	*r = Rate{Fixed: b}
	return nil
}

// MarshalYAML writes r as "search" or a bitrate.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// MarshalJSON writes r as "search" or a bitrate string.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch {
	case s == "":
		*r = Rate{}
	case s == RateSearch:
		*r = Rate{Search: true}
	default:
		v, err := ParseBitrate(s)
		if err != nil {
			return err
		}
		*r = Rate{Fixed: v}
	}
	return nil
}

// Search bounds the RFC 2544 rate search of each point: at most Trials
// trials of TrialDuration each, offered rates up to MaxRate in all.
type Search struct {
	Trials        int      `yaml:"trials,omitempty" json:"trials,omitempty"`
	TrialDuration Duration `yaml:"trial_duration,omitempty" json:"trial_duration,omitempty"`
	MaxRate       Bitrate  `yaml:"max_rate,omitempty" json:"max_rate,omitempty"`
}

// Rate search defaults and limits, kept short for a small machine.
const (
	DefaultLossTolerance = 0.1 // percent
	DefaultTrials        = 6
	DefaultTrialDuration = Duration(time.Second)
	DefaultMaxRate       = Bitrate(10_000_000_000)
	MaxTrials            = 30
	// TunnelOverhead is what a WireGuard tunnel adds to a packet over
	// IPv4 (IP 20 + UDP 8 + WireGuard 32, rounded up as wg-quick does
	// for IPv6): the tunnel MTU is the link MTU less this.
	TunnelOverhead = 80
	// MinPacketSize is the smallest packet iperf3 can send: IPv4 20 +
	// UDP 8 + iperf3's own 16-byte header.
	MinPacketSize = 44
	// UDPIPHeaders is what IPv4 and UDP add to a datagram's payload.
	UDPIPHeaders = 28
	// DefaultLinkMTU is the links' MTU when the scenario sets none.
	DefaultLinkMTU = 1500
)

// LossTolerancePct returns the loss tolerance in percent, default
// included.
func (t Traffic) LossTolerancePct() float64 {
	if t.LossTolerance == nil {
		return DefaultLossTolerance
	}
	return *t.LossTolerance
}

// rateDefaults copies a fixed rate into Bitrate and fills in the search
// bounds of a searched one.
func (d *decoder) rateDefaults(s *Scenario) {
	t := &s.Traffic
	if t.Rate.Fixed != 0 && !d.present("traffic.bitrate") {
		t.Bitrate = t.Rate.Fixed
	}
	if !t.Rate.Search {
		return
	}
	if !d.present("traffic.loss_tolerance") {
		v := DefaultLossTolerance
		t.LossTolerance = &v
	}
	if !d.present("traffic.search.trials") {
		t.Search.Trials = DefaultTrials
	}
	if !d.present("traffic.search.trial_duration") {
		t.Search.TrialDuration = DefaultTrialDuration
	}
	if !d.present("traffic.search.max_rate") {
		t.Search.MaxRate = DefaultMaxRate
	}
}

// validateRate checks rate, loss_tolerance and search.
func (d *decoder) validateRate(s *Scenario) {
	t := &s.Traffic
	if t.Rate.Search && t.Protocol != UDP {
		d.fail("traffic.rate", "the rate search offers UDP at chosen rates; set protocol: udp (tcp finds its own rate)")
	}
	if t.Rate.Fixed != 0 && d.present("traffic.bitrate") && t.Bitrate != t.Rate.Fixed {
		d.fail("traffic.rate", "%s disagrees with bitrate %s; give one of them", t.Rate.Fixed, t.Bitrate)
	}
	if t.LossTolerance != nil {
		v := *t.LossTolerance
		switch {
		case !t.Rate.Search:
			d.fail("traffic.loss_tolerance", "applies to rate: search only; add rate: search or remove it")
		case math.IsNaN(v) || v < 0 || v >= 100:
			d.fail("traffic.loss_tolerance", "%g is out of range; allowed 0 up to but not including 100 (percent lost), e.g. 0.1", v)
		}
	}
	if t.Search != (Search{}) && !t.Rate.Search {
		d.fail("traffic.search", "bounds the rate search; add rate: search or remove it")
	}
	if t.Rate.Search {
		d.checkRange("traffic.search.trials", t.Search.Trials, 2, MaxTrials)
		if t.Search.TrialDuration < Duration(time.Second) || t.Search.TrialDuration > Duration(time.Minute) {
			d.fail("traffic.search.trial_duration", "%s is out of range; allowed 1s..1m (iperf3 counts whole seconds)", t.Search.TrialDuration)
		}
		if t.Search.MaxRate < 1_000_000 {
			d.fail("traffic.search.max_rate", "%s is too low; the search starts there, give at least 1M", t.Search.MaxRate)
		}
	}
}

// validateSizes checks sweep.packet_size and sweep.mtu: sizes from the
// smallest IP packet iperf3 can send up to the tunnel MTU, MTUs the links
// can take.
func (d *decoder) validateSizes(s *Scenario) {
	sw := &s.Sweep
	if len(sw.MTU) > 0 {
		if s.Testbed.MTU != 0 {
			d.fail("sweep.mtu", "sets the links' MTU per point; remove testbed.mtu (%d) or the sweep", s.Testbed.MTU)
		}
		d.validateList("sweep.mtu", sw.MTU, 1280, 9000, "link MTU")
	}
	if len(sw.PacketSize) == 0 {
		return
	}
	if s.Traffic.Protocol != UDP {
		d.fail("sweep.packet_size", "packet sizes are UDP datagram sizes; set traffic.protocol: udp")
	}
	if s.Traffic.Length != 0 {
		d.fail("traffic.length", "sweep.packet_size sets the datagram size per point; remove length")
	}
	link := DefaultLinkMTU
	if s.Testbed.MTU != 0 {
		link = s.Testbed.MTU
	}
	if len(sw.MTU) > 0 && !slices.ContainsFunc(sw.MTU, func(m int) bool { return m < 1280 || m > 9000 }) {
		link = slices.Min(sw.MTU)
	}
	limit, what := link, fmt.Sprintf("the link MTU %d", link)
	if slices.ContainsFunc(s.Series, func(se Series) bool { return se.Datapath != Plain }) {
		limit, what = link-TunnelOverhead, fmt.Sprintf("the tunnel MTU %d (link MTU %d less %d of WireGuard over IPv4)", link-TunnelOverhead, link, TunnelOverhead)
	}
	for i, v := range sw.PacketSize {
		p := fmt.Sprintf("sweep.packet_size[%d]", i)
		switch {
		case v < MinPacketSize:
			d.fail(p, "%d B is below the smallest IP packet iperf3 can send, %d B (IPv4 20 + UDP 8 + iperf3's 16-byte header)", v, MinPacketSize)
		case v > limit:
			d.fail(p, "%d B does not fit %s: it would be fragmented. Use at most %d, or raise the MTU (testbed.mtu or sweep.mtu) to %d", v, what, limit, v+link-limit)
		case i > 0 && v == sw.PacketSize[i-1]:
			d.fail(p, "%d is listed twice", v)
		case i > 0 && v < sw.PacketSize[i-1]:
			d.fail(p, "%d comes after %d; list the values in ascending order", v, sw.PacketSize[i-1])
		}
	}
}

// validateList checks a list of values in lo..hi, ascending, each once.
func (d *decoder) validateList(path string, vals []int, lo, hi int, what string) {
	for i, v := range vals {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case v < lo || v > hi:
			d.fail(p, "%d is out of range for a %s; allowed %d..%d", v, what, lo, hi)
		case i > 0 && v == vals[i-1]:
			d.fail(p, "%d is listed twice", v)
		case i > 0 && v < vals[i-1]:
			d.fail(p, "%d comes after %d; list the values in ascending order", v, vals[i-1])
		}
	}
}
