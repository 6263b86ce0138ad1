// Package probes samples what a gateway's CPUs do while traffic runs: per
// core the share of user, system, softirq, irq, iowait, steal and idle time
// and the NET_RX/NET_TX softirq counts, and per thread the CPU it used, the
// core it last ran on and the pipeline stage it works for (package stage).
//
// A Sampler runs on the host it describes (the `wgbench agent sample` verb)
// and streams a Trace as JSON lines: a header line, then one line per
// sample. A stream cut short by a kill keeps every complete line; ReadTrace
// reads it back and ignores a truncated last line. WriteCPUCSV and
// WriteStagesCSV export a trace for plots and spreadsheets, and package
// blackhole looks for saturated cores in it.
//
// On the local testbed several hosts share one machine's cores: every
// host's trace then shows the same, machine-wide per-core figures, and only
// the thread rows tell the hosts apart (Header.SharedCores, and
// ThreadSample.Shared for kernel threads, which every namespace sees).
//
// The on-host verb runs a Sampler until it is told to stop:
//
//	s, err := probes.NewSampler(probes.Options{Host: "gw2", Devices: tunnels})
//	...
//	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	err = s.Run(ctx, probes.DefaultInterval, file) // nil when ctx ends
//
// and the controller reads the file back with ReadTrace.
package probes
