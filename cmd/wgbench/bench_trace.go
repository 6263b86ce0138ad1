package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wgbench/wgbench/datapath/inline"
	"github.com/wgbench/wgbench/datapath/inline/inlinebench"
)

// modeTraceFile is `bench datapath --mode-trace`: every window a hybrid
// case's mode controller decided on, as CSV rows kept in memory while the
// case runs (the controller calls from a data thread) and written at the
// end.
type modeTraceFile struct {
	path  string
	mu    sync.Mutex
	start map[inlinebench.Case]time.Time
	rec   [][]string
	rows  int
}

// modeTraceHeader names the trace's columns.
var modeTraceHeader = []string{"impl", "size", "cores", "direction", "t_ms", "mode",
	"home_busy", "full_batches", "demand_cores", "rate_pps", "other_loads", "lent"}

// createModeTrace checks that path can be written before the cases run.
func createModeTrace(path string) (*modeTraceFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--mode-trace: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("--mode-trace: %w", err)
	}
	return &modeTraceFile{path: path, start: map[inlinebench.Case]time.Time{}, rec: [][]string{modeTraceHeader}}, nil
}

// add records one window of case c, timed from the case's first window.
func (t *modeTraceFile) add(c inlinebench.Case, s inline.ModeSample) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t0, ok := t.start[c]
	if !ok {
		t0 = s.At
		t.start[c] = t0
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	others := make([]string, len(s.Others))
	for i, o := range s.Others {
		others[i] = f(o)
	}
	lent := make([]string, len(s.Lent))
	for i, l := range s.Lent {
		lent[i] = strconv.FormatBool(l)
	}
	t.rec = append(t.rec, []string{string(c.Impl), strconv.Itoa(c.Size), strconv.Itoa(c.Cores), string(c.Direction),
		strconv.FormatInt(s.At.Sub(t0).Milliseconds(), 10), string(s.Mode),
		f(s.Busy), f(s.Full), f(s.Demand), strconv.FormatFloat(s.Rate, 'f', 0, 64), strings.Join(others, ";"), strings.Join(lent, ";")})
	t.rows++
}

// close writes the rows recorded.
func (t *modeTraceFile) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.Create(t.path)
	if err != nil {
		return fmt.Errorf("--mode-trace: %w", err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(t.rec); err != nil {
		f.Close()
		return fmt.Errorf("--mode-trace %s: %w", t.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--mode-trace %s: %w", t.path, err)
	}
	return nil
}
