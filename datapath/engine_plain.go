package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wgbench/wgbench/datapath/plain"
)

func init() {
	register("plain", engineDef{check: func() error { return nil }, plan: planPlain, start: startPlain})
}

// planPlain runs one process per gateway that routes the prefixes behind
// the other gateway to its WAN address: no tunnel at all.
func planPlain(req Request) (Deployment, error) {
	var routes [2][]string
	for _, t := range req.Tunnels {
		routes[GW1] = append(routes[GW1], "--route", fmt.Sprintf("%s=%s", t.Behind[GW2], req.Gateways[GW2].WAN))
		routes[GW2] = append(routes[GW2], "--route", fmt.Sprintf("%s=%s", t.Behind[GW1], req.Gateways[GW1].WAN))
	}
	return Deployment{Processes: onEach("plain", func(gw int) []string { return routes[gw] })}, nil
}

func startPlain(_ context.Context, opts Options, _ *slog.Logger) (engine, error) {
	if len(opts.Configs) > 0 {
		return nil, errors.New("datapath plain takes no WireGuard configs; pass routes as DST=VIA instead")
	}
	routes := make([]plain.Route, 0, len(opts.Routes))
	for _, s := range opts.Routes {
		r, err := plain.ParseRoute(s)
		if err != nil {
			return nil, fmt.Errorf("datapath plain: %w", err)
		}
		routes = append(routes, r)
	}
	return plain.Up(routes)
}
