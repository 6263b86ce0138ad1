package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// fakeGateway is a testbed.Host that records what deploy asks of it: the
// datapath processes it starts (which say "ready" at once), the commands
// it runs and the files it writes. It answers `ss` with its held sockets
// and `agent wg-stats` with a handshake on every device.
type fakeGateway struct {
	role string
	held string // ss -Htulnp output

	mu      sync.Mutex
	started []string          // argv of every datapath process, joined by spaces
	ran     []string          // argv of every other command
	files   map[string]string // path → contents
}

func (g *fakeGateway) Role() string    { return g.role }
func (g *fakeGateway) Name() string    { return "" }
func (g *fakeGateway) TempDir() string { return "/tmp/fake/" + g.role }

func (g *fakeGateway) ReadFile(string) ([]byte, error) { return nil, errors.New("fake: no reads") }

func (g *fakeGateway) WriteFile(p string, data []byte, _ os.FileMode) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.files == nil {
		g.files = map[string]string{}
	}
	g.files[p] = string(data)
	return nil
}

func (g *fakeGateway) Start(_ context.Context, cmd testbed.Cmd) (testbed.Process, error) {
	line := strings.Join(cmd.Argv, " ")
	g.mu.Lock()
	defer g.mu.Unlock()
	p := &fakeProc{exited: make(chan struct{})}
	switch {
	case strings.HasPrefix(line, testbed.Self+" datapath up "):
		g.started = append(g.started, line+" [stage "+cmd.Stage+"]")
		go fmt.Fprintln(cmd.Stdout, "ready")
		return p, nil
	case strings.HasPrefix(line, "ss "):
		io.WriteString(cmd.Stdout, g.held)
	case strings.HasPrefix(line, testbed.Self+" agent wg-stats"):
		var st []datapath.TunnelStatus
		for i, a := range cmd.Argv {
			if a == "--dev" {
				st = append(st, datapath.TunnelStatus{Name: cmd.Argv[i+1], Peers: []datapath.PeerStatus{{LastHandshake: time.Unix(1, 0)}}})
			}
		}
		json.NewEncoder(cmd.Stdout).Encode(st)
	default:
		g.ran = append(g.ran, line)
	}
	close(p.exited)
	return p, nil
}

// fakeProc runs until it is signalled.
type fakeProc struct {
	once   sync.Once
	exited chan struct{}
}

func (p *fakeProc) Pid() int { return 1 }
func (p *fakeProc) Signal(os.Signal) error {
	p.once.Do(func() {
		select {
		case <-p.exited:
		default:
			close(p.exited)
		}
	})
	return nil
}
func (p *fakeProc) Wait() error { <-p.exited; return nil }

// TestDeployArgv pins the command line of every datapath process deploy
// starts on each gateway, the tunnels' UDP ports, and the journal a
// kernel deployment undoes on stop, for each datapath.
func TestDeployArgv(t *testing.T) {
	const up = "wgbench datapath up --engine "
	cfg := func(role string, t int) string { return fmt.Sprintf("/tmp/fake/%s/wgtag-%d.conf", role, t) }
	numa := 1
	for _, tc := range []struct {
		name    string
		series  scenarios.Series
		tunnels int
		gwCPUs  []int
		held    string // gw2's sockets
		want    map[string][]string
		ports   []int // ListenPort of tunnel t's configs
		undo    []string
	}{
		{
			name: "plain", series: scenarios.Series{Datapath: scenarios.Plain}, tunnels: 2, gwCPUs: []int{0, 1},
			want: map[string][]string{
				"gw1": {up + "plain --route 198.19.1.0/24=198.18.255.2 --route 198.19.2.0/24=198.18.255.2 [stage datapath-plain]"},
				"gw2": {up + "plain --route 198.18.1.0/24=198.18.255.1 --route 198.18.2.0/24=198.18.255.1 [stage datapath-plain]"},
			},
		},
		{
			name: "wggo", series: scenarios.Series{Datapath: scenarios.WireGuardGo}, tunnels: 2, gwCPUs: []int{0, 1},
			want: map[string][]string{
				"gw1": {up + "wggo --config " + cfg("gw1", 0) + " --config " + cfg("gw1", 1) + " [stage datapath-wggo]"},
				"gw2": {up + "wggo --config " + cfg("gw2", 0) + " --config " + cfg("gw2", 1) + " [stage datapath-wggo]"},
			},
			ports: []int{51820, 51821},
		},
		{
			name: "wggo port moved", series: scenarios.Series{Datapath: scenarios.WireGuardGo}, tunnels: 2,
			held: "udp UNCONN 0 0 0.0.0.0:51821 0.0.0.0:* users:((\"wg\",pid=9,fd=3))\n",
			want: map[string][]string{
				"gw1": {up + "wggo --config " + cfg("gw1", 0) + " --config " + cfg("gw1", 1) + " [stage datapath-wggo]"},
				"gw2": {up + "wggo --config " + cfg("gw2", 0) + " --config " + cfg("gw2", 1) + " [stage datapath-wggo]"},
			},
			ports: []int{51820, 51822},
		},
		{
			name: "wggo pinned on the gateway's cpus", series: scenarios.Series{Datapath: scenarios.WireGuardGo, Tuning: scenarios.Tuning{Pin: true}},
			tunnels: 4, gwCPUs: []int{2, 3, 5},
			want: map[string][]string{
				"gw1": {
					up + "wggo --config " + cfg("gw1", 0) + " --cpus 2 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw1", 1) + " --cpus 3 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw1", 2) + " --cpus 5 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw1", 3) + " --cpus 2 [stage datapath-wggo]",
				},
				"gw2": {
					up + "wggo --config " + cfg("gw2", 0) + " --cpus 2 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw2", 1) + " --cpus 3 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw2", 2) + " --cpus 5 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw2", 3) + " --cpus 2 [stage datapath-wggo]",
				},
			},
			ports: []int{51820, 51821, 51822, 51823},
		},
		{
			name: "wggo pinned on its own cpus", series: scenarios.Series{Datapath: scenarios.WireGuardGo, Tuning: scenarios.Tuning{Pin: true, CPUs: scenarios.CPUList("4,1")}},
			tunnels: 3, gwCPUs: []int{0, 1, 2, 3},
			want: map[string][]string{
				"gw1": {
					up + "wggo --config " + cfg("gw1", 0) + " --cpus 4 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw1", 1) + " --cpus 1 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw1", 2) + " --cpus 4 [stage datapath-wggo]",
				},
				"gw2": {
					up + "wggo --config " + cfg("gw2", 0) + " --cpus 4 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw2", 1) + " --cpus 1 [stage datapath-wggo]",
					up + "wggo --config " + cfg("gw2", 2) + " --cpus 4 [stage datapath-wggo]",
				},
			},
			ports: []int{51820, 51821, 51822},
		},
		{
			name: "wggo pinned with no cpus known", series: scenarios.Series{Datapath: scenarios.WireGuardGo, Tuning: scenarios.Tuning{Pin: true}},
			tunnels: 2,
			want: map[string][]string{
				"gw1": {up + "wggo --config " + cfg("gw1", 0) + " --config " + cfg("gw1", 1) + " [stage datapath-wggo]"},
				"gw2": {up + "wggo --config " + cfg("gw2", 0) + " --config " + cfg("gw2", 1) + " [stage datapath-wggo]"},
			},
			ports: []int{51820, 51821},
		},
		{
			name: "kernel tuned", tunnels: 2, gwCPUs: []int{0, 1},
			series: scenarios.Series{Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{
				ThreadedNAPI: true, NAPICPUs: scenarios.CPUList("2-3"), NUMANode: &numa, Steering: true, IRQCPUs: scenarios.CPUList("0"),
				RPSCPUs: scenarios.CPUList("1"), XPSCPUs: scenarios.CPUList("1-2"), UDPGROForwarding: true, InlineKernel: true,
				EncryptCPUs: scenarios.CPUList("0-1"), DecryptCPUs: scenarios.CPUList("2"), SerialCPUs: scenarios.CPUList("3"),
				Placement: "split", CPUs: scenarios.CPUList("0-3"), Optional: []string{"numa_node", "steering"},
			}},
			want: map[string][]string{
				"gw1": {up + "kernel --config " + cfg("gw1", 0) + " --config " + cfg("gw1", 1) +
					" --threaded-napi --napi-cpus=2-3 --numa-node=1 --rps-cpus=1 --xps-cpus=1-2 --udp-gro-forwarding --steering --irq-cpus=0" +
					" --inline-kernel --encrypt-cpus=0-1 --decrypt-cpus=2 --serial-cpus=3 --placement=split --placement-cpus=0-3" +
					" --optional=numa_node --optional=steering --journal /tmp/fake/gw1/datapath-kernel.journal [stage datapath-kernel]"},
				"gw2": {up + "kernel --config " + cfg("gw2", 0) + " --config " + cfg("gw2", 1) +
					" --threaded-napi --napi-cpus=2-3 --numa-node=1 --rps-cpus=1 --xps-cpus=1-2 --udp-gro-forwarding --steering --irq-cpus=0" +
					" --inline-kernel --encrypt-cpus=0-1 --decrypt-cpus=2 --serial-cpus=3 --placement=split --placement-cpus=0-3" +
					" --optional=numa_node --optional=steering --journal /tmp/fake/gw2/datapath-kernel.journal [stage datapath-kernel]"},
			},
			ports: []int{51820, 51821},
			undo:  []string{"wgbench agent undo --journal /tmp/fake/%s/datapath-kernel.journal --if-exists"},
		},
		{
			name: "kernel tuned on gw2 alone", tunnels: 1,
			series: scenarios.Series{Datapath: scenarios.Kernel, Tuning: scenarios.Tuning{
				UDPGROForwarding: true, GW2: &scenarios.Tuning{DecryptCPUs: scenarios.CPUList("2-3"), Optional: []string{"decrypt_cpus"}},
			}},
			want: map[string][]string{
				"gw1": {up + "kernel --config " + cfg("gw1", 0) + " --udp-gro-forwarding --journal /tmp/fake/gw1/datapath-kernel.journal [stage datapath-kernel]"},
				"gw2": {up + "kernel --config " + cfg("gw2", 0) + " --udp-gro-forwarding --decrypt-cpus=2-3 --optional=decrypt_cpus" +
					" --journal /tmp/fake/gw2/datapath-kernel.journal [stage datapath-kernel]"},
			},
			ports: []int{51820},
			undo:  []string{"wgbench agent undo --journal /tmp/fake/%s/datapath-kernel.journal --if-exists"},
		},
		{
			name: "kernel plain", series: scenarios.Series{Datapath: scenarios.Kernel}, tunnels: 1,
			want: map[string][]string{
				"gw1": {up + "kernel --config " + cfg("gw1", 0) + " --journal /tmp/fake/gw1/datapath-kernel.journal [stage datapath-kernel]"},
				"gw2": {up + "kernel --config " + cfg("gw2", 0) + " --journal /tmp/fake/gw2/datapath-kernel.journal [stage datapath-kernel]"},
			},
			ports: []int{51820},
			undo:  []string{"wgbench agent undo --journal /tmp/fake/%s/datapath-kernel.journal --if-exists"},
		},
		{
			name: "inline on its cpus", series: scenarios.Series{Datapath: scenarios.Inline, Tuning: scenarios.Tuning{CPUs: scenarios.CPUList("0-1,3")}},
			tunnels: 2, gwCPUs: []int{0, 1, 2, 3},
			want: map[string][]string{
				"gw1": {up + "inline --config " + cfg("gw1", 0) + " --config " + cfg("gw1", 1) + " --cpus 0-1,3 [stage datapath-inline]"},
				"gw2": {up + "inline --config " + cfg("gw2", 0) + " --config " + cfg("gw2", 1) + " --cpus 0-1,3 [stage datapath-inline]"},
			},
			ports: []int{51820, 51821},
		},
		{
			// The gateway's cpus do not become inline's --cpus: the engine
			// picks its own from its affinity.
			name: "inline without cpus", series: scenarios.Series{Datapath: scenarios.Inline, Tuning: scenarios.Tuning{Pin: true}},
			tunnels: 1, gwCPUs: []int{0, 1, 2, 3},
			want: map[string][]string{
				"gw1": {up + "inline --config " + cfg("gw1", 0) + " [stage datapath-inline]"},
				"gw2": {up + "inline --config " + cfg("gw2", 0) + " [stage datapath-inline]"},
			},
			ports: []int{51820},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw1, gw2 := &fakeGateway{role: testbed.GW1}, &fakeGateway{role: testbed.GW2, held: tc.held}
			hosts := map[string]testbed.Host{testbed.GW1: gw1, testbed.GW2: gw2}
			var logBuf bytes.Buffer
			d, err := deploy(context.Background(), hosts, "tag", tc.series, tc.tunnels, 0, tc.gwCPUs, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			// A moved tunnel is a warning in the run's log.
			if moved := strings.Contains(logBuf.String(), "tunnel 1 uses port 51822"); moved != (tc.held != "") {
				t.Errorf("log says a tunnel moved: %v, want %v; log:\n%s", moved, tc.held != "", logBuf.String())
			}
			if err := d.stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
			listenPort := regexp.MustCompile(`(?m)^ListenPort = (\d+)$`)
			for _, g := range []*fakeGateway{gw1, gw2} {
				slices.Sort(g.started)
				if !slices.Equal(g.started, tc.want[g.role]) {
					t.Errorf("%s started\n\t%s\nwant\n\t%s", g.role, strings.Join(g.started, "\n\t"), strings.Join(tc.want[g.role], "\n\t"))
				}
				var ports []int
				for i := range tc.tunnels {
					conf, ok := g.files[cfg(g.role, i)]
					if len(tc.ports) == 0 {
						if ok {
							t.Errorf("%s: wrote a tunnel config for a datapath without tunnels", g.role)
						}
						continue
					}
					m := listenPort.FindStringSubmatch(conf)
					if m == nil {
						t.Fatalf("%s: config %s has no ListenPort:\n%s", g.role, cfg(g.role, i), conf)
					}
					var p int
					fmt.Sscan(m[1], &p)
					ports = append(ports, p)
				}
				if !slices.Equal(ports, tc.ports) {
					t.Errorf("%s: tunnel ports %v, want %v", g.role, ports, tc.ports)
				}
				var undo []string
				for _, l := range g.ran {
					if strings.Contains(l, " agent undo ") {
						undo = append(undo, l)
					}
				}
				var wantUndo []string
				for _, u := range tc.undo {
					wantUndo = append(wantUndo, fmt.Sprintf(u, g.role))
				}
				if !slices.Equal(undo, wantUndo) {
					t.Errorf("%s: undo commands %q, want %q", g.role, undo, wantUndo)
				}
				for p := range g.files {
					if path.Dir(p) != g.TempDir() {
						t.Errorf("%s: wrote %s outside its temporary folder", g.role, p)
					}
				}
			}
			if wantDevs := len(tc.ports); len(d.devices) != wantDevs {
				t.Errorf("devices %v, want %d", d.devices, wantDevs)
			}
		})
	}
}
