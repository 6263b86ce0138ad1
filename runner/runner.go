// Package runner orchestrates a run: it provisions the testbed, brings each
// series' datapath up for each point, drives the iperf3 pairs for every
// repetition, reads the tunnels' counters, and appends every measurement to
// the run folder as soon as it is taken. An interrupted run (Ctrl-C, a
// failed host) keeps what it measured and leaves nothing behind.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/internal/version"
	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/local"
)

// Options configure a run.
type Options struct {
	// Scenario is the validated scenario to run.
	Scenario *scenarios.Scenario
	// ScenarioFile and Overrides are recorded in run.json.
	ScenarioFile string
	Overrides    []string
	// Dir is the run folder to create, or to continue with Resume.
	Dir string
	// Resume continues the run in Dir: the scenario as recorded there is
	// run again, points it completed are kept and skipped, a point cut
	// short is measured again from its first repetition.
	Resume bool
	// Binary is the wgbench executable for on-host verbs; empty means this
	// executable.
	Binary string
	// Progress receives one line per repetition and per point, and the
	// live status; nil discards them.
	Progress *progress.Reporter
	// Log receives debug details.
	Log *slog.Logger
	// Verbose prints every repetition's detector findings in the
	// progress; otherwise they are only recorded.
	Verbose bool
	// Provision brings up a testbed other than the local one (the SSH
	// driver); nil provisions network namespaces on this machine.
	Provision Provisioner
	// SharedCores says the testbed's hosts share one machine's cores; the
	// local testbed always does.
	SharedCores bool
	// Tag forces the local testbed's per-run tag (tests); empty picks a
	// free random one.
	Tag string
}

// Testbed is a provisioned testbed: what the runner needs of a driver.
type Testbed interface {
	// Hosts returns the four hosts by role.
	Hosts() map[string]testbed.Host
	// Tag is the per-run tag in the names the testbed made.
	Tag() string
	// Teardown undoes everything the testbed did on its hosts.
	Teardown() error
}

// Provisioner brings a testbed up for a run whose largest point has
// tunnels × flowsPerTunnel flows.
type Provisioner func(ctx context.Context, tunnels, flowsPerTunnel int) (Testbed, error)

// Run measures every point of the scenario and returns the run as saved.
// The returned error is non-nil when the run did not complete; the run
// folder holds whatever was measured until then. A run whose ctx ends is
// recorded as interrupted, unless the cancellation's cause is a
// testbed.ErrHostLost: then it failed, and the cause (naming the host) is
// its error.
func Run(ctx context.Context, opts Options) (*results.Run, error) {
	if opts.Progress == nil {
		opts.Progress = progress.New(io.Discard, false)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var (
		folder *results.Folder
		run    *results.Run
		err    error
	)
	if opts.Resume {
		if folder, run, err = resume(opts.Dir, opts.Log); err != nil {
			return nil, err
		}
		opts.Scenario = &run.Scenario
	} else {
		if opts.Scenario == nil {
			return nil, errors.New("runner: no scenario given")
		}
		if folder, err = results.Create(opts.Dir); err != nil {
			return nil, err
		}
		run = &results.Run{
			Schema: results.SchemaVersion, Tool: version.String(), Status: results.StatusRunning,
			Started: time.Now().UTC(), ScenarioFile: opts.ScenarioFile, Overrides: opts.Overrides,
			Scenario: *opts.Scenario, Hosts: map[string]results.HostFacts{},
		}
	}
	r := &runState{opts: opts, folder: folder, run: run}
	if err := r.save(); err != nil {
		return run, err
	}
	runErr := r.execute(ctx)
	now := time.Now().UTC()
	run.Finished = &now
	switch cause := context.Cause(ctx); {
	case runErr == nil:
		run.Status = results.StatusComplete
	case ctx.Err() != nil && errors.Is(cause, testbed.ErrHostLost):
		// A host went away mid-run (the SSH driver's OnLost cancels
		// with why): that is a failure of the testbed, not the user
		// stopping the run.
		run.Status = results.StatusFailed
		runErr = lostHost(cause, runErr)
		run.Error = runErr.Error()
	case ctx.Err() != nil:
		run.Status = results.StatusInterrupted
		run.Error = "interrupted: " + cause.Error()
	default:
		run.Status = results.StatusFailed
		run.Error = runErr.Error()
	}
	if err := r.save(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return run, runErr
}

// lostHost is the error of a run stopped by a lost host: the cause, which
// names the host, then whatever else went wrong (teardown), without the
// bare cancellations the cause explains.
func lostHost(cause, err error) error {
	parts := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	}
	out := []error{cause}
	for _, e := range parts {
		if e != nil && e.Error() != cause.Error() && e != context.Canceled && e != context.DeadlineExceeded {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// resume opens a run folder to continue it: completed points stay, the
// rest is dropped to be measured again.
func resume(dir string, log *slog.Logger) (*results.Folder, *results.Run, error) {
	folder, run, err := results.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if run.Status == results.StatusComplete {
		return nil, nil, fmt.Errorf("run %s is already complete; nothing to resume", dir)
	}
	if run.Status == results.StatusRunning && run.Finished == nil {
		// A run killed outright never wrote its end. Nothing records
		// which process owns the folder, so this cannot tell such a run
		// from one still going (resuming that would interleave both
		// runs' points): it takes the folder over, trusting the user
		// that its run is gone, and logs that it did.
		log.Debug("resuming a run that did not record its end", "dir", dir)
	}
	kept := run.Points[:0]
	for _, p := range run.Points {
		if p.Complete {
			kept = append(kept, p)
		}
	}
	run.Points = kept
	run.Series = nil
	run.Status, run.Error, run.Finished = results.StatusRunning, "", nil
	run.Resumed = append(run.Resumed, time.Now().UTC())
	if run.Hosts == nil {
		run.Hosts = map[string]results.HostFacts{}
	}
	return folder, run, nil
}

// runState is one run in progress.
type runState struct {
	// probe runs the current point's latency probes; nil without them.
	probe  *prober
	opts   Options
	folder *results.Folder
	mu     sync.Mutex // guards run during saves
	run    *results.Run
}

func (r *runState) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.folder.Save(r.run)
}

func (r *runState) progress(format string, args ...any) {
	r.opts.Progress.Printf(format, args...)
}

func (r *runState) execute(ctx context.Context) (err error) {
	sc := r.opts.Scenario
	maxT, maxF := slices.Max(sc.Sweep.Tunnels), slices.Max(sc.Sweep.Flows)
	provision := r.opts.Provision
	if provision == nil {
		if sc.Testbed.Driver != "local" {
			return fmt.Errorf("the scenario asks for the %q testbed driver but no inventory was loaded; give one with --testbed FILE", sc.Testbed.Driver)
		}
		r.opts.SharedCores = true
		provision = func(ctx context.Context, t, f int) (Testbed, error) {
			r.progress("provisioning the local testbed (4 namespaces, %d×%d flow addresses)…", t, f)
			return local.Provision(ctx, local.Options{Tunnels: t, FlowsPerTunnel: f, MTU: sc.Testbed.MTU, Binary: r.opts.Binary, Tag: r.opts.Tag, WAN: local.WAN{GW1: sc.Testbed.WAN.GW1, GW2: sc.Testbed.WAN.GW2}})
		}
	}
	start := time.Now()
	tb, err := provision(ctx, maxT, maxF)
	if err != nil {
		return err
	}
	defer func() {
		if terr := tb.Teardown(); terr != nil {
			err = errors.Join(err, fmt.Errorf("teardown: %w", terr))
		}
	}()
	r.progress("testbed %s up in %.2fs", tb.Tag(), time.Since(start).Seconds())
	return r.measure(ctx, tb)
}

// measure runs every series on a provisioned testbed.
func (r *runState) measure(ctx context.Context, tb Testbed) error {
	sc := r.opts.Scenario
	hosts := tb.Hosts()
	r.run.Testbed = results.TestbedInfo{Driver: sc.Testbed.Driver, Tag: tb.Tag(), SharedCores: r.opts.SharedCores, Addressing: testbed.Plan()}
	r.collectFacts(ctx, hosts)
	// Which series can run here?
	for _, s := range sc.Series {
		st := seriesStatus(s)
		if reason := r.unavailable(ctx, hosts, s); reason != "" {
			st.Skipped = reason
			r.progress("series %s: skipped: %s", s.Name, reason)
		}
		r.run.Series = append(r.run.Series, st)
	}
	if err := r.save(); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, p := range r.run.Points {
		done[pointKey(p.Series, p.Tunnels, p.FlowsPerTunnel)+sizeKey(p.PacketSize, p.MTU)] = true
	}
	if len(done) > 0 {
		r.progress("resuming: %d completed point(s) kept", len(done))
	}
	todo := func(p scenarios.Point) bool {
		return r.run.Series[p.Series].Skipped == "" && !done[pointKey(sc.Series[p.Series].Name, p.Tunnels, p.FlowsPerTunnel)+sizeKey(p.PacketSize, p.MTU)]
	}
	steps := 0
	for _, p := range sc.Expand() {
		if todo(p) {
			steps += sc.Repetitions
		}
	}
	r.opts.Progress.Plan(steps, sc.Traffic.Duration.Std()+sc.Traffic.Omit.Std()+time.Second)
	ran := len(done)
	for _, p := range sc.Expand() {
		if !todo(p) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.measurePoint(ctx, hosts, tb.Tag(), p); err != nil {
			return err
		}
		ran++
	}
	if ran == 0 {
		return errors.New("no series could run on this testbed (see the reasons above)")
	}
	return nil
}

func pointKey(series string, tunnels, flows int) string {
	return fmt.Sprintf("%s/%d/%d", series, tunnels, flows)
}

// measurePoint brings the datapath up for one point, runs its repetitions
// and tears the datapath down. Failures of the datapath are recorded in
// the point and the run goes on; only an interrupt stops it.
func (r *runState) measurePoint(ctx context.Context, hosts map[string]testbed.Host, tag string, p scenarios.Point) error {
	sc := r.opts.Scenario
	s := sc.Series[p.Series]
	pt := results.Point{Series: s.Name, Datapath: s.Datapath, Tunnels: p.Tunnels, FlowsPerTunnel: p.FlowsPerTunnel, PacketSize: p.PacketSize, MTU: p.MTU}
	r.mu.Lock()
	r.run.Points = append(r.run.Points, pt)
	idx := len(r.run.Points) - 1
	r.mu.Unlock()
	label := fmt.Sprintf("[%s] tunnels=%d flows/tunnel=%d", s.Name, p.Tunnels, p.FlowsPerTunnel)
	label += sizeLabel(p)
	rec := pointRec{r: r, idx: idx, label: label}
	flows, err := pointFlows(p)
	if err != nil {
		return err
	}
	start := time.Now()
	if p.MTU > 0 {
		restore, err := setLinkMTU(ctx, hosts, p.MTU)
		if err != nil {
			return rec.fail(ctx, "link MTU", err, nil)
		}
		defer func() {
			if err := restore(); err != nil {
				r.opts.Log.Warn("restore link MTU", "point", label, "err", err)
			}
		}()
	}
	dep, err := deploy(ctx, hosts, tag, s, p.Tunnels, tunnelMTU(p), usableCPUs(r.run.Hosts[testbed.GW1]), r.opts.Log)
	if err != nil {
		return rec.fail(ctx, "datapath", err, nil)
	}
	defer func() {
		if err := dep.stop(); err != nil {
			r.opts.Log.Warn("stop datapath", "point", label, "err", err)
		}
	}()
	setup := time.Since(start).Seconds()
	changes, notes := dep.knobs()
	notes = append(slices.Clone(dep.moved), notes...)
	if err := rec.update(func(pt *results.Point) { pt.Knobs = changes; pt.Notes = append(pt.Notes, notes...) }); err != nil {
		return err
	}
	for _, n := range notes {
		r.progress("%s: %s", label, n)
	}
	srv, err := startServers(ctx, hosts[testbed.Drain], flows, r.opts.Log)
	if err != nil {
		return rec.fail(ctx, "iperf3 servers", err, func(pt *results.Point) { pt.SetupSeconds = setup })
	}
	defer srv.stop()
	for _, m := range srv.moved {
		r.progress("%s: %s", label, m)
	}
	if err := rec.update(func(pt *results.Point) { pt.SetupSeconds = setup; pt.Notes = append(pt.Notes, srv.moved...) }); err != nil {
		return err
	}
	if r.probe, err = startProber(ctx, hosts, sc.Latency); err != nil {
		// The point is measured without latency.
		if err := rec.fail(ctx, "latency probe", err, nil); err != nil {
			return err
		}
	}
	defer func() { r.probe.stop(); r.probe = nil }()
	complete, err := r.measureReps(ctx, hosts, dep, p, flows, rec)
	if err != nil || !complete {
		return err
	}
	return r.finishPoint(rec)
}

// pointRec writes to one point of the run and tells its progress.
type pointRec struct {
	r     *runState
	idx   int
	label string
}

// update changes the point under the run's lock and saves the run.
func (pr pointRec) update(fn func(*results.Point)) error {
	pr.r.mu.Lock()
	fn(&pr.r.run.Points[pr.idx])
	pr.r.mu.Unlock()
	return pr.r.save()
}

// fail records that the step what failed with err: it tells the progress
// and notes it in the point (after fn, if any, changed the point). An
// interrupt is not a failure: then it returns the context's error.
func (pr pointRec) fail(ctx context.Context, what string, err error, fn func(*results.Point)) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pr.r.progress("%s: %s failed: %v", pr.label, what, err)
	return pr.update(func(pt *results.Point) {
		if fn != nil {
			fn(pt)
		}
		pt.Notes = append(pt.Notes, what+" failed: "+err.Error())
	})
}

// measureReps runs the point's repetitions on the deployed datapath and
// records each. It tells whether all ran: a datapath that died leaves
// the point incomplete (a resume measures it again).
func (r *runState) measureReps(ctx context.Context, hosts map[string]testbed.Host, dep *deployment, p scenarios.Point, flows []flowSpec, rec pointRec) (bool, error) {
	sc := r.opts.Scenario
	s := sc.Series[p.Series]
	label := rec.label
	for rep := 0; rep < sc.Repetitions; rep++ {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		r.opts.Progress.Begin(fmt.Sprintf("%s rep %d/%d", label, rep+1, sc.Repetitions))
		rp := r.repetition(ctx, hosts, dep, pointTraffic(sc.Traffic, p), p, s.Name, rep, flows)
		if ctx.Err() != nil {
			// A repetition cut short by the interrupt is not a measurement.
			return false, ctx.Err()
		}
		if why := dep.dead(); why != "" {
			// Nothing more can be measured on this datapath: keep the
			// failed repetition, leave the point incomplete (a resume
			// measures it again) and go on with the next point.
			if rp.Error == "" {
				rp.Error = why
			} else {
				rp.Error = why + "; " + rp.Error
			}
			r.progress("%s rep %d/%d: FAILED: %s; the point is left incomplete", label, rep+1, sc.Repetitions, why)
			return false, rec.update(func(pt *results.Point) {
				pt.Repetitions = append(pt.Repetitions, rp)
				pt.Resummarize()
				pt.Notes = append(pt.Notes, why)
			})
		}
		if err := rec.update(func(pt *results.Point) { pt.Repetitions = append(pt.Repetitions, rp); pt.Resummarize() }); err != nil {
			return false, err
		}
		r.progress("%s rep %d/%d: %s", label, rep+1, sc.Repetitions, describeRep(rp))
		if r.opts.Verbose {
			for _, f := range rp.Findings {
				r.progress("  finding: %s", f.Summary)
			}
		}
		r.opts.Progress.Done(fmt.Sprintf("%.3f Gbit/s", rp.AggregateBps/1e9))
	}
	return true, nil
}

// finishPoint marks the point complete and tells its summary.
func (r *runState) finishPoint(rec pointRec) error {
	var done results.Point
	if err := rec.update(func(pt *results.Point) { pt.Complete = true; pt.Resummarize(); done = *pt }); err != nil {
		return err
	}
	r.progress("%s: %.3f ± %.3f Gbit/s (mean ± 95%% CI, n=%d)%s", rec.label, done.Summary.MeanGbps, done.Summary.CI95Gbps, done.Summary.N, costSummary(done.Cost))
	if n := len(done.Repetitions); n > 0 {
		for _, c := range done.Repetitions[n-1].CPU {
			r.progress("  %s (last repetition)", coreSummary(c))
		}
	}
	return nil
}

// repetition measures one repetition: counters before, all flows at once,
// counters after.
func (r *runState) repetition(ctx context.Context, hosts map[string]testbed.Host, dep *deployment, tr scenarios.Traffic, p scenarios.Point, series string, rep int, flows []flowSpec) results.Repetition {
	rp := results.Repetition{Index: rep, Started: time.Now().UTC()}
	rawDir := sizedRawDir(results.RawDir(series, p.Tunnels, p.FlowsPerTunnel, rep), p)
	if _, err := r.folder.MkdirAll(rawDir); err != nil {
		rp.Error = err.Error()
		return rp
	}
	rp.Latency = r.probe.idle(ctx, r.folder, rawDir)
	before, errBefore := readCounters(ctx, hosts, dep)
	samplers := r.startSamplers(ctx, hosts, rawDir, r.run.Testbed.SharedCores)
	loaded := r.probe.loaded(ctx, tr, r.folder, rawDir)
	rp.Flows, rp.Trials, rp.LossPct = r.load(ctx, hosts[testbed.Source], tr, flows, rawDir)
	loaded.finish(rp.Latency, rp.Flows)
	if err := r.finishSamplers(samplers, rawDir, p.Tunnels, &rp); err != nil {
		r.opts.Log.Warn("CPU samples", "err", err)
		r.progress("  warning: CPU samples incomplete: %v", err)
	}
	after, errAfter := readCounters(ctx, hosts, dep)
	if err := errors.Join(errBefore, errAfter); err != nil {
		r.opts.Log.Warn("tunnel counters", "err", err)
	} else {
		rp.Tunnels = counterDeltas(dep.devices, before, after)
	}
	var failed []string
	for _, f := range rp.Flows {
		if f.Error != "" {
			failed = append(failed, fmt.Sprintf("flow %d of tunnel %d: %s", f.Index, f.Tunnel, f.Error))
			continue
		}
		rp.AggregateBps += f.Bps
		rp.Seconds = max(rp.Seconds, tr.Duration.Std().Seconds())
	}
	if len(failed) > 0 {
		rp.Error = strings.Join(failed, "; ")
	}
	r.accountCost(hosts, rawDir, &rp)
	return rp
}

func describeRep(rp results.Repetition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.3f Gbit/s", rp.AggregateBps/1e9)
	if len(rp.Flows) > 1 {
		b.WriteString(" (flows:")
		for _, f := range rp.Flows {
			fmt.Fprintf(&b, " %.2f", f.Bps/1e9)
		}
		b.WriteString(")")
	}
	b.WriteString(describeLatency(rp.Latency))
	if rp.Error != "" {
		b.WriteString(" FAILED: " + rp.Error)
	}
	return b.String()
}

// counters are the byte counters of every tunnel on both gateways, and
// the inline engine's modes where it reports them.
type counters struct {
	bytes map[string]map[string][2]uint64              // role → device → {rx, tx}
	modes map[string]map[string]*datapath.TunnelStatus // role → device → status with a mode
}

func readCounters(ctx context.Context, hosts map[string]testbed.Host, dep *deployment) (*counters, error) {
	if len(dep.devices) == 0 {
		return nil, nil
	}
	c := &counters{bytes: map[string]map[string][2]uint64{}, modes: map[string]map[string]*datapath.TunnelStatus{}}
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		st, err := wgStats(ctx, hosts[role], dep.devices, dep.statusArgs...)
		if err != nil {
			return nil, err
		}
		c.bytes[role] = map[string][2]uint64{}
		c.modes[role] = map[string]*datapath.TunnelStatus{}
		for i, d := range st {
			var rx, tx uint64
			for _, p := range d.Peers {
				rx += uint64(p.RxBytes)
				tx += uint64(p.TxBytes)
			}
			c.bytes[role][d.Name] = [2]uint64{rx, tx}
			if d.Mode != nil {
				c.modes[role][d.Name] = &st[i]
			}
		}
	}
	return c, nil
}

// modeDelta is a tunnel's mode changes on one gateway between two reads:
// how many, and those of the later read's log made after the first read
// was (nil when the engine reports no mode).
func modeDelta(role, dev string, before, after *counters) *results.TunnelMode {
	a, b := after.modes[role][dev], before.modes[role][dev]
	if a == nil {
		return nil
	}
	m := &results.TunnelMode{Mode: string(a.Mode.Mode), Active: string(a.Mode.Active), Changes: a.Mode.Changes}
	var since uint64
	if b != nil {
		since = b.Mode.Changes
	}
	if m.Changes >= since {
		m.Changes -= since
	}
	log := a.Mode.Log
	if n := int(m.Changes); n < len(log) {
		log = log[len(log)-n:]
	}
	for _, c := range log {
		m.Log = append(m.Log, results.ModeChange{At: c.At.UTC(), To: string(c.To), Cores: cpuset.Set(c.Cores).String()})
	}
	return m
}

func counterDeltas(devices []string, before, after *counters) []results.TunnelCounters {
	if before == nil || after == nil {
		return nil
	}
	d := func(role, dev string, i int) uint64 {
		a, b := after.bytes[role][dev][i], before.bytes[role][dev][i]
		if a < b {
			return 0
		}
		return a - b
	}
	var out []results.TunnelCounters
	for i, dev := range devices {
		out = append(out, results.TunnelCounters{
			Index: i, Device: dev,
			GW1RxBytes: d(testbed.GW1, dev, 0), GW1TxBytes: d(testbed.GW1, dev, 1),
			GW2RxBytes: d(testbed.GW2, dev, 0), GW2TxBytes: d(testbed.GW2, dev, 1),
			GW1Mode: modeDelta(testbed.GW1, dev, before, after), GW2Mode: modeDelta(testbed.GW2, dev, before, after),
		})
	}
	return out
}

// collectFacts records every host's facts, read on the host itself.
func (r *runState) collectFacts(ctx context.Context, hosts map[string]testbed.Host) {
	r.run.Hosts["controller"] = facts.Collect(ctx).Summary()
	for _, role := range testbed.Roles {
		out, err := testbed.Run(ctx, hosts[role], testbed.Self, "agent", "facts")
		var f results.HostFacts
		if err == nil {
			err = json.Unmarshal(out, &f)
		}
		if err == nil {
			// The full facts (facts.Host) go beside run.json for the tuner.
			if werr := os.WriteFile(r.folder.Path(facts.RunFile(role)), out, 0o644); werr != nil {
				f.Notes = append(f.Notes, "full facts not saved: "+werr.Error())
			}
		}
		if err != nil {
			f.Notes = append(f.Notes, "facts unavailable: "+err.Error())
		}
		r.run.Hosts[role] = f
	}
}

// unavailable says why a series cannot run on this testbed, or "".
func (r *runState) unavailable(ctx context.Context, hosts map[string]testbed.Host, s scenarios.Series) string {
	for _, role := range []string{testbed.GW1, testbed.GW2} {
		out, err := testbed.Run(ctx, hosts[role], testbed.Self, "agent", "check", "--engine", string(s.Datapath))
		var res datapath.CheckResult
		if err == nil {
			err = json.Unmarshal(out, &res)
		}
		switch {
		case err != nil:
			return fmt.Sprintf("%s: cannot check the %s datapath: %v", role, s.Datapath, err)
		case !res.OK:
			return fmt.Sprintf("%s: %s", role, res.Reason)
		}
	}
	return ""
}

// usableCPUs returns the CPUs wgbench may use on a host: those its
// inventory confines it to, else all of its cores; nil when unknown.
func usableCPUs(h results.HostFacts) []int {
	if h.AllowedCPUs != "" {
		if l, err := cpuset.Parse(h.AllowedCPUs); err == nil {
			return l
		}
	}
	var cpus []int
	for c := range h.Cores {
		cpus = append(cpus, c)
	}
	return cpus
}

// seriesStatus is the run.json entry of series s before it runs: with the
// tuning each gateway runs, when it has any.
func seriesStatus(s scenarios.Series) results.SeriesStatus {
	st := results.SeriesStatus{Name: s.Name, Datapath: s.Datapath}
	if tu := s.Tuning; len(tu.Set()) > 0 || tu.HasBlocks() {
		st.Tuning = map[string]scenarios.Tuning{testbed.GW1: tu.Gateway(1), testbed.GW2: tu.Gateway(2)}
	}
	return st
}
