package results

// Trial is one offered rate of an RFC 2544 rate search.
type Trial struct {
	// OfferedBps is the aggregate rate offered (iperf3 -b over the flows).
	OfferedBps float64 `json:"offered_bps"`
	// Bps is the goodput the receivers measured.
	Bps float64 `json:"bps"`
	// LossPct is the datagrams lost, over all flows, in percent.
	LossPct float64 `json:"loss_pct"`
	// Pass is true when LossPct is within the loss tolerance.
	Pass bool `json:"pass"`
	// Error says why the trial failed to measure.
	Error string `json:"error,omitempty"`
}

// PacketRate returns the packets per second of bps goodput in datagrams
// of packetSize bytes (IP and UDP headers, 28 bytes, included in
// packetSize but not in the goodput); 0 without a size.
func PacketRate(bps float64, packetSize int) float64 {
	if packetSize <= 28 {
		return 0
	}
	return bps / 8 / float64(packetSize-28)
}
