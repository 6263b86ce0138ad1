package runner

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// pointTraffic is the scenario's traffic as point p sends it: datagrams
// of the point's packet size (iperf3 -l is the UDP payload, the packet
// less its IPv4 and UDP headers).
func pointTraffic(tr scenarios.Traffic, p scenarios.Point) scenarios.Traffic {
	if p.PacketSize > 0 {
		tr.Length = p.PacketSize - scenarios.UDPIPHeaders
	}
	return tr
}

// load offers a repetition's load: the flows at the scenario's rate, or,
// with rate: search, the RFC 2544 search for the highest rate whose loss
// stays within the tolerance. It returns the flows of the measurement
// kept (the highest passing trial's), every trial, and the loss.
func (r *runState) load(ctx context.Context, source testbed.Host, tr scenarios.Traffic, flows []flowSpec, rawDir string) ([]results.Flow, []results.Trial, float64) {
	if !tr.Rate.Search {
		fl := runClients(ctx, source, tr, flows, r.folder, rawDir)
		return fl, nil, lossOf(fl)
	}
	var (
		trials         []results.Trial
		best, last     []results.Flow
		bestLoss       float64
		passed, failed float64 // highest passing and lowest failing offered rate
	)
	offered := float64(tr.Search.MaxRate)
	tol := tr.LossTolerancePct()
	for i := 0; i < tr.Search.Trials && ctx.Err() == nil; i++ {
		t := tr
		t.Duration, t.Omit = tr.Search.TrialDuration, 0
		t.Bitrate = scenarios.Bitrate(max(1, offered/float64(len(flows))))
		dir := filepath.Join(rawDir, fmt.Sprintf("trial%d", i))
		trial := results.Trial{OfferedBps: float64(t.Bitrate) * float64(len(flows))}
		if _, err := r.folder.MkdirAll(dir); err != nil {
			trial.Error = err.Error()
			trials = append(trials, trial)
			break
		}
		fl := runClients(ctx, source, t, flows, r.folder, dir)
		last = fl
		for _, f := range fl {
			if f.Error != "" {
				trial.Error = fmt.Sprintf("flow %d of tunnel %d: %s", f.Index, f.Tunnel, f.Error)
				continue
			}
			trial.Bps += f.Bps
		}
		trial.LossPct = lossOf(fl)
		trial.Pass = trial.Error == "" && trial.LossPct <= tol
		trials = append(trials, trial)
		r.progress("  trial %d: offered %.3f Gbit/s → %.3f Gbit/s, loss %.3f%% (tolerance %g%%): %s", i+1, trial.OfferedBps/1e9, trial.Bps/1e9, trial.LossPct, tol, passWord(trial))
		if trial.Error != "" && ctx.Err() == nil && i == 0 {
			break // the pairs do not work at all: searching further says no more
		}
		if trial.Pass {
			passed, best, bestLoss = trial.OfferedBps, fl, trial.LossPct
		} else {
			failed = failBound(failed, trial)
		}
		next, ok := nextRate(passed, failed, trial)
		if !ok {
			break
		}
		offered = next
	}
	if best == nil {
		// Nothing passed: the repetition keeps the last trial's flows and
		// shows its loss, and its rate is that of no trial that passed.
		return last, trials, lossOf(last)
	}
	return best, trials, bestLoss
}

// nextRate chooses the next offered rate of the search from the highest
// passing and the lowest failing rate so far (0: none) and the last
// trial, bisecting by ratio while they are far apart; ok is false when the search has converged (within 5 %) or the
// first trial at the maximum passed.
func nextRate(passed, failed float64, last results.Trial) (float64, bool) {
	switch {
	case failed == 0:
		return 0, false // the maximum passes: nothing higher to try
	case passed == 0 && last.Pass == false && last.Bps > 0 && last.Bps < 0.9*failed:
		// What got through at an offered rate that lost too much is a
		// good first guess of the highest rate without loss.
		return last.Bps * 0.95, true
	case passed > 0 && failed/passed < 1.05:
		return 0, false
	case passed > 0 && failed/passed > 2:
		// Far apart (a pass far below the maximum tried first): halve
		// the ratio, not the difference, so small packets' rates are
		// found in as few trials as large ones'.
		return math.Sqrt(passed * failed), true
	}
	return (passed + failed) / 2, true
}

// failBound is the lowest failing rate after trial failed: its offered
// rate or, when what got through was far less, half as much again as
// that, since offering much more than a gateway delivers loses the rest.
// failed is the bound so far (0: none).
func failBound(failed float64, trial results.Trial) float64 {
	b := trial.OfferedBps
	if trial.Bps > 0 && trial.Bps*1.5 < b {
		b = trial.Bps * 1.5
	}
	if failed > 0 {
		b = min(b, failed)
	}
	return b
}

// passWord says whether a trial passed.
func passWord(t results.Trial) string {
	switch {
	case t.Error != "":
		return "failed: " + t.Error
	case t.Pass:
		return "pass"
	}
	return "too much loss"
}

// lossOf is the UDP loss in percent over flows, weighted by what each
// sent; 0 for TCP.
func lossOf(flows []results.Flow) float64 {
	var lost, sent float64
	for _, f := range flows {
		if f.Error != "" {
			continue
		}
		lost += f.LostPercent * float64(f.SentBytes)
		sent += float64(f.SentBytes)
	}
	if sent == 0 {
		return 0
	}
	return lost / sent
}

// sizeKey extends a point's resume key with its swept packet size and
// MTU; "" when neither is swept, so older run folders resume as before.
func sizeKey(packetSize, mtu int) string {
	if packetSize == 0 && mtu == 0 {
		return ""
	}
	return fmt.Sprintf("/%d/%d", packetSize, mtu)
}

// sizeLabel names a point's swept packet size and MTU in progress lines.
func sizeLabel(p scenarios.Point) string {
	s := ""
	if p.MTU > 0 {
		s += fmt.Sprintf(" mtu=%d", p.MTU)
	}
	if p.PacketSize > 0 {
		s += fmt.Sprintf(" size=%dB", p.PacketSize)
	}
	return s
}

// sizedRawDir puts a point with a swept packet size or MTU in its own raw
// folder: raw/<series>/t1-f1-s64-m1500/rep0 instead of raw/<series>/t1-f1/rep0.
func sizedRawDir(dir string, p scenarios.Point) string {
	if p.PacketSize == 0 && p.MTU == 0 {
		return dir
	}
	point := filepath.Dir(dir)
	return filepath.Join(filepath.Dir(point), fmt.Sprintf("%s-s%d-m%d", filepath.Base(point), p.PacketSize, p.MTU), filepath.Base(dir))
}
