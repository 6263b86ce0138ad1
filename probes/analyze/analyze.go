// Package analyze turns a gateway's CPU trace into what the results record:
// the per-core load over the measured window and the black-hole detector's
// findings. The runner calls it after every repetition; `wgbench analyze`
// calls it again on stored traces with other thresholds.
package analyze

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/probes/blackhole"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

// Window is the part of a trace that was measured, in seconds since the
// sampler started: the warm-up is left out.
type Window struct{ From, To float64 }

// Thresholds returns the detector thresholds a scenario sets.
func Thresholds(p scenarios.Probes) blackhole.Thresholds {
	th := blackhole.DefaultThresholds()
	if p.Saturation > 0 {
		th.Saturation = p.Saturation
	}
	if p.Persistence > 0 {
		th.Persistence = p.Persistence
	}
	th.Headroom = p.Headroom
	return th
}

// Host analyses one gateway's trace over w.
func Host(tr *probes.Trace, role string, w Window, th blackhole.Thresholds, tunnels int) (results.HostCPU, []results.Finding, error) {
	win := tr.Window(w.From, w.To)
	cpu := Summarize(role, win)
	fs, err := blackhole.Detect(role, win, th, blackhole.DetectOptions{
		Role: role, ReceiveSide: role == "gw2", Tunnels: tunnels, SharedCores: tr.Header.SharedCores,
	})
	if err != nil {
		return cpu, nil, fmt.Errorf("%s: %w", role, err)
	}
	out := make([]results.Finding, 0, len(fs))
	for _, f := range fs {
		rf := results.Finding{
			Host: f.Host, Kind: f.Kind, Core: f.Core, Cores: f.Cores, BusyMean: f.BusyMean,
			SoftirqShare: f.SoftirqShare, SaturatedShare: f.SaturatedShare, HostIdle: f.HostIdle,
			Shared: f.Shared, OwnPct: f.OwnPct, Summary: f.Summary,
		}
		for _, s := range f.Stages {
			rf.Stages = append(rf.Stages, results.StageShare{Stage: string(s.Stage), Dev: s.Dev, Pct: s.Pct})
		}
		out = append(out, rf)
	}
	return cpu, out, nil
}

// Summarize averages each core's load over the samples of tr, weighting
// each sample by its length.
func Summarize(role string, tr *probes.Trace) results.HostCPU {
	hc := results.HostCPU{Host: role, Samples: len(tr.Samples), TraceStart: tr.Header.Start}
	type acc struct{ busy, user, sys, soft, w float64 }
	accs := map[int]*acc{}
	var order []int
	for _, s := range tr.Samples {
		w := s.DT
		if w <= 0 {
			w = 1
		}
		for _, c := range s.Cores {
			a := accs[c.Core]
			if a == nil {
				a = &acc{}
				accs[c.Core] = a
				order = append(order, c.Core)
			}
			a.busy += w * c.Busy
			a.user += w * c.User
			a.sys += w * c.System
			a.soft += w * c.SoftIRQ
			a.w += w
		}
	}
	var total float64
	for _, core := range order {
		a := accs[core]
		cl := results.CoreLoad{Core: core, Busy: a.busy / a.w, User: a.user / a.w, System: a.sys / a.w, Softirq: a.soft / a.w}
		hc.Cores = append(hc.Cores, cl)
		total += cl.Busy
	}
	if len(hc.Cores) > 0 {
		hc.MeanBusy = total / float64(len(hc.Cores))
	}
	return hc
}

// TraceFile is the name of a gateway's trace in a repetition's raw folder.
func TraceFile(role string) string { return "trace-" + role + ".jsonl" }

// ReadTrace reads a stored trace.
func ReadTrace(path string) (*probes.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := probes.ReadTrace(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return tr, nil
}
