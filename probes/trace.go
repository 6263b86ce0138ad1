package probes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wgbench/wgbench/probes/stage"
)

// TraceVersion is the version of the JSON-lines layout Run writes. ReadTrace
// refuses a newer one.
const TraceVersion = 1

// Thread selections, as recorded in Header.Selection.
const (
	// SelectNetNS samples the processes of one network namespace.
	SelectNetNS = "netns"
	// SelectPIDs samples the processes listed in Options.PIDs.
	SelectPIDs = "pids"
	// SelectAll samples every process.
	SelectAll = "all"
)

// Trace is what a Sampler recorded: a header and the samples in order.
type Trace struct {
	Header  Header
	Samples []Sample
}

// Header describes a trace.
type Header struct {
	// Version is TraceVersion at the time of writing.
	Version int `json:"version"`
	// Host is the name the sampler was given (gw1, gw2).
	Host string `json:"host,omitempty"`
	// Start is when the baseline snapshot was taken; Sample.T counts from
	// here.
	Start time.Time `json:"start"`
	// IntervalSeconds is the sampling interval asked for.
	IntervalSeconds float64 `json:"interval_s"`
	// CPUs is the number of online cores at the start.
	CPUs int `json:"cpus"`
	// Selection is how user threads were chosen: one of the Select*
	// constants. Kernel threads of the tracked stages are always included.
	Selection string `json:"selection"`
	// NetNS is the inode of the sampled network namespace (SelectNetNS).
	NetNS uint64 `json:"netns,omitempty"`
	// SharedCores says the host shares the machine's cores with other
	// hosts (the local testbed): per-core figures are machine-wide.
	SharedCores bool `json:"shared_cores,omitempty"`
}

// Sample is one sampling interval.
type Sample struct {
	// T is the end of the interval, in seconds since Header.Start.
	T float64 `json:"t"`
	// DT is the length of the interval in seconds.
	DT float64 `json:"dt"`
	// Cores has one entry per online core, by core number.
	Cores []CoreSample `json:"cores"`
	// Threads has one entry per sampled thread that used CPU in the
	// interval.
	Threads []ThreadSample `json:"threads,omitempty"`
}

// CoreSample is one core over one interval. The percentages are of the
// core's time in the interval and add up to 100.
type CoreSample struct {
	Core int `json:"core"`
	// User includes nice (and guest) time.
	User    float64 `json:"user"`
	System  float64 `json:"system"`
	SoftIRQ float64 `json:"softirq"`
	IRQ     float64 `json:"irq"`
	IOWait  float64 `json:"iowait"`
	Steal   float64 `json:"steal"`
	Idle    float64 `json:"idle"`
	// Busy is 100 - Idle - IOWait.
	Busy float64 `json:"busy"`
	// NetRX and NetTX are how many times the NET_RX and NET_TX softirqs
	// ran on the core in the interval.
	NetRX uint64 `json:"net_rx"`
	NetTX uint64 `json:"net_tx"`
}

// ThreadSample is one thread over one interval.
type ThreadSample struct {
	PID  int    `json:"pid"`
	TID  int    `json:"tid"`
	Comm string `json:"comm"`
	// Stage and Dev are the thread's classification (package stage).
	Stage stage.Stage `json:"stage"`
	Dev   string      `json:"dev,omitempty"`
	// Core is the core the thread last ran on when sampled; a thread that
	// migrated within the interval is counted on that core.
	Core int `json:"core"`
	// Pct is the CPU the thread used, in percent of one core. Clock-tick
	// granularity can push it a little above 100.
	Pct float64 `json:"pct"`
	// Shared marks kernel threads: they live outside any host's network
	// namespace, so on a shared machine they may work for any host.
	Shared bool `json:"shared,omitempty"`
}

// record is one JSON line: exactly one field is set.
type record struct {
	Header *Header `json:"header,omitempty"`
	Sample *Sample `json:"sample,omitempty"`
}

// ReadTrace reads a JSON-lines trace as Run writes it. A truncated last line
// (the writer was killed mid-line) is ignored; any other bad line is an
// error. Lines of unknown kinds are skipped, for forward compatibility.
func ReadTrace(r io.Reader) (*Trace, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var tr *Trace
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("probes: read trace line %d: %w", n, err)
		}
		last := errors.Is(err, io.EOF)
		if len(bytes.TrimSpace(line)) > 0 {
			var rec record
			if jerr := json.Unmarshal(line, &rec); jerr != nil {
				if last && line[len(line)-1] != '\n' {
					break // cut short by a kill
				}
				return nil, fmt.Errorf("probes: trace line %d: %w", n, jerr)
			}
			switch {
			case rec.Header != nil:
				if tr != nil {
					return nil, fmt.Errorf("probes: trace line %d: second header", n)
				}
				if rec.Header.Version > TraceVersion {
					return nil, fmt.Errorf("probes: trace version %d is newer than this wgbench reads (%d): upgrade wgbench", rec.Header.Version, TraceVersion)
				}
				tr = &Trace{Header: *rec.Header}
			case rec.Sample != nil:
				if tr == nil {
					return nil, fmt.Errorf("probes: trace line %d: sample before the header", n)
				}
				tr.Samples = append(tr.Samples, *rec.Sample)
			}
		}
		if last {
			break
		}
	}
	if tr == nil {
		return nil, errors.New("probes: trace has no header line")
	}
	return tr, nil
}

// Window returns a copy of the trace holding only the samples whose whole
// interval lies within [from, to] seconds since Header.Start; use it to cut
// a warm-up or a tail off. The samples are shared with tr.
func (tr *Trace) Window(from, to float64) *Trace {
	const eps = 1e-3 // timestamps are rounded to the millisecond
	out := &Trace{Header: tr.Header}
	for _, s := range tr.Samples {
		if s.T-s.DT >= from-eps && s.T <= to+eps {
			out.Samples = append(out.Samples, s)
		}
	}
	return out
}

// writeRecord writes one JSON line with a single Write call, so a reader
// never sees half a line unless the writer dies inside the call.
func writeRecord(w io.Writer, rec record, buf *bytes.Buffer) error {
	buf.Reset()
	enc := json.NewEncoder(buf)
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("probes: encode trace line: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("probes: write trace line: %w", err)
	}
	return nil
}
