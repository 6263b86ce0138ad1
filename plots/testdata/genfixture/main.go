// Command genfixture writes the hand-shaped run folder the plots tests
// read: plots/testdata/fixture. Run it from the module root with
//
//	go run ./plots/testdata/genfixture plots/testdata/fixture
//
// The run is made up but valid: the multi-tunnel scenario on a CloudLab-
// like ssh testbed with 16-core gateways, tunnels 1, 2, 4, 8, three
// repetitions with spread, three series that ran (wggo, kernel,
// kernel-threaded) and one skipped (inline), one failed repetition
// (kernel-threaded at 8 tunnels), and cpu.csv traces: the black hole of the
// paper's Fig. 9 on gw2 (kernel, 8 tunnels: one core at ~100 % softirq, the
// others at 10–40 %), the single saturated core of Fig. 5 (kernel, 1
// tunnel), one receiving core per tunnel without a black hole (kernel, 2
// tunnels) and balanced threaded-NAPI traces. Everything is deterministic.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/wgbench/wgbench/probes"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genfixture DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genfixture:", err)
		os.Exit(1)
	}
}

var rng = rand.New(rand.NewPCG(2025, 8))

// jitter returns v scaled by a random factor in [1-f, 1+f].
func jitter(v, f float64) float64 { return v * (1 + f*(2*rng.Float64()-1)) }

const cores = 16

func run(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	f, err := results.Create(dir)
	if err != nil {
		return err
	}
	start := time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)
	sc := fixtureScenario()
	r := fixtureRun(sc, start)
	fin := addPoints(r, sc, start.Add(5*time.Second))
	r.Finished = &fin
	if err := f.Save(r); err != nil {
		return err
	}
	if err := writeTraces(f); err != nil {
		return err
	}
	// Re-read to prove the folder is valid.
	if _, _, err := results.Open(dir); err != nil {
		return err
	}
	js, _ := json.Marshal(len(r.Points))
	fmt.Printf("wrote %s: %s points\n", dir, js)
	return nil
}

// fixtureScenario is the multi-tunnel scenario the fixture ran.
func fixtureScenario() scenarios.Scenario {
	return scenarios.Scenario{
		Name:        "multi-tunnel",
		Description: "HPSR 2025 Fig. 8: aggregate throughput vs tunnels, one TCP flow per tunnel",
		Testbed:     scenarios.Testbed{Driver: "ssh", Inventory: "cloudlab.hosts"},
		Traffic: scenarios.Traffic{Tool: "iperf3", Protocol: scenarios.TCP,
			Duration: scenarios.Duration(10 * time.Second), Omit: scenarios.Duration(2 * time.Second)},
		Sweep:       scenarios.Sweep{Tunnels: []int{1, 2, 4, 8}, Flows: []int{1}},
		Repetitions: 3,
		Series: []scenarios.Series{
			{Name: "wggo", Datapath: scenarios.WireGuardGo},
			{Name: "kernel", Datapath: scenarios.Kernel},
			{Name: "kernel-threaded", Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{ThreadedNAPI: true}},
			{Name: "inline", Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Pin: true}},
		},
		Probes: scenarios.Probes{Interval: scenarios.Duration(500 * time.Millisecond), Saturation: 90, Persistence: 0.6, Headroom: 0.25},
	}
}

// fixtureRun is the run's record without its points.
func fixtureRun(sc scenarios.Scenario, start time.Time) *results.Run {
	facts := func(name string) results.HostFacts {
		return results.HostFacts{Machine: results.Machine{Hostname: name + ".wgbench.cloudlab.us", Kernel: "6.8.0-51-generic",
			CPUModel: "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", Cores: cores, NUMANodes: 2,
			Iperf3: "3.16", Wgbench: "v0.3.0", WireGuard: "1.0.0"}}
	}
	return &results.Run{
		Tool: "v0.3.0", Status: results.StatusComplete, Started: start,
		ScenarioFile: "scenarios/multi-tunnel.yaml",
		Overrides:    []string{"testbed.driver=ssh", "testbed.inventory=cloudlab.hosts", "sweep.tunnels=[1,2,4,8]", "repetitions=3", "traffic.duration=10s"},
		Scenario:     sc,
		Testbed: results.TestbedInfo{Driver: "ssh", Tag: "7f3a", SharedCores: false, Addressing: map[string]string{
			"lan1": "198.18.0.0/24", "lan2": "198.19.0.0/24", "wan": "198.18.255.0/24", "tunnel_port": "51820+<tunnel>",
		}},
		Hosts: map[string]results.HostFacts{
			"source": facts("source"), "gw1": facts("gw1"), "gw2": facts("gw2"), "drain": facts("drain"),
			"controller": {Machine: results.Machine{Hostname: "laptop", Kernel: "6.10.0", CPUModel: "Apple M2", Cores: 8, Wgbench: "v0.3.0",
				Notes: []string{"controller only: drives the testbed over SSH"}}},
		},
		Series: []results.SeriesStatus{
			{Name: "wggo", Datapath: scenarios.WireGuardGo},
			{Name: "kernel", Datapath: scenarios.Kernel},
			{Name: "kernel-threaded", Datapath: scenarios.Kernel},
			{Name: "inline", Datapath: scenarios.Inline, Skipped: "gw1: the inline engine is not built into this wgbench yet"},
		},
	}
}

// addPoints adds the measured points, the repetitions starting at t, and
// returns when the last one ended.
func addPoints(r *results.Run, sc scenarios.Scenario, t time.Time) time.Time {
	// Mean Gbit/s per series and tunnel count, shaped like Fig. 8.
	means := map[string]map[int]float64{
		"wggo":            {1: 2.1, 2: 3.6, 4: 5.1, 8: 5.6},
		"kernel":          {1: 5.0, 2: 8.6, 4: 12.4, 8: 13.1},
		"kernel-threaded": {1: 4.7, 2: 8.9, 4: 16.2, 8: 27.4},
	}
	for _, s := range sc.Series[:3] {
		for _, tun := range sc.Sweep.Tunnels {
			p := results.Point{Series: s.Name, Datapath: s.Datapath, Tunnels: tun, FlowsPerTunnel: 1,
				SetupSeconds: jitter(0.4, 0.3), Complete: true}
			if s.Tuning.ThreadedNAPI {
				p.Notes = []string{fmt.Sprintf("threaded NAPI on %d WireGuard device(s)", tun)}
			}
			for k := range 3 {
				rep := results.Repetition{Index: k, Started: t, Seconds: 8}
				t = t.Add(12 * time.Second)
				agg := jitter(means[s.Name][tun], 0.07) * 1e9
				failed := s.Name == "kernel-threaded" && tun == 8 && k == 2
				for i := range tun {
					fl := results.Flow{Tunnel: i, Index: 0,
						Src: fmt.Sprintf("198.18.%d.1", i+1), Dst: fmt.Sprintf("198.19.%d.1", i+1),
						Port: 5201 + i, Attempts: 1,
						Log: filepath.ToSlash(filepath.Join(results.RawDir(s.Name, tun, 1, k), fmt.Sprintf("t%d-f0.json", i)))}
					fl.Bps = jitter(agg/float64(tun), 0.15)
					fl.Bytes = uint64(fl.Bps * 8 / 8)
					fl.SentBytes = fl.Bytes + 65536
					fl.Retransmits = rng.IntN(400)
					if failed && i == 7 {
						fl.Bps, fl.Bytes, fl.Attempts = 0, 0, 2
						fl.Error = "iperf3 pair t7-f0: control socket closed: connection reset by peer"
					}
					rep.AggregateBps += fl.Bps
					rep.Flows = append(rep.Flows, fl)
				}
				if failed {
					rep.Error = "1 of 8 flows failed: iperf3 pair t7-f0: control socket closed: connection reset by peer"
				}
				p.Repetitions = append(p.Repetitions, rep)
			}
			p.Resummarize()
			r.Points = append(r.Points, p)
		}
	}
	return t
}

// writeTraces writes the cpu.csv traces of the fixture's repetitions.
func writeTraces(f *results.Folder) error {
	traces := []struct {
		series string
		tun    int
		rep    int
		shape  string
	}{
		{"kernel", 8, 0, "blackhole"},
		{"kernel", 8, 1, "blackhole"},
		{"kernel", 8, 2, "blackhole"},
		{"kernel", 1, 0, "single"},
		{"kernel", 2, 0, "spread"},
		{"kernel-threaded", 1, 0, "balanced"},
		{"kernel-threaded", 8, 0, "balanced"},
		{"kernel-threaded", 8, 1, "balanced"},
	}
	for _, tr := range traces {
		d, err := f.MkdirAll(results.RawDir(tr.series, tr.tun, 1, tr.rep))
		if err != nil {
			return err
		}
		if err := writeCPU(filepath.Join(d, "cpu.csv"), tr.shape, tr.tun); err != nil {
			return err
		}
	}
	return nil
}

// load is one core's share of time in one sample.
type load struct{ user, system, softirq, irq float64 }

// shape returns the load of a core at time t (seconds) on host.
func shape(kind, host string, core, tunnels int, t float64) load {
	n := func(v float64) float64 { return math.Max(0, jitter(v, 0.25)) }
	switch {
	case kind == "blackhole" && host == "gw2":
		// Cores 1-8 receive the 8 tunnels (~40 %), every core decrypts
		// (10-20 %); from t≈2.5 s all NAPI polls gather on core 5.
		l := load{user: n(1), system: n(9), softirq: n(4), irq: n(0.3)}
		if core >= 1 && core <= 8 {
			l = load{user: n(2), system: n(12), softirq: n(22), irq: n(0.5)}
		}
		if core == 5 {
			ramp := math.Min(1, math.Max(0, (t-2.0)/1.5))
			si := 22 + ramp*(93-22)
			l = load{user: 0.5, system: 5 * (1 - ramp*0.4), softirq: math.Min(si+rng.Float64()*2, 96), irq: 0.5}
		}
		return l
	case kind == "spread" && host == "gw2":
		// One receiving core per tunnel, no black hole (yet).
		if core >= 1 && core <= tunnels {
			return load{user: n(2), system: n(12), softirq: n(24), irq: n(0.5)}
		}
		return load{user: n(1), system: n(9), softirq: n(3), irq: n(0.3)}
	case kind == "single" && host == "gw2":
		l := load{user: n(1), system: n(14), softirq: n(3), irq: n(0.3)}
		if core == 0 && t > 1 {
			l = load{user: 0.5, system: 6, softirq: 91 + rng.Float64()*2.5, irq: 0.4}
		}
		return l
	case kind == "balanced" && host == "gw2":
		return load{user: n(2), system: n(38), softirq: n(18), irq: n(0.5)}
	}
	// gw1 encrypts: moderate, even load.
	return load{user: n(3), system: n(24), softirq: n(12), irq: n(0.4)}
}

// writeCPU writes a cpu.csv for both gateways in the layout of
// probes.WriteCPUCSV.
func writeCPU(path, kind string, tunnels int) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	for i, host := range []string{"gw1", "gw2"} {
		tr := &probes.Trace{Header: probes.Header{Version: probes.TraceVersion, Host: host, IntervalSeconds: 0.5, CPUs: cores}}
		for k := 1; k <= 20; k++ {
			ts := float64(k) * 0.5
			s := probes.Sample{T: ts, DT: 0.5}
			for c := range cores {
				l := shape(kind, host, c, tunnels, ts)
				busy := math.Min(100, l.user+l.system+l.softirq+l.irq)
				s.Cores = append(s.Cores, probes.CoreSample{Core: c,
					User: round2(l.user), System: round2(l.system), SoftIRQ: round2(l.softirq), IRQ: round2(l.irq),
					Idle: round2(100 - busy), Busy: round2(busy),
					NetRX: uint64(l.softirq * 40), NetTX: uint64(l.softirq * 3)})
			}
			tr.Samples = append(tr.Samples, s)
		}
		var buf bytes.Buffer
		if err := probes.WriteCPUCSV(&buf, host, tr); err != nil {
			return err
		}
		data := buf.Bytes()
		if i > 0 { // one header line for the whole file
			data = data[bytes.IndexByte(data, '\n')+1:]
		}
		if _, err := fh.Write(data); err != nil {
			return err
		}
	}
	return fh.Close()
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
