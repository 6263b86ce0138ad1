// Command checkrun checks the run folder that `make test-kernel` copies out
// of its QEMU guest: the run completed, and every named series was
// measured (not skipped, every point complete, every repetition
// successful with traffic through the tunnels). Throughput under TCG
// emulation means nothing, so only "some traffic" is checked. A series
// written NAME:KNOB,KNOB must also have changed those knobs on both
// gateways at every point (run.json's knobs).
//
// With -rehearsal it checks a run folder of `make rehearse` instead: every
// series measured at every point, but for series left out because a knob
// needs the papers' patched module, which it says; and facts-gw1.json and
// facts-gw2.json show each gateway's WAN link as the data port on NUMA
// node 1.
//
//	go run ./test/kernel/checkrun RUNDIR SERIES[:KNOB,...]...
//	go run ./test/kernel/checkrun -rehearsal RUNDIR
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/wgbench/wgbench/results"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: checkrun RUNDIR SERIES...")
		os.Exit(2)
	}
	var problems, summary []string
	var err error
	if os.Args[1] == "-rehearsal" {
		problems, summary, err = rehearsal(os.Args[2])
		if err == nil {
			p, s := rehearsalFacts(os.Args[2])
			problems, summary = append(problems, p...), append(summary, s...)
		}
	} else {
		problems, summary, err = check(os.Args[1], os.Args[2:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkrun:", err)
		os.Exit(1)
	}
	for _, s := range summary {
		fmt.Println("checkrun:", s)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "checkrun: FAIL:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// check returns what is wrong with the run folder dir for the series
// named want, and a line per measured point.
func check(dir string, want []string) (problems, summary []string, err error) {
	_, run, err := results.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if run.Status != results.StatusComplete {
		problems = append(problems, fmt.Sprintf("run status %q (%s), want %q", run.Status, run.Error, results.StatusComplete))
	}
	for _, spec := range want {
		name, knobList, _ := strings.Cut(spec, ":")
		var knobs []string
		if knobList != "" {
			knobs = strings.Split(knobList, ",")
		}
		for _, s := range run.Series {
			if s.Name == name && s.Skipped != "" {
				problems = append(problems, fmt.Sprintf("series %s skipped: %s", name, s.Skipped))
			}
		}
		points := 0
		for _, p := range run.Points {
			if p.Series != name {
				continue
			}
			points++
			label := fmt.Sprintf("series %s, %d tunnel(s) × %d flow(s)", name, p.Tunnels, p.FlowsPerTunnel)
			for _, n := range p.Notes {
				summary = append(summary, label+": note: "+n)
			}
			for _, k := range knobs {
				for _, host := range []string{"gw1", "gw2"} {
					if !slices.ContainsFunc(p.Knobs, func(c results.KnobChange) bool { return c.Host == host && c.Knob == k }) {
						problems = append(problems, fmt.Sprintf("%s: %s did not change %s (knobs recorded: %d)", label, host, k, len(p.Knobs)))
					}
				}
			}
			for _, c := range p.Knobs {
				summary = append(summary, fmt.Sprintf("%s: %s %s %s: %s → %s", label, c.Host, c.Knob, c.Path, c.Before, c.After))
			}
			if !p.Complete || len(p.Repetitions) == 0 {
				problems = append(problems, fmt.Sprintf("%s: not measured (complete=%t, %d repetitions; notes %q)", label, p.Complete, len(p.Repetitions), p.Notes))
				continue
			}
			for _, r := range p.Repetitions {
				switch {
				case !r.OK():
					problems = append(problems, fmt.Sprintf("%s: repetition %d failed: %s", label, r.Index, r.Error))
				case r.AggregateBps <= 0:
					problems = append(problems, fmt.Sprintf("%s: repetition %d carried no traffic", label, r.Index))
				default:
					summary = append(summary, fmt.Sprintf("%s: repetition %d measured (%.3f Gbit/s under emulation: meaningless as performance)", label, r.Index, r.AggregateBps/1e9))
				}
			}
		}
		if points == 0 {
			problems = append(problems, fmt.Sprintf("series %s has no points in run.json", name))
		}
	}
	return problems, summary, nil
}
