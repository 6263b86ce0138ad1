package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wgbench/wgbench/probes/latency"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// echoPort is the UDP port of the drain's latency echo, below the iperf3
// servers' range.
const echoPort = testbed.IperfBasePort - 2

// prober runs a point's latency probes: source to drain through tunnel 0
// and back, with the drain's echo (udp) kept up across the point's
// repetitions.
type prober struct {
	cfg      scenarios.Latency
	source   testbed.Host
	src, dst netip.Addr
	echo     testbed.Process // nil for icmp
}

// startProber brings the latency probe of a point up: for the udp probe
// `wgbench agent echo` on drain, listening once this returns. A scenario
// without a latency block gets nil and no error.
func startProber(ctx context.Context, hosts map[string]testbed.Host, cfg *scenarios.Latency) (*prober, error) {
	if cfg == nil {
		return nil, nil
	}
	src, dst, err := testbed.FlowAddrs(0, 0)
	if err != nil {
		return nil, err
	}
	p := &prober{cfg: *cfg, source: hosts[testbed.Source], src: src, dst: dst}
	if cfg.Probe != scenarios.ProbeUDP {
		return p, nil
	}
	drain := hosts[testbed.Drain]
	argv := []string{testbed.Self, "agent", "echo", "--listen", netip.AddrPortFrom(dst, echoPort).String()}
	proc, ready, err := startWatched(ctx, drain, testbed.Cmd{Argv: argv, Stage: "latency-echo"}, func(line string) bool {
		return strings.HasPrefix(line, "echo listening")
	})
	if err != nil {
		return nil, fmt.Errorf("%s: latency echo: %w", hostName(drain), err)
	}
	stop := func() { proc.Signal(syscall.SIGTERM); proc.Wait() }
	select {
	case msg := <-ready:
		if msg != "" {
			stop()
			return nil, fmt.Errorf("%s: latency echo on %s:%d did not start: %s", hostName(drain), dst, echoPort, msg)
		}
	case <-time.After(10 * time.Second):
		stop()
		return nil, fmt.Errorf("%s: latency echo on %s:%d not listening after 10s", hostName(drain), dst, echoPort)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	p.echo = proc
	return p, nil
}

// stop ends the echo; safe on nil.
func (p *prober) stop() {
	if p == nil || p.echo == nil {
		return
	}
	p.echo.Signal(syscall.SIGTERM)
	p.echo.Wait()
	p.echo = nil
}

// run probes for d and keeps every round trip in rawDir/name.
func (p *prober) run(ctx context.Context, d time.Duration, folder *results.Folder, rawDir, name string) (*results.LatencyStats, string, error) {
	argv := []string{testbed.Self, "agent", "probe", "--kind", p.cfg.Probe,
		"--to", netip.AddrPortFrom(p.dst, echoPort).String(), "--bind", p.src.String(),
		"--rate", strconv.FormatFloat(p.cfg.Rate, 'g', -1, 64), "--duration", d.String()}
	out, err := testbed.Run(ctx, p.source, argv...)
	if err != nil {
		return nil, "", fmt.Errorf("%s probe: %w", name, err)
	}
	var rep latency.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, "", fmt.Errorf("%s probe: read its report: %w", name, err)
	}
	rel := filepath.Join(rawDir, "latency-"+name+".json")
	if err := os.WriteFile(folder.Path(rel), out, 0o644); err != nil {
		return nil, "", fmt.Errorf("%s probe: keep its samples: %w", name, err)
	}
	st := latency.Summarize(rep)
	return &results.LatencyStats{Sent: st.Sent, Received: st.Received, P50Ms: st.P50, P90Ms: st.P90, P99Ms: st.P99, MaxMs: st.Max, LossPct: st.LossPct}, rel, nil
}

// loadedRun is a loaded probe under way.
type loadedRun struct {
	done  chan struct{}
	stats *results.LatencyStats
	log   string
	err   error
}

// idle runs the idle probe before a repetition's load; on failure the
// error is recorded in the repetition and the load goes on.
func (p *prober) idle(ctx context.Context, folder *results.Folder, rawDir string) *results.RepLatency {
	if p == nil {
		return nil
	}
	l := &results.RepLatency{Probe: p.cfg.Probe}
	st, log, err := p.run(ctx, p.cfg.Idle.Std(), folder, rawDir, "idle")
	if err != nil {
		l.Error = err.Error()
	}
	l.Idle, l.IdleLog = st, log
	return l
}

// loaded starts the loaded probe, to run within the measured window of a
// load that starts now: after the warm-up (omit) and a margin for the
// clients to connect, until a margin before the window ends.
func (p *prober) loaded(ctx context.Context, tr scenarios.Traffic, folder *results.Folder, rawDir string) *loadedRun {
	if p == nil {
		return nil
	}
	const margin = 250 * time.Millisecond
	lr := &loadedRun{done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		select {
		case <-time.After(tr.Omit.Std() + margin):
		case <-ctx.Done():
			lr.err = ctx.Err()
			return
		}
		d := max(tr.Duration.Std()-2*margin, tr.Duration.Std()/2)
		lr.stats, lr.log, lr.err = p.run(ctx, d, folder, rawDir, "loaded")
	}()
	return lr
}

// finish waits for the loaded probe and completes l with it and with the
// flows' TCP round trips.
func (lr *loadedRun) finish(l *results.RepLatency, flows []results.Flow) {
	if lr == nil || l == nil {
		return
	}
	<-lr.done
	l.Loaded, l.LoadedLog = lr.stats, lr.log
	if lr.err != nil {
		if l.Error != "" {
			l.Error += "; "
		}
		l.Error += lr.err.Error()
	}
	n := 0
	for _, f := range flows {
		if f.Error != "" || f.RTTMeanMs <= 0 {
			continue
		}
		n++
		l.TCPMeanRTTMs += f.RTTMeanMs
		l.TCPMaxRTTMs = max(l.TCPMaxRTTMs, f.RTTMaxMs)
	}
	if n > 0 {
		l.TCPMeanRTTMs /= float64(n)
	}
}

// describeLatency is the progress line's latency part, "" without one.
func describeLatency(l *results.RepLatency) string {
	if l == nil {
		return ""
	}
	var parts []string
	if l.Idle != nil {
		parts = append(parts, fmt.Sprintf("idle p50 %.2f ms", l.Idle.P50Ms))
	}
	if l.Loaded != nil {
		parts = append(parts, fmt.Sprintf("loaded p50 %.2f p99 %.2f ms, loss %.1f%%", l.Loaded.P50Ms, l.Loaded.P99Ms, l.Loaded.LossPct))
	}
	if l.TCPMeanRTTMs > 0 {
		parts = append(parts, fmt.Sprintf("TCP RTT %.2f ms", l.TCPMeanRTTMs))
	}
	if l.Error != "" {
		parts = append(parts, "probe failed: "+l.Error)
	}
	return "; RTT " + strings.Join(parts, ", ")
}
