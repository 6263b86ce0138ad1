package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/wgbench/wgbench/datapath/ipsec"
)

func init() {
	register("ipsec", engineDef{check: ipsec.Check, plan: planIPsec, start: startIPsec, status: statusIPsec, baseline: true})
}

// planIPsec runs one `datapath up --engine ipsec` per gateway, which
// installs every tunnel's SAs, policies and route with a journal of
// them. Each tunnel gets fresh random keys and SPIs.
func planIPsec(req Request) (Deployment, error) {
	var d Deployment
	var paths [2][]string
	for i, t := range req.Tunnels {
		a, b, err := ipsec.NewPair(t.Device, i+1, req.Gateways[GW1].WAN, req.Gateways[GW2].WAN, t.Behind[GW1], t.Behind[GW2], req.Tuning.Cipher)
		if err != nil {
			return Deployment{}, fmt.Errorf("tunnel %s: %w", t.Device, err)
		}
		if req.Secret != nil {
			req.Secret(a.Out.Key)
			req.Secret(a.In.Key)
		}
		for gw, end := range []*ipsec.Tunnel{a, b} {
			path, err := d.addSpec(req, gw, t.Device, ".ipsec.json", end)
			if err != nil {
				return Deployment{}, err
			}
			paths[gw] = append(paths[gw], path)
		}
		d.Devices = append(d.Devices, t.Device)
	}
	d.Processes = onEach("ipsec", func(gw int) []string {
		return append(configArgs(paths[gw]), "--journal", ipsecJournal(req.Gateways[gw]))
	})
	for i := range d.Processes {
		d.Processes[i].Journal = ipsecJournal(req.Gateways[d.Processes[i].Gateway])
	}
	return d, nil
}

// ipsecJournal is where the ipsec datapath on gw keeps its journal.
func ipsecJournal(gw Gateway) string { return filepath.Join(gw.TempDir, "datapath-ipsec.journal") }

func startIPsec(_ context.Context, opts Options, log *slog.Logger) (engine, error) {
	if len(opts.Routes) > 0 || len(opts.CPUs) > 0 {
		return nil, errors.New("datapath ipsec takes no DST=VIA routes and no --cpus: each tunnel file names its route, and ESP runs in the kernel's softirqs")
	}
	if len(opts.Configs) == 0 {
		return nil, errors.New("datapath ipsec needs at least one tunnel file (--config), one per tunnel")
	}
	if opts.Kernel.Journal == "" {
		return nil, errors.New("datapath ipsec needs --journal PATH: it records the SAs and policies there so that `wgbench agent undo` removes them should it be killed")
	}
	tunnels, err := loadEach("ipsec", opts.Configs, ipsec.Load)
	if err != nil {
		return nil, err
	}
	return ipsec.Up(tunnels, opts.Kernel.Journal, log)
}

// statusIPsec reads each tunnel's SA counters. RxBytes and TxBytes are
// the inner bytes the SAs decrypted and encrypted (xfrm counts those,
// not the ESP packets'); LastHandshake is when the SAs were installed.
func statusIPsec(names []string) ([]TunnelStatus, error) {
	out := make([]TunnelStatus, 0, len(names))
	for _, n := range names {
		st, err := ipsec.ReadStats(n)
		if err != nil {
			return nil, fmt.Errorf("ipsec status: %w", err)
		}
		out = append(out, TunnelStatus{Name: n, Type: "ipsec", Peers: []PeerStatus{{
			LastHandshake: st.Added, RxBytes: int64(st.InBytes), TxBytes: int64(st.OutBytes)}}})
	}
	return out, nil
}
