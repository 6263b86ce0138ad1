package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// sshFlags are run's options for the SSH testbed.
type sshFlags struct {
	inventory string // --testbed
	acceptNew bool   // --accept-new-host-keys
}

// useSSH plugs the SSH testbed driver into opts when --testbed names an
// inventory or the scenario asks for driver ssh (its inventory relative
// to the scenario file). A resumed run takes the scenario recorded in its
// folder. cancel stops the run with the error of a host lost mid-run.
func useSSH(w io.Writer, opts *runner.Options, resumeDir string, f sshFlags, cancel context.CancelCauseFunc) error {
	sc, scFile := opts.Scenario, opts.ScenarioFile
	if resumeDir != "" {
		_, run, err := results.Open(resumeDir)
		if err != nil {
			return err
		}
		sc, scFile = &run.Scenario, run.ScenarioFile
	}
	if sc == nil {
		return nil
	}
	path := f.inventory
	if path == "" {
		if sc.Testbed.Driver != "ssh" {
			return nil
		}
		path = sc.Testbed.Inventory
		if !filepath.IsAbs(path) && scFile != "" {
			path = filepath.Join(filepath.Dir(scFile), path)
		}
	}
	inv, err := sshtb.LoadInventory(path)
	if err != nil {
		return err
	}
	if resumeDir == "" {
		// run.json records the testbed the run used.
		sc.Testbed.Driver, sc.Testbed.Inventory = "ssh", path
	}
	mtu := sc.Testbed.MTU
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if opts.Progress != nil {
		say = opts.Progress.Printf
	}
	opts.SharedCores = false
	opts.Provision = func(ctx context.Context, tunnels, flows int) (runner.Testbed, error) {
		say("provisioning the SSH testbed of %s (%d×%d flow addresses)…", path, tunnels, flows)
		tb, err := sshtb.Provision(ctx, inv, sshtb.Options{
			Tunnels: tunnels, FlowsPerTunnel: flows, MTU: mtu, Binary: opts.Binary,
			AcceptNewHostKeys: f.acceptNew,
			Printf:            say,
			OnLost:            func(err error) { cancel(err) },
		})
		if err != nil {
			return nil, err
		}
		return tb, nil
	}
	return nil
}

// lostHost returns the error of a host lost mid-run, if that is what
// stopped the run in folder dir.
func lostHost(ctx context.Context, dir string) error {
	if err := context.Cause(ctx); errors.Is(err, sshtb.ErrConnectionLost) {
		return fmt.Errorf("%w; the run folder keeps what was measured: fix the host, then `wgbench run --resume %s` goes on from the last complete point", err, dir)
	}
	return nil
}
