package plots

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/results"
)

// CPUFileName is the name of the per-core CPU table in a repetition's raw
// folder (results.RawDir).
const CPUFileName = "cpu.csv"

// CPUSample is one core of one host over one sampling interval: a row of
// cpu.csv. Percentages are of the core's time; a value that was missing or
// not a number is NaN.
type CPUSample struct {
	Host string
	// T is the end of the interval in seconds since the sampler started.
	T float64
	// Core is the core number.
	Core int
	// User (with nice), System, SoftIRQ, IRQ, IOWait, Steal, Idle and Busy
	// (100 − idle − iowait) are percentages of the core's time.
	User, System, SoftIRQ, IRQ, IOWait, Steal, Idle, Busy float64
	// NetRX and NetTX count NET_RX / NET_TX softirq runs in the interval.
	NetRX, NetTX uint64
}

// CPUTable is a parsed cpu.csv: per-core samples of one or more hosts.
type CPUTable []CPUSample

// cpuRequired are the cpu.csv columns ReadCPUCSV needs; the others of
// host,t_seconds,core,user,system,softirq,irq,iowait,steal,idle,busy,net_rx,net_tx
// are optional and unknown columns are ignored.
var cpuRequired = []string{"host", "t_seconds", "core", "user", "system", "softirq"}

// ReadCPUCSV reads a per-core CPU table with a header line naming the
// columns host,t_seconds,core,user,system,softirq,irq,iowait,steal,idle,
// busy,net_rx,net_tx (in any order; host to softirq are required). An empty
// or "NaN" percentage is read as NaN; busy, when absent, is 100 − idle −
// iowait. A malformed row is an error naming its line and column.
func ReadCPUCSV(r io.Reader) (CPUTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("cpu table: empty file, no header line")
	}
	if err != nil {
		return nil, fmt.Errorf("cpu table: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, name := range cpuRequired {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("cpu table: header has no %q column (have %s)", name, strings.Join(head, ","))
		}
	}
	var t CPUTable
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cpu table: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		s, err := cpuRow{col: col, rec: rec, line: line}.sample()
		if err != nil {
			return nil, err
		}
		t = append(t, s)
	}
	return t, nil
}

// cpuRow is one record of a cpu.csv with the header's column indexes.
type cpuRow struct {
	col  map[string]int
	rec  []string
	line int
}

// field returns the trimmed value of a column, and whether the record has it.
func (r cpuRow) field(name string) (string, bool) {
	i, ok := r.col[name]
	if !ok || i >= len(r.rec) {
		return "", false
	}
	return strings.TrimSpace(r.rec[i]), true
}

// pct returns a percentage column; NaN when it is missing, empty or infinite.
func (r cpuRow) pct(name string) (float64, error) {
	s, ok := r.field(name)
	if !ok || s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("cpu table line %d, column %s: %q is not a number", r.line, name, s)
	}
	if math.IsInf(v, 0) {
		v = math.NaN()
	}
	return v, nil
}

// count returns a counter column; 0 when it is missing or empty.
func (r cpuRow) count(name string) (uint64, error) {
	s, ok := r.field(name)
	if !ok || s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cpu table line %d, column %s: %q is not a count", r.line, name, s)
	}
	return v, nil
}

// sample decodes the record; busy, when missing, is derived from idle.
func (r cpuRow) sample() (CPUSample, error) {
	var s CPUSample
	s.Host, _ = r.field("host")
	if s.Host == "" {
		return s, fmt.Errorf("cpu table line %d: empty host", r.line)
	}
	coreStr, _ := r.field("core")
	core, err := strconv.Atoi(coreStr)
	if err != nil || core < 0 {
		return s, fmt.Errorf("cpu table line %d, column core: %q is not a core number", r.line, coreStr)
	}
	s.Core = core
	var errs []error
	var e error
	s.T, e = r.pct("t_seconds")
	errs = append(errs, e)
	for _, f := range []struct {
		name string
		dst  *float64
	}{
		{"user", &s.User}, {"system", &s.System}, {"softirq", &s.SoftIRQ},
		{"irq", &s.IRQ}, {"iowait", &s.IOWait}, {"steal", &s.Steal},
		{"idle", &s.Idle}, {"busy", &s.Busy},
	} {
		*f.dst, e = r.pct(f.name)
		errs = append(errs, e)
	}
	s.NetRX, e = r.count("net_rx")
	errs = append(errs, e)
	s.NetTX, e = r.count("net_tx")
	errs = append(errs, e)
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if math.IsNaN(s.T) {
		return s, fmt.Errorf("cpu table line %d: no t_seconds", r.line)
	}
	if math.IsNaN(s.Busy) && !math.IsNaN(s.Idle) {
		s.Busy = 100 - s.Idle - zeroNaN(s.IOWait)
	}
	return s, nil
}

// ReadCPUFile reads the cpu.csv at path with ReadCPUCSV.
func ReadCPUFile(path string) (CPUTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cpu table: %w", err)
	}
	defer f.Close()
	t, err := ReadCPUCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadCPU reads the cpu.csv of one repetition of a point from the run
// folder runDir: raw/<series>/t<T>-f<F>/rep<k>/cpu.csv, or, for a sampler
// that covers the whole point, raw/<series>/t<T>-f<F>/cpu.csv. It returns
// the path read; an error wrapping fs.ErrNotExist when there is none.
func LoadCPU(runDir, series string, tunnels, flowsPerTunnel, rep int) (CPUTable, string, error) {
	repDir := filepath.Join(runDir, results.RawDir(series, tunnels, flowsPerTunnel, rep))
	for _, p := range []string{
		filepath.Join(repDir, CPUFileName),
		filepath.Join(filepath.Dir(repDir), CPUFileName),
	} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		t, err := ReadCPUFile(p)
		return t, p, err
	}
	return nil, "", fmt.Errorf("no %s for %s at %d tunnels × %d flows, rep %d in %s: %w",
		CPUFileName, series, tunnels, flowsPerTunnel, rep, runDir, fs.ErrNotExist)
}

// zeroNaN returns v, or 0 when v is NaN.
func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// Hosts returns the hosts of t, sorted.
func (t CPUTable) Hosts() []string {
	var hs []string
	for _, s := range t {
		if !slices.Contains(hs, s.Host) {
			hs = append(hs, s.Host)
		}
	}
	slices.Sort(hs)
	return hs
}

// Host returns the samples of one host.
func (t CPUTable) Host(host string) CPUTable {
	var out CPUTable
	for _, s := range t {
		if s.Host == host {
			out = append(out, s)
		}
	}
	return out
}

// Cores returns the core numbers of host, sorted.
func (t CPUTable) Cores(host string) []int {
	var cs []int
	for _, s := range t {
		if s.Host == host && !slices.Contains(cs, s.Core) {
			cs = append(cs, s.Core)
		}
	}
	slices.Sort(cs)
	return cs
}

// CoreLoad is the mean load of one core over a window, in percent of the
// core's time. Other is irq + steal; NaN samples are left out.
type CoreLoad struct {
	Core                               int
	User, System, SoftIRQ, Other, Busy float64
	// Samples is how many samples the means are over.
	Samples int
	// Saturated is the share (0..1) of samples with busy at or above the
	// threshold given to CoreLoads.
	Saturated float64
}

// CoreLoads returns the mean load of every core of host over samples with
// from <= T <= to (to <= 0: to the end), and the share of samples each core
// was at least saturation % busy. Cores with no usable sample in the
// window have Samples 0.
func (t CPUTable) CoreLoads(host string, from, to, saturation float64) []CoreLoad {
	cores := t.Cores(host)
	idx := make(map[int]int, len(cores))
	loads := make([]CoreLoad, len(cores))
	type acc struct{ u, s, si, o, b, nu, ns, nsi, no, nb, sat float64 }
	accs := make([]acc, len(cores))
	for i, c := range cores {
		idx[c] = i
		loads[i].Core = c
	}
	for _, s := range t {
		if s.Host != host || s.T < from || (to > 0 && s.T > to) {
			continue
		}
		a := &accs[idx[s.Core]]
		add := func(v float64, sum, n *float64) {
			if !math.IsNaN(v) {
				*sum += v
				*n++
			}
		}
		add(s.User, &a.u, &a.nu)
		add(s.System, &a.s, &a.ns)
		add(s.SoftIRQ, &a.si, &a.nsi)
		if !math.IsNaN(s.IRQ) || !math.IsNaN(s.Steal) {
			a.o += zeroNaN(s.IRQ) + zeroNaN(s.Steal)
			a.no++
		}
		add(s.Busy, &a.b, &a.nb)
		if !math.IsNaN(s.Busy) && s.Busy >= saturation {
			a.sat++
		}
	}
	mean := func(sum, n float64) float64 {
		if n == 0 {
			return 0
		}
		return sum / n
	}
	for i := range loads {
		a := accs[i]
		l := &loads[i]
		l.User, l.System, l.SoftIRQ, l.Other = mean(a.u, a.nu), mean(a.s, a.ns), mean(a.si, a.nsi), mean(a.o, a.no)
		l.Busy = mean(a.b, a.nb)
		l.Samples = int(max(a.nu, a.ns, a.nsi, a.nb))
		if a.nb > 0 {
			l.Saturated = a.sat / a.nb
		}
		if a.nb == 0 { // no busy column: the sum of the parts
			l.Busy = l.User + l.System + l.SoftIRQ + l.Other
		}
	}
	return loads
}

// Default thresholds of DefaultHighlighter, as the scenario's probes
// section defaults them.
const (
	DefaultSaturation  = 90
	DefaultPersistence = 0.6
)

// SaturatedCores returns the cores of host that were at least saturation %
// busy for at least persistence (0..1) of the samples in [from, to].
func (t CPUTable) SaturatedCores(host string, from, to, saturation, persistence float64) []int {
	var out []int
	for _, l := range t.CoreLoads(host, from, to, saturation) {
		if l.Samples > 0 && l.Saturated >= persistence {
			out = append(out, l.Core)
		}
	}
	return out
}

// DefaultHighlighter returns a Highlighter marking the cores that were
// saturation % busy for persistence of the measured window; zero values
// take DefaultSaturation and DefaultPersistence.
func DefaultHighlighter(saturation, persistence float64) Highlighter {
	if saturation <= 0 {
		saturation = DefaultSaturation
	}
	if persistence <= 0 {
		persistence = DefaultPersistence
	}
	label := fmt.Sprintf("saturated (≥%g %% busy)", saturation)
	return func(host string, at CPUPoint, cpu CPUTable) ([]int, string) {
		return cpu.SaturatedCores(host, at.From, at.To, saturation, persistence), label
	}
}
