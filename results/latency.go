package results

// RepLatency is the latency probe's outcome in one repetition: round trips
// from source to drain through tunnel 0, idle before the load and during
// the measured window, and the TCP round trips iperf3's senders saw.
type RepLatency struct {
	// Probe is "udp" (wgbench's echo) or "icmp" (ping).
	Probe string `json:"probe"`
	// Idle is the probe before the load; Loaded during the measured
	// window. Nil when that probe failed (see Error).
	Idle   *LatencyStats `json:"idle,omitempty"`
	Loaded *LatencyStats `json:"loaded,omitempty"`
	// TCPMeanRTTMs and TCPMaxRTTMs are iperf3's TCP round trips over the
	// flows (mean of the senders' means, largest maximum); 0 for UDP.
	TCPMeanRTTMs float64 `json:"tcp_mean_rtt_ms,omitempty"`
	TCPMaxRTTMs  float64 `json:"tcp_max_rtt_ms,omitempty"`
	// IdleLog and LoadedLog are the probes' samples (every round trip),
	// relative to the run folder.
	IdleLog   string `json:"idle_log,omitempty"`
	LoadedLog string `json:"loaded_log,omitempty"`
	// Error says what went wrong with a probe; the throughput measurement
	// stands regardless.
	Error string `json:"error,omitempty"`
}

// LatencyStats are one probe's round-trip percentiles in milliseconds and
// its loss in percent.
type LatencyStats struct {
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	LossPct  float64 `json:"loss_pct"`
}

// PointLatency is a point's latency over its successful repetitions: the
// means of the repetitions' percentiles and losses, the largest maximum.
type PointLatency struct {
	// N counts the repetitions with a loaded probe.
	N         int
	IdleP50Ms float64
	P50Ms     float64
	P90Ms     float64
	P99Ms     float64
	MaxMs     float64
	LossPct   float64
	IdleP90Ms float64
	IdleP99Ms float64
	IdleMaxMs float64
	IdleLoss  float64
	TCPMeanMs float64
	TCPMaxMs  float64
}

// Latency summarizes the latency probes of p's successful repetitions;
// nil when none has one.
func (p *Point) Latency() *PointLatency {
	var (
		s          PointLatency
		idle, tcps int
	)
	for _, r := range p.Repetitions {
		if !r.OK() || r.Latency == nil {
			continue
		}
		l := r.Latency
		if l.Idle != nil {
			idle++
			s.IdleP50Ms += l.Idle.P50Ms
			s.IdleP90Ms += l.Idle.P90Ms
			s.IdleP99Ms += l.Idle.P99Ms
			s.IdleMaxMs = max(s.IdleMaxMs, l.Idle.MaxMs)
			s.IdleLoss += l.Idle.LossPct
		}
		if l.Loaded != nil {
			s.N++
			s.P50Ms += l.Loaded.P50Ms
			s.P90Ms += l.Loaded.P90Ms
			s.P99Ms += l.Loaded.P99Ms
			s.MaxMs = max(s.MaxMs, l.Loaded.MaxMs)
			s.LossPct += l.Loaded.LossPct
		}
		if l.TCPMeanRTTMs > 0 {
			tcps++
			s.TCPMeanMs += l.TCPMeanRTTMs
			s.TCPMaxMs = max(s.TCPMaxMs, l.TCPMaxRTTMs)
		}
	}
	if s.N == 0 && idle == 0 {
		return nil
	}
	if idle > 0 {
		n := float64(idle)
		s.IdleP50Ms, s.IdleP90Ms, s.IdleP99Ms, s.IdleLoss = s.IdleP50Ms/n, s.IdleP90Ms/n, s.IdleP99Ms/n, s.IdleLoss/n
	}
	if s.N > 0 {
		n := float64(s.N)
		s.P50Ms, s.P90Ms, s.P99Ms, s.LossPct = s.P50Ms/n, s.P90Ms/n, s.P99Ms/n, s.LossPct/n
	}
	if tcps > 0 {
		s.TCPMeanMs /= float64(tcps)
	}
	return &s
}
