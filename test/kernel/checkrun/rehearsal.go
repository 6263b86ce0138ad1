package main

import (
	"fmt"
	"strings"

	"github.com/wgbench/wgbench/results"
)

// patchedReason is what the kernel datapath says of a knob that needs the
// papers' patched module (datapath/kernel.ErrNeedsPatchedModule).
const patchedReason = "needs the patched inline module"

// rehearsal checks a run folder of `make rehearse`: the run completed and
// every series was measured at every point, with traffic. A series may
// only be left out for a knob that needs the papers' patched module, and
// that is said. It returns the problems and one line per series.
func rehearsal(dir string) (problems, summary []string, err error) {
	_, run, err := results.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if run.Status != results.StatusComplete {
		problems = append(problems, fmt.Sprintf("run status %q (%s), want %q", run.Status, run.Error, results.StatusComplete))
	}
	for _, s := range run.Series {
		if s.Skipped != "" {
			if strings.Contains(s.Skipped, patchedReason) {
				summary = append(summary, fmt.Sprintf("series %s: SKIP: needs the papers' patched module: %s", s.Name, s.Skipped))
			} else {
				problems = append(problems, fmt.Sprintf("series %s skipped: %s", s.Name, s.Skipped))
			}
			continue
		}
		measured, patched, points := 0, 0, 0
		var why []string
		for _, p := range run.Points {
			if p.Series != s.Name {
				continue
			}
			points++
			label := fmt.Sprintf("series %s, %d tunnel(s) × %d flow(s)", s.Name, p.Tunnels, p.FlowsPerTunnel)
			var bad []string
			if !p.Complete || len(p.Repetitions) == 0 {
				bad = append(bad, fmt.Sprintf("not measured (notes %q)", p.Notes))
			}
			for _, r := range p.Repetitions {
				switch {
				case !r.OK():
					bad = append(bad, fmt.Sprintf("repetition %d failed: %s", r.Index, r.Error))
				case r.AggregateBps <= 0:
					bad = append(bad, fmt.Sprintf("repetition %d carried no traffic", r.Index))
				}
			}
			switch {
			case len(bad) == 0:
				measured++
			case strings.Contains(strings.Join(append(bad, p.Notes...), " "), patchedReason):
				patched++
				why = append(why, strings.Join(bad, "; "))
			default:
				problems = append(problems, label+": "+strings.Join(bad, "; "))
			}
		}
		switch {
		case points == 0:
			problems = append(problems, fmt.Sprintf("series %s has no points in run.json", s.Name))
		case patched == points:
			summary = append(summary, fmt.Sprintf("series %s: SKIP: needs the papers' patched module: %s", s.Name, why[0]))
		case patched > 0:
			problems = append(problems, fmt.Sprintf("series %s: %d of %d points failed for the patched module only: %s", s.Name, patched, points, why[0]))
		default:
			summary = append(summary, fmt.Sprintf("series %s: %d/%d points measured", s.Name, measured, points))
		}
	}
	if len(run.Series) == 0 {
		problems = append(problems, "no series in run.json")
	}
	return problems, summary, nil
}
