package datapath

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wgbench/wgbench/datapath/inline"
)

func init() {
	register("inline", engineDef{check: needTUN("inline"), plan: planInline, udpPorts: true, start: startInline, status: statusInline})
}

// statusInline reads the tunnels as WireGuard devices (Status) and adds
// each one's mode and mode changes from its UAPI socket.
func statusInline(names []string) ([]TunnelStatus, error) {
	st, err := Status(names)
	if err != nil {
		return nil, err
	}
	for i := range st {
		m, err := inline.ReadModeStatus(st[i].Name)
		if err != nil {
			return nil, fmt.Errorf("inline status: %w", err)
		}
		st[i].Mode = &m
	}
	return st, nil
}

// planInline runs one inline process per gateway for all tunnels, on the
// cpus that gateway's tuning has, if any (else the engine picks from its
// affinity), in the series' mode.
func planInline(req Request) (Deployment, error) {
	d, paths, err := wireGuardTunnels(req)
	if err != nil {
		return Deployment{}, err
	}
	d.Processes = onEach("inline", func(gw int) []string {
		args := configArgs(paths[gw])
		tu := req.GatewayTuning(gw)
		if cpus := tu.CPUs; len(cpus) > 0 {
			args = append(args, "--cpus", cpus.String())
		}
		if tu.Mode != "" && tu.Mode != string(inline.ModeInline) {
			args = append(args, "--mode", tu.Mode)
		}
		return args
	})
	return d, nil
}

func startInline(ctx context.Context, opts Options, log *slog.Logger) (engine, error) {
	mode, err := inline.ParseMode(opts.InlineMode)
	if err != nil {
		return nil, fmt.Errorf("datapath inline: --mode: %w", err)
	}
	cfgs, err := loadConfigs("inline", opts)
	if err != nil {
		return nil, err
	}
	return inline.Up(ctx, cfgs, inline.Options{Log: log, CPUs: opts.CPUs, Mode: mode})
}
