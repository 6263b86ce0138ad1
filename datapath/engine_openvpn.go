package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wgbench/wgbench/datapath/openvpn"
)

func init() {
	register("openvpn", engineDef{check: checkOpenVPN, plan: planOpenVPN, udpPorts: true, start: startOpenVPN, status: statusOpenVPN, baseline: true})
}

// checkOpenVPN needs the openvpn executable and TUN.
func checkOpenVPN() error {
	if _, err := exec.LookPath(openvpn.Binary); err != nil {
		return fmt.Errorf("the openvpn datapath needs the openvpn executable: %v (install it: apt-get install openvpn)", err)
	}
	return needTUN("openvpn")()
}

// planOpenVPN runs one `datapath up --engine openvpn` per gateway, which
// starts one openvpn process per tunnel: GW1 the TLS client, GW2 the
// server, each end with a fresh self-signed certificate that accepts only
// the other end's. Pinned, tunnel t's process runs on core t of the
// series' cpus (else the gateway's), round-robin, as wggo's.
func planOpenVPN(req Request) (Deployment, error) {
	var d Deployment
	var paths [2][]string
	cpus := []int(req.Tuning.CPUs.Set())
	if len(cpus) == 0 {
		cpus = req.CPUs
	}
	for i, t := range req.Tunnels {
		var ends [2]*openvpn.Tunnel
		var ids [2]openvpn.Identity
		for gw := range 2 {
			id, err := openvpn.NewIdentity(fmt.Sprintf("%s-gw%d", t.Device, gw+1))
			if err != nil {
				return Deployment{}, fmt.Errorf("tunnel %s: %w", t.Device, err)
			}
			if req.Secret != nil {
				req.Secret(id.KeyDER)
				req.Secret([]byte(id.Key))
			}
			ids[gw] = id
		}
		for gw := range 2 {
			other := 1 - gw
			ends[gw] = &openvpn.Tunnel{Device: t.Device,
				Local:  netip.AddrPortFrom(req.Gateways[gw].WAN, uint16(t.Port)),
				Remote: netip.AddrPortFrom(req.Gateways[other].WAN, uint16(t.Port)),
				Route:  t.Behind[other], Cipher: req.Tuning.Cipher, Server: gw == GW2,
				Cert: ids[gw].Cert, Key: ids[gw].Key, PeerFingerprint: ids[other].Fingerprint}
			if req.Tuning.Pin && len(cpus) > 0 {
				c := cpus[i%len(cpus)]
				ends[gw].CPU = &c
			}
			path, err := d.addSpec(req, gw, t.Device, ".openvpn.json", ends[gw])
			if err != nil {
				return Deployment{}, err
			}
			paths[gw] = append(paths[gw], path)
		}
		d.Devices = append(d.Devices, t.Device)
	}
	d.Processes = onEach("openvpn", func(gw int) []string { return configArgs(paths[gw]) })
	return d, nil
}

func startOpenVPN(ctx context.Context, opts Options, log *slog.Logger) (engine, error) {
	if len(opts.Routes) > 0 {
		return nil, errors.New("datapath openvpn takes no DST=VIA routes; each tunnel file names its route")
	}
	if len(opts.Configs) == 0 {
		return nil, errors.New("datapath openvpn needs at least one tunnel file (--config), one per tunnel")
	}
	tunnels, err := loadEach("openvpn", opts.Configs, openvpn.Load)
	if err != nil {
		return nil, err
	}
	// The keys' private folders go beside the tunnel files: in the run's
	// private temp folder, which the testbed removes even if this process
	// is killed.
	return openvpn.Up(ctx, tunnels, filepath.Dir(opts.Configs[0]), opts.CPUs, log)
}

// statusOpenVPN reads each tunnel's state and counters from its
// management interface. RxBytes and TxBytes are UDP bytes, as
// WireGuard's counters; LastHandshake is when the TLS session came up.
func statusOpenVPN(names []string) ([]TunnelStatus, error) {
	out := make([]TunnelStatus, 0, len(names))
	for _, n := range names {
		st, err := openvpn.ReadStats(n)
		if err != nil {
			return nil, fmt.Errorf("openvpn status: %w", err)
		}
		p := PeerStatus{RxBytes: st.UDPRead, TxBytes: st.UDPWrite}
		if st.Connected {
			p.LastHandshake = st.Since
			if p.LastHandshake.IsZero() {
				p.LastHandshake = time.Now()
			}
		}
		if ap, err := netip.ParseAddrPort(st.Remote); err == nil {
			p.Endpoint = ap
		}
		out = append(out, TunnelStatus{Name: n, Type: "openvpn", Peers: []PeerStatus{p}})
	}
	return out, nil
}
