package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// posError is one expected error: where, at which key, saying what.
type posError struct {
	name string
	yaml string
	pos  string // "line:col"
	path string
	msg  string
}

// checkPosErrors parses each case and wants an error at its position.
func checkPosErrors(t *testing.T, tests []posError) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.yaml), nil)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not an *Errors", err, err)
			}
			for _, e := range errs.List {
				if fmt.Sprintf("%d:%d", e.Line, e.Col) == tt.pos && e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no error at %s: %s: ...%s...; got:\n%v", tt.pos, tt.path, tt.msg, err)
		})
	}
}

func TestLatencyErrors(t *testing.T) {
	const head = "name: t\nseries: [{datapath: wggo}]\n"
	checkPosErrors(t, []posError{
		{"rate 0", head + "latency:\n  rate: 0\n", "4:9", "latency.rate", "0 is out of range; allowed above 0 up to 1000"},
		{"negative rate", head + "latency: {rate: -5}\n", "3:17", "latency.rate", "-5 is out of range"},
		{"rate too high", head + "latency: {rate: 5000}\n", "3:17", "latency.rate", "5000 is out of range"},
		{"too few probes", head + "latency: {rate: 1}\n", "3:17", "latency.rate", "send only 2 probes in the idle probe"},
		{"unknown probe", head + "latency: {probe: tcp}\n", "3:18", "latency.probe", `"tcp" is not a probe; allowed: udp`},
		{"idle too short", head + "latency: {idle: 10ms}\n", "3:17", "latency.idle", "10ms is out of range"},
		{"unknown key", head + "latency: {rat: 5}\n", "3:11", "latency.rat", "unknown key; allowed keys: probe, rate, idle"},
	})
}

func TestLatencyDefaults(t *testing.T) {
	tests := []struct {
		yaml string
		want *Latency
	}{
		{"", nil},
		{"latency:\n", nil}, // a null block is an absent one
		{"latency: {}\n", &Latency{Probe: ProbeUDP, Rate: DefaultProbeRate, Idle: DefaultProbeIdle}}, // an empty one probes with the defaults
		{"latency: {probe: icmp}\n", &Latency{Probe: ProbeICMP, Rate: DefaultProbeRate, Idle: DefaultProbeIdle}},
		{"latency: {rate: 20, idle: 3s}\n", &Latency{Probe: ProbeUDP, Rate: 20, Idle: Duration(3 * time.Second)}},
	}
	for _, tt := range tests {
		s, err := Parse("t.yaml", []byte("name: t\nseries: [{datapath: wggo}]\n"+tt.yaml), nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if (s.Latency == nil) != (tt.want == nil) || (s.Latency != nil && *s.Latency != *tt.want) {
			t.Errorf("%q: latency %+v, want %+v", tt.yaml, s.Latency, tt.want)
		}
		// The scenario as written back reads the same.
		out, err := s.YAML()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Parse("back.yaml", out, nil)
		if err != nil {
			t.Fatalf("%q written back: %v\n%s", tt.yaml, err, out)
		}
		if (s2.Latency == nil) != (s.Latency == nil) || (s2.Latency != nil && *s2.Latency != *s.Latency) {
			t.Errorf("%q: round trip gave %+v, want %+v", tt.yaml, s2.Latency, s.Latency)
		}
	}
}

func TestRateAndSizeErrors(t *testing.T) {
	const head = "name: t\nseries: [{datapath: wggo}]\n"
	const udp = "traffic: {protocol: udp, rate: search}\n"
	checkPosErrors(t, []posError{
		{"tolerance 100", head + "traffic:\n  protocol: udp\n  rate: search\n  loss_tolerance: 100\n", "6:19", "traffic.loss_tolerance", "100 is out of range; allowed 0 up to but not including 100"},
		{"negative tolerance", head + "traffic: {protocol: udp, rate: search, loss_tolerance: -1}\n", "3:56", "traffic.loss_tolerance", "-1 is out of range"},
		{"tolerance without search", head + "traffic: {protocol: udp, bitrate: 1G, loss_tolerance: 1}\n", "3:55", "traffic.loss_tolerance", "applies to rate: search only"},
		{"search on tcp", head + "traffic: {rate: search}\n", "3:17", "traffic.rate", "set protocol: udp"},
		{"rate not a word", head + "traffic: {protocol: udp, rate: fastest}\n", "3:32", "traffic.rate", `"fastest" is neither search nor a bitrate`},
		{"size below the minimum", head + udp + "sweep: {packet_size: [20, 512]}\n", "4:23", "sweep.packet_size[0]", "20 B is below the smallest IP packet iperf3 can send, 44 B"},
		{"size above the tunnel MTU", head + udp + "sweep: {packet_size: [64, 1500]}\n", "4:27", "sweep.packet_size[1]", "1500 B does not fit the tunnel MTU 1420 (link MTU 1500 less 80 of WireGuard over IPv4): it would be fragmented. Use at most 1420, or raise the MTU (testbed.mtu or sweep.mtu) to 1580"},
		{"size against the smallest swept MTU", head + udp + "sweep: {packet_size: [1400], mtu: [1280, 1500]}\n", "4:23", "sweep.packet_size[0]", "does not fit the tunnel MTU 1200"},
		{"sizes on tcp", head + "sweep: {packet_size: [64]}\n", "3:22", "sweep.packet_size", "set traffic.protocol: udp"},
		{"trials", head + "traffic: {protocol: udp, rate: search, search: {trials: 1}}\n", "3:57", "traffic.search.trials", "1 is out of range; allowed 2..30"},
		{"trial too short", head + "traffic: {protocol: udp, rate: search, search: {trial_duration: 500ms}}\n", "3:65", "traffic.search.trial_duration", "500ms is out of range"},
		{"mtu out of range", head + "sweep: {mtu: [1000]}\n", "3:15", "sweep.mtu[0]", "1000 is out of range for a link MTU; allowed 1280..9000"},
		{"mtu twice", head + "sweep: {mtu: [1500, 1500]}\n", "3:21", "sweep.mtu[1]", "listed twice"},
	})
}

func TestRateSearchDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte("name: t\nseries: [{datapath: wggo}]\ntraffic: {protocol: udp, rate: search}\nsweep: {packet_size: [64, 512, 1420], mtu: [1500, 9000]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Traffic
	if !tr.Rate.Search || tr.LossTolerancePct() != DefaultLossTolerance || tr.Search != (Search{DefaultTrials, DefaultTrialDuration, DefaultMaxRate}) {
		t.Errorf("traffic %+v", tr)
	}
	pts := s.Expand()
	if len(pts) != 6 || pts[0] != (Point{Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 64, MTU: 1500}) || pts[5] != (Point{Tunnels: 1, FlowsPerTunnel: 1, PacketSize: 1420, MTU: 9000}) {
		t.Errorf("Expand = %+v", pts)
	}
	// A fixed rate is the bitrate, as before.
	s, err = Parse("t.yaml", []byte("name: t\nseries: [{datapath: wggo}]\ntraffic: {protocol: udp, rate: 2G}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Traffic.Bitrate != 2_000_000_000 || s.Traffic.Rate.Search {
		t.Errorf("rate: 2G gave %+v", s.Traffic)
	}
	for _, sc := range []*Scenario{s} {
		out, err := sc.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("back.yaml", out, nil); err != nil {
			t.Errorf("written back: %v\n%s", err, out)
		}
	}
}

func TestOverridesReachOptionalBlocks(t *testing.T) {
	yaml := "name: t\nseries: [{datapath: wggo}]\ntraffic: {protocol: udp, rate: search}\nlatency: {rate: 20}\n"
	s, err := Parse("t.yaml", []byte(yaml), []string{"latency.probe=icmp", "traffic.rate=1G"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Latency.Probe != ProbeICMP || s.Latency.Rate != 20 || s.Traffic.LossTolerance != nil || s.Traffic.Bitrate != 1_000_000_000 {
		t.Errorf("latency %+v, traffic %+v", s.Latency, s.Traffic)
	}
	s, err = Parse("t.yaml", []byte("name: t\nseries: [{datapath: wggo}]\n"), []string{"latency.rate=10", "traffic.protocol=udp", "traffic.rate=search", "traffic.loss_tolerance=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Latency == nil || s.Latency.Rate != 10 || s.Traffic.LossTolerancePct() != 0.5 {
		t.Errorf("latency %+v, traffic %+v", s.Latency, s.Traffic)
	}
}
