package probes

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// cpuColumns are the columns WriteCPUCSV writes.
var cpuColumns = []string{"host", "t_seconds", "core", "user", "system", "softirq", "irq", "iowait", "steal", "idle", "busy", "net_rx", "net_tx"}

// stageColumns are the columns WriteStagesCSV writes. "shared" marks
// kernel threads, which on a shared machine may work for any host.
var stageColumns = []string{"host", "t_seconds", "pid", "tid", "comm", "stage", "dev", "core", "cpu_pct", "shared"}

// WriteCPUCSV writes the per-core figures of tr as CSV: a header line, then
// one row per sample and core with the columns
// host,t_seconds,core,user,system,softirq,irq,iowait,steal,idle,busy,net_rx,net_tx.
// Percentages are of the core's time; net_rx and net_tx count softirq runs
// in the interval ending at t_seconds.
func WriteCPUCSV(w io.Writer, host string, tr *Trace) error {
	rec := make([]string, len(cpuColumns))
	return writeCSV(w, "cpu", cpuColumns, func(emit func([]string) error) error {
		for _, s := range tr.Samples {
			for _, c := range s.Cores {
				rec = append(rec[:0], host, fnum(s.T, 3), strconv.Itoa(c.Core),
					fnum(c.User, 2), fnum(c.System, 2), fnum(c.SoftIRQ, 2), fnum(c.IRQ, 2),
					fnum(c.IOWait, 2), fnum(c.Steal, 2), fnum(c.Idle, 2), fnum(c.Busy, 2),
					strconv.FormatUint(c.NetRX, 10), strconv.FormatUint(c.NetTX, 10))
				if err := emit(rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// WriteStagesCSV writes the per-thread rows of tr as CSV: a header line,
// then one row per sample and thread that used CPU, with the columns
// host,t_seconds,pid,tid,comm,stage,dev,core,cpu_pct,shared. cpu_pct is in
// percent of one core; core is where the thread last ran.
func WriteStagesCSV(w io.Writer, host string, tr *Trace) error {
	rec := make([]string, len(stageColumns))
	return writeCSV(w, "stages", stageColumns, func(emit func([]string) error) error {
		for _, s := range tr.Samples {
			for _, th := range s.Threads {
				rec = append(rec[:0], host, fnum(s.T, 3), strconv.Itoa(th.PID), strconv.Itoa(th.TID),
					th.Comm, string(th.Stage), th.Dev, strconv.Itoa(th.Core), fnum(th.Pct, 2),
					strconv.FormatBool(th.Shared))
				if err := emit(rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// writeCSV writes header, then each row rows emits, as CSV to w; what
// names the file in errors.
func writeCSV(w io.Writer, what string, header []string, rows func(emit func([]string) error) error) error {
	cw := csv.NewWriter(w)
	fail := func(err error) error { return fmt.Errorf("probes: write %s csv: %w", what, err) }
	if err := cw.Write(header); err != nil {
		return fail(err)
	}
	if err := rows(cw.Write); err != nil {
		return fail(err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fail(err)
	}
	return nil
}

func fnum(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
