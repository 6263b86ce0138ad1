package datapath

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/wgbench/wgbench/datapath/wggo"
)

func init() {
	register("wggo", engineDef{check: needTUN("wggo"), plan: planWggo, udpPorts: true, start: startWggo})
}

// planWggo runs one wireguard-go process per gateway for all tunnels.
// Pinned, it runs one process per tunnel instead, each on its own core
// (round-robin over that gateway's cpus, else req.CPUs), which
// emulates inline with the vanilla engine.
func planWggo(req Request) (Deployment, error) {
	d, paths, err := wireGuardTunnels(req)
	if err != nil {
		return Deployment{}, err
	}
	if !req.Tuning.Pin {
		d.Processes = onEach("wggo", func(gw int) []string { return configArgs(paths[gw]) })
		return d, nil
	}
	for gw, ps := range paths {
		cpus := []int(req.GatewayTuning(gw).CPUs.Set())
		if len(cpus) == 0 {
			cpus = req.CPUs
		}
		if len(cpus) == 0 {
			d.Processes = append(d.Processes, ProcessSpec{Gateway: gw, Engine: "wggo", Stage: "datapath-wggo", Args: upArgs("wggo", configArgs(ps)...)})
			continue
		}
		for t, p := range ps {
			d.Processes = append(d.Processes, ProcessSpec{Gateway: gw, Engine: "wggo", Stage: "datapath-wggo",
				Args: upArgs("wggo", "--config", p, "--cpus", strconv.Itoa(cpus[t%len(cpus)]))})
		}
	}
	return d, nil
}

func startWggo(ctx context.Context, opts Options, log *slog.Logger) (engine, error) {
	cfgs, err := loadConfigs("wggo", opts)
	if err != nil {
		return nil, err
	}
	if len(opts.CPUs) > 0 {
		if err := pinProcess(opts.CPUs); err != nil {
			return nil, fmt.Errorf("datapath wggo: %w", err)
		}
	}
	return wggo.Up(ctx, cfgs, log)
}
