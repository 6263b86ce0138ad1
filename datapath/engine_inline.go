package datapath

import (
	"context"
	"log/slog"

	"github.com/wgbench/wgbench/datapath/inline"
)

func init() {
	register("inline", engineDef{check: needTUN("inline"), plan: planInline, udpPorts: true, start: startInline})
}

// planInline runs one inline process per gateway for all tunnels, on the
// cpus that gateway's tuning has, if any (else the engine picks from its
// affinity).
func planInline(req Request) (Deployment, error) {
	d, paths, err := wireGuardTunnels(req)
	if err != nil {
		return Deployment{}, err
	}
	d.Processes = onEach("inline", func(gw int) []string {
		args := configArgs(paths[gw])
		if cpus := req.GatewayTuning(gw).CPUs; len(cpus) > 0 {
			args = append(args, "--cpus", cpus.String())
		}
		return args
	})
	return d, nil
}

func startInline(ctx context.Context, opts Options, log *slog.Logger) (engine, error) {
	cfgs, err := loadConfigs("inline", opts)
	if err != nil {
		return nil, err
	}
	return inline.Up(ctx, cfgs, inline.Options{Log: log, CPUs: opts.CPUs})
}
