package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/kernel"
	"github.com/wgbench/wgbench/internal/syncbuf"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// readyTimeout bounds how long a datapath may take to come up.
const readyTimeout = 60 * time.Second

// handshakeTimeout bounds how long n tunnels may take to handshake: 20 s
// (four of WireGuard's 5 s initiation retries) plus 250 ms per tunnel,
// as many tunnels on a loaded machine lose some first initiations.
func handshakeTimeout(n int) time.Duration {
	return 20*time.Second + time.Duration(n)*250*time.Millisecond
}

// deployment is a datapath brought up on both gateways for one point.
type deployment struct {
	devices []string // tunnel device names, index = tunnel; empty for plain
	// statusArgs select the engine's counters in `agent wg-stats`.
	statusArgs []string
	procs      []gwProc
	// journals are the journals of the datapath processes, to undo should
	// a process die without cleaning up.
	journals []journal
	// moved says which tunnels were moved off a taken UDP port.
	moved []string
	log   *slog.Logger
}

// journal is a datapath process's journal on a host.
type journal struct {
	host testbed.Host
	path string
}

type gwProc struct {
	host testbed.Host
	proc testbed.Process
	log  *syncbuf.Buffer
	// tuning is what the kernel engine reported it changed, if anything.
	tuning *kernel.Report
	// done is closed when the process has exited, with its exit status
	// in *exit.
	done chan struct{}
	exit *error
}

// dead says which datapath process exited while the point was being
// measured, with the last line it logged, or "" while all run.
func (d *deployment) dead() string {
	for _, p := range d.procs {
		select {
		case <-p.done:
			return fmt.Sprintf("the datapath process on %s died (%v); its last words: %s", p.host.Role(), *p.exit, lastLine(p.log.String()))
		default:
		}
	}
	return ""
}

// knobs lists the host settings the datapath changed, and notes the
// optional knobs it skipped, what each symbolic CPU set resolved to and
// what numa_node placed.
func (d *deployment) knobs() (changes []results.KnobChange, notes []string) {
	for _, p := range d.procs {
		if p.tuning == nil {
			continue
		}
		for _, c := range p.tuning.Changes {
			changes = append(changes, results.KnobChange{Host: p.host.Role(), Knob: c.Knob, Path: c.Path, Before: c.Before, After: c.After})
		}
		for _, s := range p.tuning.Sets {
			if s.Error == "" {
				notes = append(notes, fmt.Sprintf("%s: %s %q resolved to CPUs %s", p.host.Role(), s.Knob, s.Expr, s.CPUs))
			}
		}
		if n := p.tuning.NUMA; n != nil {
			notes = append(notes, fmt.Sprintf("%s: %s placed %s on CPUs %s", p.host.Role(), n.Name, strings.Join(n.Knobs, ", "), n.CPUs))
		}
		for _, sk := range p.tuning.Skipped {
			notes = append(notes, fmt.Sprintf("%s: optional knob %s skipped: %s", p.host.Role(), sk.Knob, sk.Reason))
		}
	}
	return changes, notes
}

// deploy brings tunnels up between gw1 and gw2 on the series' datapath:
// datapath.Plan says which processes to start on each gateway, with what
// arguments and files (keys generated there, never stored in results);
// deploy writes the files, starts the processes (`wgbench datapath up`)
// and waits for every tunnel's handshake.
//
// mtu is the tunnels' MTU, 0 for the datapath's default. gwCPUs are the
// CPUs a pinned series without cpus of its own places its
// tunnels on (those of gw1 wgbench may use); nil leaves such a series
// unpinned.
func deploy(ctx context.Context, hosts map[string]testbed.Host, tag string, s scenarios.Series, tunnels, mtu int, gwCPUs []int, log *slog.Logger) (*deployment, error) {
	begin := time.Now()
	gws := [2]testbed.Host{datapath.GW1: hosts[testbed.GW1], datapath.GW2: hosts[testbed.GW2]}
	d := &deployment{log: log}
	req := datapath.Request{Engine: string(s.Datapath), Tuning: s.Tuning, CPUs: gwCPUs, NewKey: newKey, Secret: secretMade, MTU: mtu,
		Gateways: [2]datapath.Gateway{
			datapath.GW1: {WAN: testbed.GW1WAN.Addr(), TempDir: gws[datapath.GW1].TempDir()},
			datapath.GW2: {WAN: testbed.GW2WAN.Addr(), TempDir: gws[datapath.GW2].TempDir()},
		}}
	var ports []int
	if datapath.UsesUDPPorts(req.Engine) {
		ports, d.moved = tunnelPorts(ctx, gws[datapath.GW1], gws[datapath.GW2], tunnels)
		for _, m := range d.moved {
			log.Warn(m)
		}
	}
	for t := range tunnels {
		src, dst := testbed.TunnelPrefixes(t)
		tun := datapath.Tunnel{Device: testbed.TunnelDevice(tag, t), Behind: [2]netip.Prefix{datapath.GW1: src, datapath.GW2: dst}}
		if ports != nil {
			tun.Port = ports[t]
		}
		req.Tunnels = append(req.Tunnels, tun)
	}
	plan, err := datapath.Plan(req)
	if err != nil {
		return nil, err
	}
	d.devices = plan.Devices
	d.statusArgs = datapath.StatusArgs(req.Engine)
	for _, f := range plan.Files {
		h := gws[f.Gateway]
		if err := h.WriteFile(f.Path, f.Data, datapath.FileMode); err != nil {
			return nil, fmt.Errorf("%s: write %s: %w", h.Role(), f.Path, err)
		}
	}
	for _, p := range plan.Processes {
		if p.Journal != "" {
			d.journals = append(d.journals, journal{host: gws[p.Gateway], path: p.Journal})
		}
	}
	// gw2 first: gw1 starts the handshakes as soon as its devices are up,
	// and an initiation that finds no listener is only retried 5 s later.
	for _, gw := range []int{datapath.GW2, datapath.GW1} {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, spec := range plan.Processes {
			if spec.Gateway != gw {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := startDatapath(ctx, gws[gw], spec)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				d.procs = append(d.procs, p)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			d.stop()
			return nil, err
		}
	}
	log.Debug("datapath ready", "datapath", s.Datapath, "tunnels", tunnels, "processes", len(d.procs), "after", time.Since(begin))
	if len(d.devices) > 0 {
		if err := d.waitHandshakes(ctx, gws[:]...); err != nil {
			d.stop()
			return nil, err
		}
		log.Debug("tunnels handshaken", "tunnels", tunnels, "after", time.Since(begin))
	}
	return d, nil
}

// keysMade, when a test sets it, sees every private key deploy generates,
// so the test can prove none of them reaches results or logs.
var keysMade func(keys ...wgtypes.Key)

// secretsMade, when a test sets it, sees every other secret a plan
// generates (OpenVPN private keys, ESP keys).
var secretsMade func(secret []byte)

// secretMade shows a plan's secret to secretsMade.
func secretMade(b []byte) {
	if secretsMade != nil {
		secretsMade(b)
	}
}

// newKey makes a tunnel end's private key and shows it to keysMade.
func newKey() (wgtypes.Key, error) {
	k, err := wgtypes.GeneratePrivateKey()
	if err == nil && keysMade != nil {
		keysMade(k)
	}
	return k, err
}

// tunnelPorts returns the UDP port of each of n tunnels, the same on both
// gateways: testbed.BasePort+t, unless a UDP socket the run did not make
// holds it on either gateway (a WireGuard already running on a real
// host, say); then the tunnel moves to the next port above the planned
// range held on neither, and a line says so. Gateways whose sockets
// cannot be listed (no ss) keep the planned ports.
func tunnelPorts(ctx context.Context, gw1, gw2 testbed.Host, n int) (ports []int, moved []string) {
	var held [2][]socket
	for i, h := range []testbed.Host{gw1, gw2} {
		held[i], _ = listening(ctx, h)
	}
	used := map[int]bool{}
	next := testbed.BasePort + n
	taken := func(p int) (string, bool) {
		for i, h := range []testbed.Host{gw1, gw2} {
			for _, sk := range held[i] {
				if sk.proto == "udp" && sk.port == p {
					who := fmt.Sprintf("%s holds it (udp %s", hostName(h), sk.local)
					if sk.users != "" {
						who += " by " + sk.users
					}
					return who + ")", true
				}
			}
		}
		return "", false
	}
	for t := range n {
		p := testbed.BasePort + t
		who, busy := taken(p)
		if !busy {
			ports = append(ports, p)
			used[p] = true
			continue
		}
		for ; next <= 65535; next++ {
			if _, b := taken(next); !b && !used[next] {
				break
			}
		}
		if next > 65535 {
			// Nothing free: keep the plan, and the datapath says why.
			ports = append(ports, p)
			continue
		}
		moved = append(moved, fmt.Sprintf("UDP port %d is taken: %s; tunnel %d uses port %d instead", p, who, t, next))
		ports = append(ports, next)
		used[next] = true
		next++
	}
	return ports, moved
}

// startDatapath starts the datapath process spec (`wgbench datapath up`)
// on h and waits for its readiness line.
func startDatapath(ctx context.Context, h testbed.Host, spec datapath.ProcessSpec) (gwProc, error) {
	pr, pw := io.Pipe()
	logBuf := &syncbuf.Buffer{}
	argv := append([]string{testbed.Self}, spec.Args...)
	p, err := h.Start(ctx, testbed.Cmd{Argv: argv, Stdout: pw, Stderr: logBuf, Stage: spec.Stage})
	if err != nil {
		return gwProc{}, err
	}
	gp := gwProc{host: h, proc: p, log: logBuf}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if js, ok := strings.CutPrefix(sc.Text(), "tuning "); ok {
				var rep kernel.Report
				if err := json.Unmarshal([]byte(js), &rep); err == nil {
					gp.tuning = &rep
				}
				continue
			}
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- nil
				io.Copy(io.Discard, pr)
				return
			}
		}
		ready <- errors.New("exited before it was ready")
	}()
	exited := make(chan error, 1)
	gp.done, gp.exit = make(chan struct{}), new(error)
	go func() {
		err := p.Wait()
		*gp.exit = err
		pw.Close()
		close(gp.done)
		exited <- err
	}()
	select {
	case err := <-ready:
		if err == nil {
			return gp, nil
		}
		waitErr := <-exited
		return gp, fmt.Errorf("%s: datapath %s %s (%v): %s", h.Role(), spec.Engine, err, waitErr, lastLine(logBuf.String()))
	case <-time.After(readyTimeout):
		p.Signal(syscall.SIGKILL)
		return gp, fmt.Errorf("%s: datapath %s not ready after %s", h.Role(), spec.Engine, readyTimeout)
	case <-ctx.Done():
		p.Signal(syscall.SIGTERM)
		return gp, ctx.Err()
	}
}

// waitHandshakes polls both gateways until every tunnel has completed a
// handshake.
func (d *deployment) waitHandshakes(ctx context.Context, hosts ...testbed.Host) error {
	timeout := handshakeTimeout(len(d.devices))
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		var last error
		for _, h := range hosts {
			st, err := wgStats(ctx, h, d.devices, d.statusArgs...)
			if err != nil {
				last = err
				missing++
				continue
			}
			for _, dev := range st {
				if len(dev.Peers) == 0 || dev.Peers[0].LastHandshake.IsZero() {
					missing++
				}
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("tunnels did not come up in %s: %w", timeout, last)
			}
			return fmt.Errorf("%d tunnel ends had no handshake after %s", missing, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the datapath processes (they undo their changes on SIGTERM)
// and returns what they logged on failure. A kernel datapath that died
// without cleaning up (killed) left its journal: stop puts its host back
// from it.
func (d *deployment) stop() error {
	defer d.undoKilled()
	var errs []error
	for _, p := range d.procs {
		if err := p.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("%s: stop datapath: %w", p.host.Role(), err))
		}
	}
	for _, p := range d.procs {
		done := make(chan struct{})
		go func() { p.proc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.proc.Signal(syscall.SIGKILL)
			errs = append(errs, fmt.Errorf("%s: datapath did not stop in 10s; killed", p.host.Role()))
		}
	}
	d.procs = nil
	return errors.Join(errs...)
}

// undoKilled runs `wgbench agent undo` for every journal of the
// deployment once its processes are gone; it does nothing where the
// datapath removed its journal, as it does when it stops normally.
func (d *deployment) undoKilled() {
	for _, j := range d.journals {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := testbed.Run(ctx, j.host, testbed.Self, "agent", "undo", "--journal", j.path, "--if-exists")
		cancel()
		if err != nil {
			d.log.Error("a datapath died without cleaning up, and undoing its journal failed", "host", j.host.Role(), "err", err)
			continue
		}
		if out := strings.TrimSpace(string(out)); out != "" {
			d.log.Warn("a datapath died without cleaning up; put the host back from its journal", "host", j.host.Role(), "undone", out)
		}
	}
}

// wgStats reads the tunnels' status on h through `wgbench agent wg-stats`;
// extra selects a non-WireGuard engine's counters (datapath.StatusArgs).
func wgStats(ctx context.Context, h testbed.Host, devices []string, extra ...string) ([]datapath.TunnelStatus, error) {
	argv := append([]string{testbed.Self, "agent", "wg-stats"}, extra...)
	for _, d := range devices {
		argv = append(argv, "--dev", d)
	}
	out, err := testbed.Run(ctx, h, argv...)
	if err != nil {
		return nil, err
	}
	var st []datapath.TunnelStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s: parse wg-stats output: %w", h.Role(), err)
	}
	return st, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
