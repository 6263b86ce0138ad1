package iperf3

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Result is what a client's report says about one test.
type Result struct {
	// Bps is the goodput in bits per second as the receiver measured it:
	// end.sum_received for TCP; for UDP end.sum_received where iperf3
	// reports it, else end.sum.
	Bps float64
	// Bytes is the payload the receiver got, from the same section as Bps.
	Bytes uint64
	// SentBytes is the payload the sender sent (end.sum_sent, else
	// end.sum).
	SentBytes uint64
	// Seconds is the measured interval of the receiver, warm-up excluded.
	Seconds float64
	// Retransmits counts the sender's TCP retransmissions (0 for UDP).
	Retransmits int
	// LostPercent and JitterMs are the receiver's UDP loss and jitter
	// (end.sum, else end.sum_received); 0 for TCP.
	LostPercent float64
	JitterMs    float64
	// UDP is true for a UDP test.
	UDP bool
	// MeanRTTMs and MaxRTTMs are the TCP sender's smoothed round-trip
	// time over the test, mean (of its streams' means) and maximum, from
	// end.streams[].sender; 0 for UDP and where the kernel gives none.
	MeanRTTMs float64
	MaxRTTMs  float64
}

// Error is a failure iperf3 itself reported in the "error" field of its
// JSON report, such as "unable to connect to server: Connection refused".
type Error struct {
	// Msg is iperf3's message.
	Msg string
	// Busy is true when the server was still running another test; the
	// client may try again shortly.
	Busy bool
}

// Error implements error.
func (e *Error) Error() string { return "iperf3: " + e.Msg }

// IsBusy reports whether err is, or wraps, an *Error with Busy set.
func IsBusy(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Busy
}

// Errors Parse wraps when the output holds no usable report.
var (
	// ErrNoReport means the output holds no iperf3 JSON report at all.
	ErrNoReport = errors.New("no iperf3 JSON report")
	// ErrTruncated means the output ends inside a report, as when iperf3 was
	// killed while writing it.
	ErrTruncated = errors.New("iperf3 JSON report is truncated")
	// ErrMalformed means a report is not valid JSON or has fields of the wrong
	// type.
	ErrMalformed = errors.New("malformed iperf3 JSON report")
	// ErrIncomplete means a report has no end results, as when the test did not
	// finish.
	ErrIncomplete = errors.New("iperf3 report has no end results")
)

// report is the part of iperf3's JSON report that Parse reads.
type report struct {
	Start *struct {
		TestStart *struct {
			Protocol string `json:"protocol"`
		} `json:"test_start"`
	} `json:"start"`
	End   *endSection `json:"end"`
	Error string      `json:"error"`
}

type endSection struct {
	Streams []struct {
		Sender *struct {
			MeanRTT float64 `json:"mean_rtt"` // microseconds
			MaxRTT  float64 `json:"max_rtt"`
		} `json:"sender"`
	} `json:"streams"`
	Sum         *sum `json:"sum"`
	SumSent     *sum `json:"sum_sent"`
	SumReceived *sum `json:"sum_received"`
}

// sum is one of the end sums. Numbers are read as float64: cJSON may print
// large integers in exponent form, and prints NaN and infinities as null.
type sum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         float64 `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Retransmits   float64 `json:"retransmits"`
	JitterMs      float64 `json:"jitter_ms"`
	LostPercent   float64 `json:"lost_percent"`
}

// Parse reads the JSON report of an iperf3 client (-J). It is lenient
// about what surrounds the report: text before or after it is skipped, and
// of several reports, as in a --logfile that served several tests, the last
// one is read. It is strict about the report itself:
//
//   - an "error" in the report is returned as an *Error;
//   - output that ends inside a report wraps ErrTruncated, also when an
//     earlier complete report precedes it, since that one belongs to
//     another test;
//   - a report that is not valid JSON wraps ErrMalformed;
//   - a report without end results wraps ErrIncomplete;
//   - output without any report wraps ErrNoReport.
//
// A report is a JSON object that starts a line and has at least one of
// the keys iperf3 writes at the top level (start, intervals, end, error).
func Parse(data []byte) (*Result, error) {
	raw, line, err := lastReport(data)
	if err != nil {
		return nil, err
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("%w at line %d: %v", ErrMalformed, line, err)
	}
	if rep.Error != "" {
		return nil, &Error{Msg: rep.Error, Busy: strings.Contains(strings.ToLower(rep.Error), "server is busy")}
	}
	if rep.End == nil {
		return nil, fmt.Errorf("%w: the report at line %d has no end section; the test did not finish", ErrIncomplete, line)
	}
	udp := rep.Start != nil && rep.Start.TestStart != nil && strings.EqualFold(rep.Start.TestStart.Protocol, "UDP")
	if rep.Start == nil || rep.Start.TestStart == nil || rep.Start.TestStart.Protocol == "" {
		// Without the protocol, only UDP reports carry end.sum.
		udp = rep.End.Sum != nil
	}
	e := rep.End
	res := &Result{UDP: udp}
	recv, sent := e.SumReceived, e.SumSent
	if udp {
		if recv == nil {
			recv = e.Sum
		}
		if sent == nil {
			sent = e.Sum
		}
		loss := e.Sum
		if loss == nil {
			loss = e.SumReceived
		}
		if loss != nil {
			res.LostPercent, res.JitterMs = loss.LostPercent, loss.JitterMs
		}
	}
	if recv == nil {
		return nil, fmt.Errorf("%w: the report at line %d has no receiver sum; the test did not finish", ErrIncomplete, line)
	}
	res.Bps, res.Bytes, res.Seconds = recv.BitsPerSecond, toUint(recv.Bytes), recv.Seconds
	if sent != nil {
		res.SentBytes = toUint(sent.Bytes)
		if !udp {
			res.Retransmits = int(math.Max(0, math.Min(sent.Retransmits, math.MaxInt32)))
		}
	}
	if !udp {
		res.MeanRTTMs, res.MaxRTTMs = streamRTT(e)
	}
	return res, nil
}

// streamRTT returns the mean of the TCP senders' mean round trips and the
// largest maximum, in milliseconds.
func streamRTT(e *endSection) (mean, maxRTT float64) {
	n := 0
	for _, st := range e.Streams {
		if st.Sender == nil || !(st.Sender.MeanRTT > 0) || math.IsInf(st.Sender.MeanRTT, 0) {
			continue
		}
		n++
		mean += st.Sender.MeanRTT / 1000
		if m := st.Sender.MaxRTT / 1000; m > maxRTT && !math.IsInf(m, 0) {
			maxRTT = m
		}
	}
	if n == 0 {
		return 0, 0
	}
	return mean / float64(n), maxRTT
}

// toUint converts a byte count read as float64, clamping what cannot be one.
func toUint(f float64) uint64 {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= math.MaxUint64:
		return math.MaxUint64
	}
	return uint64(math.Round(f))
}

// lastReport finds the last iperf3 report in data and returns it with the
// line it starts on.
func lastReport(data []byte) (raw []byte, line int, err error) {
	var broken error
	pos := 0
	for {
		i := nextObjectLine(data, pos)
		if i < 0 {
			break
		}
		startLine := bytes.Count(data[:i], []byte("\n")) + 1
		dec := json.NewDecoder(bytes.NewReader(data[i:]))
		var msg json.RawMessage
		err := dec.Decode(&msg)
		switch {
		case err == nil:
			pos = i + int(dec.InputOffset())
			if isReport(msg) {
				raw, line, broken = msg, startLine, nil
			}
			continue
		case errors.Is(err, io.ErrUnexpectedEOF):
			// Nothing follows: the rest of data is inside this object.
			return nil, 0, fmt.Errorf("%w: output ends inside the JSON object that starts at line %d (%d bytes after it); iperf3 was stopped or is still writing", ErrTruncated, startLine, len(data)-i)
		case looksLikeJSONObject(data[i:]):
			// A broken object after the last good report: that report
			// may belong to an earlier test, so do not fall back to it.
			broken = fmt.Errorf("%w at line %d: %v", ErrMalformed, startLine, err)
		}
		pos = i + 1
	}
	if broken != nil {
		return nil, 0, broken
	}
	if raw == nil {
		return nil, 0, fmt.Errorf("%w in the output (%d bytes%s)", ErrNoReport, len(data), excerpt(data))
	}
	return raw, line, nil
}

// nextObjectLine returns the index of the first '{' at or after pos that
// only blanks precede on its line, or -1.
func nextObjectLine(data []byte, pos int) int {
	for pos < len(data) {
		j := bytes.IndexByte(data[pos:], '{')
		if j < 0 {
			return -1
		}
		i := pos + j
		k := i - 1
		for k >= 0 && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r') {
			k--
		}
		if k < 0 || data[k] == '\n' {
			return i
		}
		pos = i + 1
	}
	return -1
}

// looksLikeJSONObject reports whether b starts like a JSON object with a
// key, rather than like text that happens to start with a brace.
func looksLikeJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b[1:], " \t\r\n")
	return len(t) > 0 && (t[0] == '"' || t[0] == '}')
}

// isReport reports whether msg is a JSON object with a top-level key of an
// iperf3 report.
func isReport(msg []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(msg, &top) != nil {
		return false
	}
	for _, k := range []string{"start", "intervals", "end", "error"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

// excerpt quotes the start of data for an error message.
func excerpt(data []byte) string {
	const max = 120
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return ""
	}
	if len(t) > max {
		return fmt.Sprintf(": %q…", t[:max])
	}
	return fmt.Sprintf(": %q", t)
}

// Version returns the version iperf3 --version prints, such as "3.12" for
// "iperf 3.12 (cJSON 1.7.15)", or "" when out does not say.
func Version(out []byte) string {
	for _, ln := range strings.Split(string(out), "\n") {
		f := strings.Fields(ln)
		if len(f) < 2 || (f[0] != "iperf" && f[0] != "iperf3") {
			continue
		}
		v := f[1]
		if v[0] >= '0' && v[0] <= '9' {
			return v
		}
	}
	return ""
}
