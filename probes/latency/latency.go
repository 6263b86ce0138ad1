// Package latency measures round-trip times through the testbed: a UDP
// echo server (Serve, the drain's `wgbench agent echo`), a prober that
// sends timestamped datagrams at a fixed rate and times their echoes on
// the monotonic clock (Probe, the source's `wgbench agent probe`), a
// reader of ping's output for the ICMP probe (ParsePing), and the
// percentiles of a probe's round trips (Summarize).
package latency

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// magic starts every probe datagram, so stray traffic to the echo port
// is not taken for an answer.
const magic = 0x77676270 // "wgbp"

// headerSize is a probe datagram's size: magic, sequence number and the
// send time in nanoseconds since the probe started (monotonic).
const headerSize = 16

// Serve echoes every datagram that arrives on conn back to its sender
// until ctx ends or conn fails. It returns nil when ctx ended.
func Serve(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("echo: read: %w", err)
		}
		if _, err := conn.WriteTo(buf[:n], from); err != nil && ctx.Err() != nil {
			return nil
		}
	}
}

// Options describe one probe.
type Options struct {
	// Target is the echo server's address and port.
	Target netip.AddrPort
	// Bind is the local address to send from; the zero Addr lets the
	// kernel choose.
	Bind netip.Addr
	// Rate is the number of probes per second, above 0.
	Rate float64
	// Duration is how long probes are sent.
	Duration time.Duration
	// Timeout is how long after the last probe echoes are still awaited;
	// a probe whose echo comes later, or never, is lost. 0 means 1 s.
	Timeout time.Duration
}

// Report is the outcome of a probe.
type Report struct {
	// Probe is "udp" or "icmp".
	Probe string `json:"probe"`
	// Sent counts the probes sent, Received those whose echo came back in
	// time.
	Sent     int `json:"sent"`
	Received int `json:"received"`
	// RTTMs holds the round-trip time of every answered probe in
	// milliseconds, in the order the probes were sent.
	RTTMs []float64 `json:"rtt_ms"`
}

// Probe sends o.Rate probes per second to o.Target for o.Duration and
// times each echo on the monotonic clock.
func Probe(ctx context.Context, o Options) (Report, error) {
	rep := Report{Probe: "udp"}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		return rep, fmt.Errorf("probe: rate %g is not a positive number of probes per second", o.Rate)
	}
	if o.Duration <= 0 {
		return rep, fmt.Errorf("probe: duration %v is not positive", o.Duration)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	var laddr *net.UDPAddr
	if o.Bind.IsValid() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(o.Bind, 0))
	}
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(o.Target))
	if err != nil {
		return rep, fmt.Errorf("probe %s: %w", o.Target, err)
	}
	defer conn.Close()

	s := schedule{start: time.Now()} // start carries the monotonic clock reading
	s.interval = time.Duration(float64(time.Second) / o.Rate)
	s.count = max(1, int(o.Duration/s.interval))
	var (
		sent    int
		sendErr error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sent, sendErr = s.send(ctx, conn)
	}()
	rtts := s.receive(ctx, conn, o.Timeout)
	<-done
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	rep.Sent = sent
	for _, r := range rtts[:sent] {
		if r >= 0 {
			rep.RTTMs = append(rep.RTTMs, r)
		}
	}
	rep.Received = len(rep.RTTMs)
	if rep.Received == 0 && sendErr != nil {
		return rep, fmt.Errorf("probe %s: no echo: %w", o.Target, sendErr)
	}
	return rep, nil
}

// schedule is when the probes of one Probe go out: count of them, one
// every interval from start.
type schedule struct {
	start    time.Time
	interval time.Duration
	count    int
}

// send writes the probes on time until all are out or ctx is done. It
// returns how many it sent and the first error writing one: a refused or
// unreachable probe is a lost one.
func (s schedule) send(ctx context.Context, conn *net.UDPConn) (sent int, firstErr error) {
	pkt := make([]byte, headerSize)
	for seq := 0; seq < s.count; seq++ {
		if d := time.Until(s.start.Add(time.Duration(seq) * s.interval)); d > 0 {
			select {
			case <-ctx.Done():
				return sent, firstErr
			case <-time.After(d):
			}
		}
		binary.BigEndian.PutUint32(pkt[0:], magic)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq))
		binary.BigEndian.PutUint64(pkt[8:], uint64(time.Since(s.start)))
		if _, err := conn.Write(pkt); err != nil && firstErr == nil {
			firstErr = err
		}
		sent++
	}
	return sent, firstErr
}

// receive reads the echoes until the last probe's timeout has passed or
// ctx is done. It returns the round trip of each probe in milliseconds,
// -1 for one without an echo in time.
func (s schedule) receive(ctx context.Context, conn *net.UDPConn, timeout time.Duration) []float64 {
	rtts := make([]float64, s.count)
	for i := range rtts {
		rtts[i] = -1
	}
	deadline := s.start.Add(time.Duration(s.count)*s.interval + timeout)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 2048)
	for {
		n, err := conn.Read(buf)
		now := time.Since(s.start)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return rtts
			}
			if ctx.Err() != nil {
				return rtts
			}
			continue // ICMP port unreachable and the like: probes lost
		}
		if n < headerSize || binary.BigEndian.Uint32(buf[0:]) != magic {
			continue
		}
		seq := int(binary.BigEndian.Uint32(buf[4:]))
		at := time.Duration(binary.BigEndian.Uint64(buf[8:]))
		if seq >= s.count || rtts[seq] >= 0 || now-at > timeout {
			continue
		}
		rtts[seq] = float64(now-at) / float64(time.Millisecond)
	}
}

// PingArgs returns the ping command line of an ICMP probe with the same
// rate and duration as o (o.Target's port is ignored). Rates above 5 per
// second need root, as the testbed's agents are.
func PingArgs(o Options) []string {
	interval := 1 / o.Rate
	count := max(1, int(o.Duration.Seconds()*o.Rate))
	args := []string{"ping", "-n", "-i", strconv.FormatFloat(interval, 'f', 3, 64), "-c", strconv.Itoa(count), "-W", "1"}
	if o.Bind.IsValid() {
		args = append(args, "-I", o.Bind.String())
	}
	return append(args, o.Target.Addr().String())
}

// ParsePing reads the output of ping (iputils or busybox): the time of
// every reply line and the summary's transmitted count.
func ParsePing(out []byte) (Report, error) {
	rep := Report{Probe: "icmp"}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "packets transmitted"); i > 0 {
			n, err := strconv.Atoi(strings.TrimSpace(line[:i]))
			if err == nil {
				rep.Sent = n
			}
			continue
		}
		i := strings.Index(line, "time=")
		if i < 0 {
			continue
		}
		if seq := field(line, "icmp_seq="); seq != "" {
			if seen[seq] || strings.Contains(line, "(DUP!)") {
				continue
			}
			seen[seq] = true
		}
		v := strings.TrimSuffix(strings.Fields(line[i+len("time="):])[0], "ms")
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		rep.RTTMs = append(rep.RTTMs, ms)
	}
	rep.Received = len(rep.RTTMs)
	if rep.Sent == 0 {
		return rep, fmt.Errorf("ping: no summary line in its output%s", excerpt(out))
	}
	return rep, nil
}

// field returns the value after key up to the next blank, or "".
func field(line, key string) string {
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	f := strings.Fields(line[i+len(key):])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func excerpt(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return ""
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return ": " + s
}

// Stats are the percentiles of a probe's round trips, in milliseconds,
// and its loss in percent.
type Stats struct {
	Sent     int
	Received int
	P50      float64
	P90      float64
	P99      float64
	Max      float64
	LossPct  float64
}

// Summarize returns the percentiles of r's round trips (nearest rank)
// and its loss.
func Summarize(r Report) Stats {
	s := Stats{Sent: r.Sent, Received: len(r.RTTMs)}
	if r.Sent > 0 {
		s.LossPct = 100 * float64(max(0, r.Sent-len(r.RTTMs))) / float64(r.Sent)
	}
	if len(r.RTTMs) == 0 {
		return s
	}
	v := slices.Clone(r.RTTMs)
	slices.Sort(v)
	s.P50, s.P90, s.P99, s.Max = Percentile(v, 50), Percentile(v, 90), Percentile(v, 99), v[len(v)-1]
	return s
}

// Percentile returns the p-th percentile (0..100, nearest rank) of the
// sorted values v; 0 for no values.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[min(max(k, 0), len(v)-1)]
}
