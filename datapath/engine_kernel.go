package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/wgbench/wgbench/datapath/kernel"
)

func init() {
	register("kernel", engineDef{check: probeKernelWireGuard, plan: planKernel, udpPorts: true, start: startKernel})
}

// planKernel runs one kernel process per gateway for all tunnels, with
// the kernel knobs that gateway runs (the series' shared knobs and its
// gw block) as flags, and a journal of its changes.
func planKernel(req Request) (Deployment, error) {
	d, paths, err := wireGuardTunnels(req)
	if err != nil {
		return Deployment{}, err
	}
	d.Processes = onEach("kernel", func(gw int) []string {
		args := append(configArgs(paths[gw]), KernelArgs(req.GatewayTuning(gw))...)
		return append(args, "--journal", kernelJournal(req.Gateways[gw]))
	})
	for i := range d.Processes {
		d.Processes[i].Journal = kernelJournal(req.Gateways[d.Processes[i].Gateway])
	}
	return d, nil
}

// kernelJournal is where the kernel datapath on gw keeps its journal.
func kernelJournal(gw Gateway) string {
	return filepath.Join(gw.TempDir, "datapath-kernel.journal")
}

func startKernel(ctx context.Context, opts Options, log *slog.Logger) (engine, error) {
	if len(opts.CPUs) > 0 {
		return nil, errors.New("datapath kernel takes no --cpus: its work runs in kernel threads; place them with --napi-cpus (and the patched module's --encrypt-cpus/--decrypt-cpus)")
	}
	tuning, err := opts.Kernel.Tuning()
	if err != nil {
		return nil, fmt.Errorf("datapath kernel: %w", err)
	}
	cfgs, err := loadConfigs("kernel", opts)
	if err != nil {
		return nil, err
	}
	e, err := kernel.Up(ctx, cfgs, tuning, log)
	if err != nil {
		return nil, err
	}
	return e, nil
}
