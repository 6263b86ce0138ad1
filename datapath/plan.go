package datapath

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath/wgconf"
	"github.com/wgbench/wgbench/scenarios"
)

// The two gateways of a plan, as indexes of Request.Gateways and
// ProcessSpec.Gateway: GW1 is on the source's side and starts the
// handshakes, GW2 on the drain's side only answers.
const (
	GW1 = 0
	GW2 = 1
)

// Request is what Plan needs to bring one series' datapath up between
// two gateways: the engine, its knobs, and the testbed's tunnels.
type Request struct {
	// Engine is the datapath name: one of Engines().
	Engine string
	// Tuning holds the series' knobs, with its gw1 and gw2 blocks; each
	// engine reads those it takes, per gateway through GatewayTuning.
	Tuning scenarios.Tuning
	// Tunnels are the tunnels to carry, index = tunnel.
	Tunnels []Tunnel
	// Gateways are the two ends, indexed by GW1 and GW2.
	Gateways [2]Gateway
	// CPUs are the gateway cores a series that pins without cpus of its
	// own places its tunnels on; nil leaves such a series unpinned.
	CPUs []int
	// NewKey makes a tunnel end's private key; nil means
	// wgtypes.GeneratePrivateKey.
	NewKey func() (wgtypes.Key, error)
	// Secret, when set, is shown every other secret the plan generates
	// (an OpenVPN end's private key, an ESP key), so a test can prove
	// none reaches results or logs.
	Secret func(secret []byte)
	// MTU is the tunnel devices' MTU; 0 means the engine's default.
	MTU int
}

// GatewayTuning returns the knobs gateway gw (GW1 or GW2) runs: the
// shared ones with that gateway's block applied.
func (r Request) GatewayTuning(gw int) scenarios.Tuning {
	return r.Tuning.Gateway(gw + 1)
}

// Tunnel is one tunnel of a Request, as the testbed addresses it.
type Tunnel struct {
	// Device names the tunnel's device on both gateways.
	Device string
	// Port is the tunnel's UDP port on both gateways, for engines that
	// UsesUDPPorts; 0 otherwise.
	Port int
	// Behind are the prefixes behind each gateway (indexed by GW1 and
	// GW2) that this tunnel carries traffic between.
	Behind [2]netip.Prefix
}

// Gateway is what a plan needs to know of one gateway.
type Gateway struct {
	// WAN is the gateway's address on the link between the gateways.
	WAN netip.Addr
	// TempDir is a private folder on the gateway for the plan's files.
	TempDir string
}

// Deployment is a planned datapath: the files to write and the processes
// to start on each gateway. Starting GW2's processes before GW1's lets
// GW1's first handshakes find a listener.
type Deployment struct {
	// Files are written before any process starts.
	Files []File
	// Processes are the long-running datapath processes.
	Processes []ProcessSpec
	// Devices are the tunnel devices the processes bring up, index =
	// tunnel, the same on both gateways; empty when there are none.
	// StatusOf reads their state and counters.
	Devices []string
}

// File is a file a plan writes on a gateway.
type File struct {
	// Gateway is GW1 or GW2.
	Gateway int
	// Path is where the file goes, inside the gateway's TempDir.
	Path string
	// Data is its content. It may hold secrets (private keys): write it
	// with FileMode and never log it.
	Data []byte
}

// FileMode is the mode of every file a plan writes: they may hold keys.
const FileMode os.FileMode = 0o600

// ProcessSpec is one datapath process on a gateway. It prints "tuning
// <JSON>" (optionally) and "ready <devices>" once up, and undoes what it
// did on SIGTERM.
type ProcessSpec struct {
	// Gateway is GW1 or GW2.
	Gateway int
	// Engine names the datapath the process runs, for messages.
	Engine string
	// Args are the arguments of the wgbench executable, starting with
	// "datapath", "up".
	Args []string
	// Stage names the process for CPU attribution.
	Stage string
	// Journal, when set, is where the process journals its changes to the
	// host; should it die without undoing them, `wgbench agent undo
	// --journal PATH` puts the host back.
	Journal string
}

// planner plans one engine's deployment.
type planner func(Request) (Deployment, error)

// Plan says which processes bring req's datapath up on each gateway, with
// what arguments, and which files they read. It changes nothing.
func Plan(req Request) (Deployment, error) {
	e, ok := engines[req.Engine]
	if !ok || e.plan == nil {
		return Deployment{}, fmt.Errorf("datapath %q cannot be deployed", req.Engine)
	}
	return e.plan(req)
}

// UsesUDPPorts reports whether engine listens on one UDP port per tunnel,
// which the caller picks (free on both gateways) before calling Plan.
func UsesUDPPorts(engine string) bool {
	e, ok := engines[engine]
	return ok && e.udpPorts
}

// upArgs starts the arguments of `wgbench datapath up` for engine.
func upArgs(engine string, args ...string) []string {
	return append([]string{"datapath", "up", "--engine", engine}, args...)
}

// onEach returns one process per gateway running `datapath up --engine
// engine` with the arguments args returns for that gateway.
func onEach(engine string, args func(gw int) []string) []ProcessSpec {
	var procs []ProcessSpec
	for gw := range 2 {
		procs = append(procs, ProcessSpec{Gateway: gw, Engine: engine, Args: upArgs(engine, args(gw)...), Stage: "datapath-" + engine})
	}
	return procs
}

// wireGuardTunnels writes one wg-quick file per tunnel and gateway, with
// fresh keys, and returns them with each gateway's file paths, index =
// tunnel.
func wireGuardTunnels(req Request) (d Deployment, paths [2][]string, err error) {
	newKey := req.NewKey
	if newKey == nil {
		newKey = wgtypes.GeneratePrivateKey
	}
	for _, t := range req.Tunnels {
		c1, c2, err := tunnelConfigs(req, t, newKey)
		if err != nil {
			return Deployment{}, paths, err
		}
		d.Devices = append(d.Devices, t.Device)
		for gw, c := range []*wgconf.Config{c1, c2} {
			var buf bytes.Buffer
			if _, err := c.WriteTo(&buf); err != nil {
				return Deployment{}, paths, fmt.Errorf("tunnel %s: write config: %w", t.Device, err)
			}
			paths[gw] = append(paths[gw], d.addFile(req, gw, t.Device+".conf", buf.Bytes()))
		}
	}
	return d, paths, nil
}

// addFile puts data on gateway gw as the file name in its temp folder
// and returns the file's path.
func (d *Deployment) addFile(req Request, gw int, name string, data []byte) string {
	path := filepath.Join(req.Gateways[gw].TempDir, name)
	d.Files = append(d.Files, File{Gateway: gw, Path: path, Data: data})
	return path
}

// tunnelSpec is one end of a tunnel that its engine loads from a file.
type tunnelSpec interface {
	Validate() error
	Marshal() ([]byte, error)
}

// addSpec validates end, the end on gateway gw of tunnel device dev,
// and puts it there as the file dev+ext (see addFile).
func (d *Deployment) addSpec(req Request, gw int, dev, ext string, end tunnelSpec) (string, error) {
	if err := end.Validate(); err != nil {
		return "", err
	}
	data, err := end.Marshal()
	if err != nil {
		return "", fmt.Errorf("tunnel %s: %w", dev, err)
	}
	return d.addFile(req, gw, dev+ext, data), nil
}

// tunnelConfigs makes the two ends of tunnel t: GW1 routes the prefix
// behind GW2 into it, GW2 the prefix behind GW1.
func tunnelConfigs(req Request, t Tunnel, newKey func() (wgtypes.Key, error)) (gw1, gw2 *wgconf.Config, err error) {
	k1, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("tunnel %s: make a key: %w", t.Device, err)
	}
	k2, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("tunnel %s: make a key: %w", t.Device, err)
	}
	ep1 := netip.AddrPortFrom(req.Gateways[GW1].WAN, uint16(t.Port))
	ep2 := netip.AddrPortFrom(req.Gateways[GW2].WAN, uint16(t.Port))
	// GW1 alone keeps the tunnel alive, which also starts its handshake
	// as soon as the device is up. GW2 only answers: when both ends
	// initiate at once, one may keep sending on a session the other has
	// already replaced, and the tunnel stays dark until the next
	// handshake 15 s later.
	keepalive := 25 * time.Second
	gw1 = &wgconf.Config{Name: t.Device,
		Interface: wgconf.Interface{PrivateKey: k1, ListenPort: t.Port, MTU: req.MTU},
		Peers:     []wgconf.Peer{{PublicKey: k2.PublicKey(), AllowedIPs: []netip.Prefix{t.Behind[GW2]}, Endpoint: &ep2, PersistentKeepalive: keepalive}},
	}
	gw2 = &wgconf.Config{Name: t.Device,
		Interface: wgconf.Interface{PrivateKey: k2, ListenPort: t.Port, MTU: req.MTU},
		Peers:     []wgconf.Peer{{PublicKey: k1.PublicKey(), AllowedIPs: []netip.Prefix{t.Behind[GW1]}, Endpoint: &ep1}},
	}
	return gw1, gw2, nil
}

// configArgs is "--config PATH" for each path.
func configArgs(paths []string) []string {
	var args []string
	for _, p := range paths {
		args = append(args, "--config", p)
	}
	return args
}
