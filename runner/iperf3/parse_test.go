package iperf3

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fixtures in testdata are real iperf3 3.12 client reports captured on
// loopback; go test -run TestIntegration -update captures them again.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lookup walks a decoded JSON value along a dotted path.
func lookup(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not inside an object", path, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: no key %q", path, k)
		}
	}
	return v
}

func num(t *testing.T, v any, path string) float64 {
	t.Helper()
	f, ok := lookup(t, v, path).(float64)
	if !ok {
		t.Fatalf("%s is not a number", path)
	}
	return f
}

// lastObject decodes the last of the JSON values in data, which must hold
// nothing else.
func lastObject(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	var last map[string]any
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = m
	}
	if last == nil {
		t.Fatal("no JSON object")
	}
	return last
}

// expectTCP derives the Result a TCP report must give, reading it with a
// generic decoder rather than Parse's own types.
func expectTCP(t *testing.T, data []byte) *Result {
	t.Helper()
	m := lastObject(t, data)
	// One stream per client: its sender's RTT in microseconds.
	sender := lookup(t, m, "end.streams").([]any)[0].(map[string]any)["sender"]
	return &Result{
		MeanRTTMs:   num(t, sender, "mean_rtt") / 1000,
		MaxRTTMs:    num(t, sender, "max_rtt") / 1000,
		Bps:         num(t, m, "end.sum_received.bits_per_second"),
		Bytes:       uint64(num(t, m, "end.sum_received.bytes")),
		SentBytes:   uint64(num(t, m, "end.sum_sent.bytes")),
		Seconds:     num(t, m, "end.sum_received.seconds"),
		Retransmits: int(num(t, m, "end.sum_sent.retransmits")),
	}
}

// expectUDP is expectTCP for a UDP report; without end.sum_received it
// falls back to end.sum as Parse must.
func expectUDP(t *testing.T, data []byte) *Result {
	t.Helper()
	m := lastObject(t, data)
	recv := "end.sum_received"
	if _, ok := lookup(t, m, "end").(map[string]any)["sum_received"]; !ok {
		recv = "end.sum"
	}
	return &Result{
		Bps:         num(t, m, recv+".bits_per_second"),
		Bytes:       uint64(num(t, m, recv+".bytes")),
		SentBytes:   uint64(num(t, m, "end.sum_sent.bytes")),
		Seconds:     num(t, m, recv+".seconds"),
		LostPercent: num(t, m, "end.sum.lost_percent"),
		JitterMs:    num(t, m, "end.sum.jitter_ms"),
		UDP:         true,
	}
}

// edit decodes a report, applies f to it and encodes it again.
func edit(t *testing.T, data []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func endOf(m map[string]any) map[string]any { return m["end"].(map[string]any) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParse(t *testing.T) {
	tcp, udp := readFixture(t, "tcp.json"), readFixture(t, "udp.json")
	refused, busy := readFixture(t, "refused.json"), readFixture(t, "busy.json")
	twoTests := readFixture(t, "logfile-two-tests.json")

	udpOld := edit(t, udp, func(m map[string]any) { delete(endOf(m), "sum_received") })
	hugeBytes := replaceNumber(t, tcp, "sum_received", "bytes", "1.5e+16")
	wantHuge := expectTCP(t, tcp)
	wantHuge.Bytes = 15_000_000_000_000_000

	tests := []struct {
		name    string
		in      []byte
		want    *Result
		wantErr error  // errors.Is target
		busy    *bool  // for *Error
		msg     string // the error contains it
	}{
		{name: "tcp", in: tcp, want: expectTCP(t, tcp)},
		{name: "udp", in: udp, want: expectUDP(t, udp)},
		{name: "udp without sum_received uses end.sum", in: udpOld, want: expectUDP(t, udpOld)},
		{name: "refused", in: refused, busy: ptr(false), msg: "Connection refused"},
		{name: "busy", in: busy, busy: ptr(true), msg: "busy"},
		{name: "logfile of two tests gives the second", in: twoTests, want: expectTCP(t, twoTests)},
		{name: "text before", in: cat([]byte("iperf3: warning - report may be odd\n"), tcp), want: expectTCP(t, tcp)},
		{name: "text with braces before", in: cat([]byte("note {x}\n{ not json either\n"), tcp), want: expectTCP(t, tcp)},
		{name: "text after", in: cat(tcp, []byte("iperf3: interrupt - the server has terminated\n")), want: expectTCP(t, tcp)},
		{name: "udp then tcp gives tcp", in: cat(udp, tcp), want: expectTCP(t, tcp)},
		{name: "tcp then udp gives udp", in: cat(tcp, []byte("\n"), udp), want: expectUDP(t, udp)},
		{name: "refused then tcp gives tcp", in: cat(refused, tcp), want: expectTCP(t, tcp)},
		{name: "tcp then refused gives the error", in: cat(tcp, refused), busy: ptr(false), msg: "refused"},
		{name: "crlf line ends", in: bytes.ReplaceAll(tcp, []byte("\n"), []byte("\r\n")), want: expectTCP(t, tcp)},
		{name: "compact json", in: compact(t, tcp), want: expectTCP(t, tcp)},
		{name: "byte count in exponent form", in: hugeBytes, want: wantHuge},
		{name: "truncated", in: tcp[:len(tcp)/2], wantErr: ErrTruncated, msg: "line 1"},
		{name: "only a brace", in: []byte("{"), wantErr: ErrTruncated},
		{name: "complete then truncated", in: cat(udp, tcp[:len(tcp)-3]), wantErr: ErrTruncated},
		{name: "complete then broken", in: cat(tcp, []byte("{\n\t\"start\": nonsense\n}\n")), wantErr: ErrMalformed},
		{
			name: "wrong type", wantErr: ErrMalformed,
			in: edit(t, tcp, func(m map[string]any) { endOf(m)["sum_received"].(map[string]any)["bytes"] = "lots" }),
		},
		{name: "no end", in: edit(t, tcp, func(m map[string]any) { delete(m, "end") }), wantErr: ErrIncomplete},
		{name: "empty end without error", in: edit(t, refused, func(m map[string]any) { delete(m, "error") }), wantErr: ErrIncomplete},
		{name: "empty", in: nil, wantErr: ErrNoReport},
		{name: "text only", in: []byte("iperf3: error - unable to connect to server\n"), wantErr: ErrNoReport, msg: "unable to connect"},
		{name: "json that is not a report", in: []byte("{\"hello\": 1}\n"), wantErr: ErrNoReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", got)
			}
			if got != nil {
				t.Errorf("Parse returned a result with the error %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if tt.busy != nil {
				var ie *Error
				if !errors.As(err, &ie) {
					t.Fatalf("error %v (%T) is not an *Error", err, err)
				}
				if ie.Busy != *tt.busy || IsBusy(err) != *tt.busy {
					t.Errorf("Busy = %v, IsBusy = %v, want %v", ie.Busy, IsBusy(err), *tt.busy)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

// TestParseFixturesAreConsistent checks the figures of the real reports
// hang together: a receiver cannot get more than was sent, and bytes,
// rate and time agree.
func TestParseFixturesAreConsistent(t *testing.T) {
	for _, name := range []string{"tcp.json", "udp.json", "logfile-two-tests.json"} {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(readFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, r)
		})
	}
}

func checkConsistent(t *testing.T, r *Result) {
	t.Helper()
	if r.Bytes == 0 || r.Bps <= 0 || r.Seconds <= 0 {
		t.Fatalf("result moved nothing: %+v", r)
	}
	if r.Bytes > r.SentBytes {
		t.Errorf("received %d bytes, more than the %d sent", r.Bytes, r.SentBytes)
	}
	implied := r.Bps * r.Seconds / 8
	if rel := (implied - float64(r.Bytes)) / float64(r.Bytes); rel < -0.05 || rel > 0.05 {
		t.Errorf("Bps×Seconds/8 = %.0f bytes, %.1f%% off the %d bytes received", implied, rel*100, r.Bytes)
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Msg: "the server is busy running a test. try again later", Busy: true}
	if got, want := e.Error(), "iperf3: the server is busy running a test. try again later"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if IsBusy(errors.New("server is busy")) {
		t.Error("IsBusy is true for an error that is not an *Error")
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"iperf 3.12 (cJSON 1.7.15)\nLinux vm 6.18.44 #1 SMP x86_64\nOptional features available: CPU affinity setting\n", "3.12"},
		{"iperf 3.17.1 (cJSON 1.7.15)\n", "3.17.1"},
		{"iperf 3.9\n", "3.9"},
		{"iperf 3.12+ (cJSON 1.7.15)", "3.12+"},
		{"warning: something\niperf 3.16 (cJSON 1.7.15)\n", "3.16"},
		{"iperf version 2.1.9 (14 March 2023) pthreads\n", ""},
		{"bash: iperf3: command not found\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Version([]byte(tt.in)); got != tt.want {
			t.Errorf("Version(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// replaceNumber rewrites, in the text of a report, the number of key in
// the first section named section, keeping the rest of the text as is.
func replaceNumber(t *testing.T, data []byte, section, key, num string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(`"`+section+`"`))
	if i < 0 {
		t.Fatalf("no section %q", section)
	}
	k := bytes.Index(data[i:], []byte(`"`+key+`":`))
	if k < 0 {
		t.Fatalf("no key %q in section %q", key, section)
	}
	start := i + k + len(key) + 3
	for start < len(data) && (data[start] == ' ' || data[start] == '\t') {
		start++
	}
	end := start
	for end < len(data) && bytes.IndexByte([]byte("0123456789.eE+-"), data[end]) >= 0 {
		end++
	}
	if end == start {
		t.Fatalf("%s.%s is not a number", section, key)
	}
	return cat(data[:start], []byte(num), data[end:])
}

func compact(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
