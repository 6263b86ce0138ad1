package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/wgbench/wgbench/internal/syncbuf"
	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/analyze"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/testbed"
)

// sampler is `wgbench agent sample` running on one gateway for one
// repetition.
type sampler struct {
	host   testbed.Host
	proc   testbed.Process
	path   string
	stderr *syncbuf.Buffer
}

// startSamplers starts the CPU samplers on both gateways. A sampler that
// cannot start is logged and left out: a repetition is not lost for want
// of CPU figures.
func (r *runState) startSamplers(ctx context.Context, hosts map[string]testbed.Host, rawDir string, shared bool) []*sampler {
	var out []*sampler
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		h := hosts[role]
		// One file per repetition on the host: nothing stale is read back.
		name := strings.ReplaceAll(rawDir, "/", "_") + "-trace-" + role + ".jsonl"
		s := &sampler{host: h, path: path.Join(h.TempDir(), name), stderr: &syncbuf.Buffer{}}
		argv := []string{testbed.Self, "agent", "sample", "--host", role, "--interval", r.opts.Scenario.Probes.Interval.Std().String(), "--out", s.path}
		if shared {
			argv = append(argv, "--shared-cores")
		}
		p, err := h.Start(ctx, testbed.Cmd{Argv: argv, Stderr: s.stderr, Stage: "probe"})
		if err != nil {
			r.opts.Log.Warn("start sampler", "host", role, "err", err)
			continue
		}
		s.proc = p
		out = append(out, s)
	}
	return out
}

// finishSamplers stops the samplers, stores their traces in the
// repetition's raw folder with cpu.csv and stages.csv, summarises the
// measured window and runs the black-hole detector.
func (r *runState) finishSamplers(samplers []*sampler, rawDir string, tunnels int, rp *results.Repetition) error {
	for _, s := range samplers {
		s.proc.Signal(syscall.SIGTERM)
	}
	sc := r.opts.Scenario
	w := analyze.Window{From: sc.Traffic.Omit.Std().Seconds(), To: (sc.Traffic.Omit.Std() + sc.Traffic.Duration.Std()).Seconds()}
	th := analyze.Thresholds(sc.Probes)
	var cpuCSV, stagesCSV bytes.Buffer
	var errs []error
	for i, s := range samplers {
		role := s.host.Role()
		done := make(chan error, 1)
		go func() { done <- s.proc.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.proc.Signal(syscall.SIGKILL)
			<-done
		}
		data, err := s.host.ReadFile(s.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: sampler wrote no trace (%v): %s", role, err, lastLine(s.stderr.String())))
			continue
		}
		if err := os.WriteFile(r.folder.Path(rawDir, analyze.TraceFile(role)), data, 0o644); err != nil {
			errs = append(errs, err)
		}
		tr, err := probes.ReadTrace(bytes.NewReader(data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", role, err))
			continue
		}
		if err := writeCSV(&cpuCSV, i == 0, func(b *bytes.Buffer) error { return probes.WriteCPUCSV(b, role, tr) }); err != nil {
			errs = append(errs, err)
		}
		if err := writeCSV(&stagesCSV, i == 0, func(b *bytes.Buffer) error { return probes.WriteStagesCSV(b, role, tr) }); err != nil {
			errs = append(errs, err)
		}
		cpu, fs, err := analyze.Host(tr, role, w, th, tunnels)
		if err != nil {
			errs = append(errs, err)
		}
		rp.CPU = append(rp.CPU, cpu)
		rp.Findings = append(rp.Findings, fs...)
	}
	if cpuCSV.Len() > 0 {
		errs = append(errs, os.WriteFile(r.folder.Path(rawDir, "cpu.csv"), cpuCSV.Bytes(), 0o644))
		errs = append(errs, os.WriteFile(r.folder.Path(rawDir, "stages.csv"), stagesCSV.Bytes(), 0o644))
	}
	return errors.Join(errs...)
}

// writeCSV appends a CSV to b, dropping its header line unless first.
func writeCSV(b *bytes.Buffer, first bool, write func(*bytes.Buffer) error) error {
	var one bytes.Buffer
	if err := write(&one); err != nil {
		return err
	}
	data := one.Bytes()
	if !first {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	b.Write(data)
	return nil
}

// coreSummary renders a gateway's per-core load in one line.
func coreSummary(c results.HostCPU) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s cores busy (softirq):", c.Host)
	for _, l := range c.Cores {
		fmt.Fprintf(&b, " %d:%.0f%% (%.0f%%)", l.Core, l.Busy, l.Softirq)
	}
	fmt.Fprintf(&b, ", mean %.0f%%", c.MeanBusy)
	return b.String()
}
