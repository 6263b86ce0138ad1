package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/tuner"
)

// verifyFile is the verification report written into the verify run's
// folder.
const verifyFile = "verify.json"

func newTuneCmd() *cobra.Command {
	var (
		factFiles []string
		root      string
		format    string
		base      string
		verify    string
		sets      []string
		out       string
		runsDir   string
	)
	cmd := &cobra.Command{
		Use:   "tune [RUNDIR]",
		Short: "Suggest tunings from host facts and a run, with commands, and verify them by measurement",
		Long: `tune checks a gateway against the papers' findings and prints one line per
check: "OK  <fact>", "Info: <fact>" (could not tell) or "Warning: <fact> >>>
<advice>", warnings ranked, each with its evidence (host facts and numbers
measured in RUNDIR), the expected effect and its source, the commands that
apply and undo it, and the scenario change that verifies it.

Facts come from RUNDIR (the gateways' facts the run saved), from --facts
files (wgbench facts > FILE, on each gateway) or --root (a snapshot taken
with wgbench facts snapshot); with none of them, from this host.

Formats: text; json; script, a shell script to review that applies the
changes and undoes them (wgbench never runs it); scenario, the run's
scenario (or --scenario) with one extra series per suggestion that a
scenario knob expresses, named <baseline>.<suggestion>.

--verify SCENARIO runs the scenario's baseline series and one variant per
suggestion back to back (variants already in the file are kept), then
compares every variant with its baseline point by point: mean ± 95 % CI
and whether the difference is beyond the repetitions' spread. Variants a
host cannot run (no WireGuard module, say) are reported as not measured.`,
		Example: `  # this host's facts only
  wgbench tune
  # a run, with the gateways' facts it saved
  wgbench tune runs/20261121-223000-multi-tunnel
  # a reviewed script, and a scenario that verifies the suggestions
  wgbench tune runs/… --format script > tune.sh
  wgbench tune runs/… --format scenario > tuned.yaml
  # measure baseline against the tuned variants (needs root)
  sudo wgbench tune --verify tuned.yaml
  # facts of another machine
  wgbench tune --root /tmp/gw2-snapshot
  wgbench tune runs/… --facts gw2=gw2-facts.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("tune takes at most one run folder, got %d arguments", len(args))}
			}
			switch format {
			case "text", "json", "script", "scenario":
			default:
				return usageError{fmt.Errorf("--format %q: want text, json, script or scenario", format)}
			}
			if verify != "" && (format == "script" || format == "scenario") {
				return usageError{fmt.Errorf("--verify reports as text or json, not %s", format)}
			}
			if verify == "" && (len(sets) > 0 || out != "") {
				return usageError{errors.New("--set and --out go with --verify SCENARIO")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in, err := tuneInputs(ctx, args, factFiles, root)
			if err != nil {
				return err
			}
			rep := tuner.Analyze(in.hosts, in.run)
			w := cmd.OutOrStdout()
			if verify != "" {
				return runVerify(ctx, w, verifyOptions{file: verify, sets: sets, out: out, runsDir: runsDir, format: format}, rep, "")
			}
			switch format {
			case "json":
				return rep.WriteJSON(w)
			case "script":
				return rep.WriteScript(w, in.header)
			case "scenario":
				sc := (*scenarios.Scenario)(nil)
				if in.run != nil {
					sc = &in.run.Scenario
				}
				if base != "" {
					if sc, err = scenarios.Load(base, nil); err != nil {
						return err
					}
				}
				if sc == nil {
					return usageError{errors.New("--format scenario tunes a scenario: give a run folder or --scenario FILE")}
				}
				t, err := tuner.TunedScenario(sc, rep.Suggestions)
				if err != nil {
					return err
				}
				y, err := t.YAML()
				if err != nil {
					return err
				}
				_, err = w.Write(y)
				return err
			}
			var buf bytes.Buffer
			if err := rep.WriteText(&buf, in.header); err != nil {
				return err
			}
			_, err = w.Write(groupTuneLines(buf.Bytes()))
			return err
		},
	}
	cmd.Flags().StringArrayVar(&factFiles, "facts", nil, "facts written by wgbench facts, as `[ROLE=]FILE` (ROLE gw1 or gw2; repeatable)")
	cmd.Flags().StringVar(&root, "root", "", "read the facts from a snapshot `DIR` (sys/, proc/ below it) instead of this host")
	cmd.Flags().StringVarP(&format, "format", "f", "text", "output: text, json, script or scenario")
	cmd.Flags().StringVar(&base, "scenario", "", "with --format scenario: the scenario `FILE` to tune (default the run's)")
	cmd.Flags().StringVar(&verify, "verify", "", "run the baselines and tuned variants of `SCENARIO` back to back and compare them")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "with --verify: override a scenario value (repeatable)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "with --verify: run folder `DIR` to create (default runs/<time>-<scenario>-verify)")
	cmd.Flags().StringVar(&runsDir, "runs-dir", "runs", "with --verify: where default run folders are created")
	cmd.MarkFlagsMutuallyExclusive("facts", "root")
	return cmd
}

// tuneInput is what tune analyses.
type tuneInput struct {
	hosts  tuner.Hosts
	run    *results.Run
	header []string
}

// tuneInputs gathers the run and the facts tune reads.
func tuneInputs(ctx context.Context, args, factFiles []string, root string) (*tuneInput, error) {
	in := &tuneInput{hosts: tuner.Hosts{}}
	if len(args) == 1 {
		run, hosts, err := tuner.LoadRun(args[0])
		if err != nil {
			return nil, err
		}
		in.run, in.hosts = run, hosts
		in.header = append(in.header, fmt.Sprintf("run folder %s: scenario %s (%s), %d point(s), testbed %s", args[0], run.Scenario.Name, run.Status, len(run.Points), run.Testbed.Driver))
		for _, role := range []string{"gw1", "gw2"} {
			if h := hosts[role]; h != nil {
				in.header = append(in.header, fmt.Sprintf("facts of %s: %s (%s)", role, h.Hostname, h.Source))
			}
		}
	}
	for _, spec := range factFiles {
		role, file, ok := strings.Cut(spec, "=")
		if !ok {
			role, file = tuner.AnyHost, spec
		}
		if role != "gw1" && role != "gw2" && role != tuner.AnyHost {
			return nil, usageError{fmt.Errorf("--facts %s: the role is gw1 or gw2 (ROLE=FILE), or leave it out", spec)}
		}
		h, err := tuner.ReadFactsFile(file)
		if err != nil {
			return nil, err
		}
		in.hosts[role] = h
		in.header = append(in.header, fmt.Sprintf("facts of %s: %s (%s)", role, h.Hostname, file))
	}
	if root != "" {
		h, err := facts.Read(ctx, root)
		if err != nil {
			return nil, err
		}
		in.hosts[tuner.AnyHost] = h
		in.header = append(in.header, fmt.Sprintf("facts of %s: %s", h.Hostname, h.Source))
	}
	if len(factFiles) == 0 && root == "" {
		live := len(args) == 0
		if in.run != nil && in.run.Testbed.Driver == "local" {
			// The local testbed's gateways are namespaces of the machine
			// that ran it: its CPUs, governor and idle states are theirs.
			name, _ := os.Hostname()
			live = in.run.Hosts["controller"].Hostname == name
		}
		if live {
			h := facts.Collect(ctx)
			in.hosts[tuner.AnyHost] = h
			in.header = append(in.header, fmt.Sprintf("facts of this host %s (live)", h.Hostname))
		}
	}
	return in, nil
}

// verifyOptions configure a verification run.
type verifyOptions struct {
	file    string
	sets    []string
	out     string
	runsDir string
	format  string
}

// runVerify runs the tuned scenario and reports the A/B comparison.
// binary is the wgbench executable for on-host verbs ("" for this one).
func runVerify(ctx context.Context, w io.Writer, o verifyOptions, rep *tuner.Report, binary string) error {
	sc, err := scenarios.Load(o.file, o.sets)
	if err != nil {
		return err
	}
	t, err := tuner.TunedScenario(sc, rep.Suggestions)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wgbench tune --verify %s: %d baseline series, %d variant(s)\n", o.file, len(t.Scenario.Series)-len(t.Variants), len(t.Variants))
	for _, v := range t.Variants {
		fmt.Fprintf(w, "  %s verifies %s on %s (%s)\n", v.Series, v.Suggestion, v.Baseline, strings.Join(v.Knobs, ", "))
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(t.Variants) == 0 && !hasSplitPair(t.Scenario) {
		fmt.Fprintln(w, "nothing to verify: no suggestion maps to a knob of this scenario's series, and it has no variant series (<baseline>.<label>) of its own")
		return nil
	}
	out := o.out
	if out == "" {
		out = results.DefaultDir(o.runsDir, sc.Name+"-verify", time.Now())
	}
	fmt.Fprintf(w, "running %s → %s\n", o.file, out)
	prog := progress.New(w, w == os.Stdout && progress.IsTerminal(os.Stdout))
	run, runErr := runner.Run(ctx, runner.Options{Scenario: t.Scenario, ScenarioFile: o.file, Overrides: o.sets, Dir: out, Binary: binary, Progress: prog})
	prog.Close()
	if run == nil || len(run.Series) == 0 {
		if runErr == nil {
			runErr = errors.New("the verification run measured nothing")
		}
		return fmt.Errorf("verify: %w", runErr)
	}
	if runErr != nil && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: %s keeps what was measured", errInterrupted, out)
	}
	vr := tuner.Compare(run, rep.Suggestions)
	if b, err := json.MarshalIndent(vr, "", "  "); err == nil {
		if err := os.WriteFile(filepath.Join(out, verifyFile), append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(w, "warning: %v\n", err)
		}
	}
	fmt.Fprintln(w)
	if o.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(vr)
	}
	if err := vr.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nresults: %s (%s); comparison saved as %s\n", out, run.Status, filepath.Join(out, verifyFile))
	return nil
}

// hasSplitPair reports whether the sweep has 1 tunnel × k flows and k
// tunnels × 1 flow for some k > 1.
func hasSplitPair(sc *scenarios.Scenario) bool {
	has := func(l []int, v int) bool {
		for _, x := range l {
			if x == v {
				return true
			}
		}
		return false
	}
	for _, k := range sc.Sweep.Flows {
		if k > 1 && has(sc.Sweep.Tunnels, 1) && has(sc.Sweep.Tunnels, k) && has(sc.Sweep.Flows, 1) {
			return true
		}
	}
	return false
}

func newFactsCmd() *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:   "facts",
		Short: "Print this host's facts (CPUs, NUMA, NICs, IRQs, offloads, WireGuard, sysctls) as JSON",
		Long: `facts prints what the tuner knows about a host: CPUs, sockets, NUMA nodes
and hyper-threads; frequency governor and idle states; every link's driver,
NUMA node, queues, IRQs and their affinity, RPS/XPS masks, offloads, RSS and
ntuple rules; MTUs; WireGuard devices (threaded NAPI, the patched module's
inline attributes); irqbalance; sysctls. What cannot be read is said so.

"underlay" names the tunnels' NIC and why: the link of the route to the
WireGuard peers' endpoints (wgctrl, then a netlink route lookup; in a
snapshot, proc/net/route and the endpoints it recorded); with no endpoint
known, the fastest physical port that is up; then the default route's.

--root reads a snapshot (sys/ and proc/ below DIR) instead of this host;
"facts snapshot OUT" writes one, to analyse this host anywhere.`,
		Example: `  wgbench facts > gw2-facts.json
  wgbench facts snapshot /tmp/gw2-snapshot && tar czf gw2.tgz -C /tmp gw2-snapshot
  wgbench facts --root /tmp/gw2-snapshot`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h *facts.Host
			if root != "" {
				var err error
				if h, err = facts.Read(cmd.Context(), root); err != nil {
					return err
				}
			} else {
				h = facts.Collect(cmd.Context())
			}
			return writeJSON(cmd, h)
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "read the facts below `DIR` (a snapshot) instead of /")
	cmd.AddCommand(&cobra.Command{
		Use:   "snapshot OUT",
		Short: "Copy the files the facts come from into OUT, to analyse this host elsewhere",
		Long: `snapshot reads this host's facts and copies every file they come from into
OUT (a new or empty directory), with what only ethtool tells (offloads, RSS
indirection, UDP hash fields, ntuple rules) under OUT/wgbench/ethtool/ in
ethtool's text formats. Only the processes the facts look at (irqbalance,
NAPI threads) and the idle/isolation kernel parameters are kept.`,
		Example: "  sudo wgbench facts snapshot /tmp/gw2-snapshot",
		Args:    exactArgs(1, "name the directory to write, e.g. /tmp/gw2-snapshot"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := facts.Snapshot(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot of %s (%d CPUs, %d links) written to %s\n", h.Hostname, h.Cores, len(h.Links), args[0])
			if u := h.Underlay; u != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "the tunnels' NIC: %s, chosen by %s\n", u.Link, u.Reason)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "read it with: wgbench facts --root %s, wgbench tune --root %s\n", args[0], args[0])
			return nil
		},
	})
	return cmd
}
