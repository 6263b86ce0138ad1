package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/runner/iperf3"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// flowSpec is one iperf3 client/server pair of a point.
type flowSpec struct {
	tunnel, index int
	src, dst      netip.Addr
	port          int
}

// pointFlows lists the flows of a point: flow f of tunnel t from its
// source address to its drain address, each with its own server port.
func pointFlows(p scenarios.Point) ([]flowSpec, error) {
	var fs []flowSpec
	for t := 0; t < p.Tunnels; t++ {
		for f := 0; f < p.FlowsPerTunnel; f++ {
			src, dst, err := testbed.FlowAddrs(t, f)
			if err != nil {
				return nil, err
			}
			fs = append(fs, flowSpec{tunnel: t, index: f, src: src, dst: dst, port: testbed.IperfBasePort + len(fs)})
		}
	}
	return fs, nil
}

// servers are the iperf3 servers of a point, one per flow (iperf3 serves
// one test at a time), kept across the point's repetitions.
type servers struct {
	procs []testbed.Process
	// moved says which flows were moved off a taken port, one line each.
	moved []string
}

// How a flow whose iperf3 port is taken on drain is moved: to the first
// port after the point's planned range that nothing on drain holds, at
// most maxMoves times per flow, within portSearch ports. Variables for
// tests.
var (
	maxMoves   = 5
	portSearch = 1000
)

// startServers starts one iperf3 server per flow on drain, bound to the
// flow's address and port, and waits until each listens.
//
// A port that is taken on drain (another iperf3, any program listening on
// it, a socket left over) is not fought over: the flow moves to a free
// port, flows[i].port is changed in place so the point's clients connect
// to it (and run.json records it per flow), and the move is logged with
// the process that holds the port when drain can tell (ss -p). Only when
// no free port is found does it fail, naming host, address, ports and
// holders. Nothing on drain that the run did not start is touched.
func startServers(ctx context.Context, drain testbed.Host, flows []flowSpec, log *slog.Logger) (*servers, error) {
	s := &servers{}
	// What listens on drain before the run starts anything there; ss may
	// be missing (a minimal host): then a taken port shows when iperf3
	// cannot bind it.
	held, _ := listening(ctx, drain)
	used := map[int]bool{}
	for _, f := range flows {
		used[f.port] = true
	}
	first := testbed.IperfBasePort + len(flows)
	last := min(first+portSearch-1, 65535)
	next := first
	freePort := func() (int, bool) {
		for ; next <= last; next++ {
			if !used[next] && !heldAnywhere(held, next) {
				used[next] = true
				return next, true
			}
		}
		return 0, false
	}
	for i := range flows {
		f := &flows[i]
		var taken []string
		for {
			holder, busy := holderOf(held, f.dst, f.port)
			if !busy {
				p, msg, err := startServer(ctx, drain, *f)
				if err == nil {
					s.procs = append(s.procs, p)
					break
				}
				if ctx.Err() != nil || !strings.Contains(msg, "Address already in use") {
					s.stop()
					return nil, err
				}
				// Taken since ss looked, or not by a listener ss shows:
				// look again for whom.
				if now, err := listening(ctx, drain); err == nil {
					held = now
				}
				holder, _ = holderOf(held, f.dst, f.port)
			}
			taken = append(taken, strconv.Itoa(f.port)+holder)
			port, ok := freePort()
			if !ok || len(taken) > maxMoves {
				s.stop()
				why := fmt.Sprintf("no other port in %d-%d is free", first, last)
				if ok {
					why = fmt.Sprintf("it gave up after %d moves", maxMoves)
				}
				return nil, fmt.Errorf("%s: no free port for the iperf3 server of flow %d of tunnel %d on %s: taken are %s, and %s: stop what holds them, or free ports on %s",
					hostName(drain), f.index, f.tunnel, f.dst, strings.Join(taken, ", "), why, drain.Role())
			}
			note := fmt.Sprintf("%s: port %d on %s is taken%s; flow %d of tunnel %d uses port %d instead", hostName(drain), f.port, f.dst, holder, f.index, f.tunnel, port)
			s.moved = append(s.moved, note)
			log.Warn(note)
			f.port = port
		}
	}
	return s, nil
}

// startWatched starts cmd on h with its output piped. The channel it
// returns gives "" as soon as a line of that output satisfies ready, or,
// should the output end first, all of it joined by "; ".
func startWatched(ctx context.Context, h testbed.Host, cmd testbed.Cmd, ready func(line string) bool) (testbed.Process, <-chan string, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p, err := h.Start(ctx, cmd)
	if err != nil {
		return nil, nil, err
	}
	go func() { p.Wait(); pw.Close() }()
	out := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		var said []string
		for sc.Scan() {
			if ready(sc.Text()) {
				out <- ""
				io.Copy(io.Discard, pr)
				return
			}
			said = append(said, sc.Text())
		}
		out <- strings.Join(said, "; ")
	}()
	return p, out, nil
}

// startServer starts flow f's iperf3 server on drain and waits until it
// listens. When it does not, msg is what iperf3 said.
func startServer(ctx context.Context, drain testbed.Host, f flowSpec) (p testbed.Process, msg string, err error) {
	argv := iperf3.ServerArgs(iperf3.ServerOptions{Bind: f.dst, Port: f.port})
	p, listening, err := startWatched(ctx, drain, testbed.Cmd{Argv: argv, Stage: "iperf3"}, func(line string) bool {
		return strings.Contains(line, "Server listening")
	})
	if err != nil {
		return nil, "", err
	}
	stop := func() {
		p.Signal(syscall.SIGTERM)
		p.Wait()
	}
	select {
	case msg := <-listening:
		if msg != "" || ctx.Err() != nil {
			stop()
			return nil, msg, fmt.Errorf("%s: iperf3 server on %s:%d did not start: %s", hostName(drain), f.dst, f.port, msg)
		}
		return p, "", nil
	case <-time.After(10 * time.Second):
		stop()
		return nil, "", fmt.Errorf("%s: iperf3 server on %s:%d not listening after 10s", hostName(drain), f.dst, f.port)
	case <-ctx.Done():
		stop()
		return nil, "", ctx.Err()
	}
}

// hostName names h for messages: its role, and where it is when that
// says more.
func hostName(h testbed.Host) string {
	if n := h.Name(); n != "" && n != h.Role() {
		return fmt.Sprintf("%s (%s)", h.Role(), n)
	}
	return h.Role()
}

// socket is a listening TCP or bound UDP socket on a host, as ss shows it.
type socket struct {
	proto string // tcp or udp
	local string // as ss prints it, e.g. *:5201
	addr  netip.Addr
	any   bool // bound to every address (0.0.0.0, ::, *)
	port  int
	users string // the owning processes, e.g. "iperf3" pid 1234; "" when unknown
}

// listening lists the TCP listeners and UDP sockets on h (ss -Htulnp).
func listening(ctx context.Context, h testbed.Host) ([]socket, error) {
	out, err := testbed.Run(ctx, h, "ss", "-H", "-t", "-u", "-l", "-n", "-p")
	if err != nil {
		return nil, err
	}
	return parseSS(string(out)), nil
}

// parseSS reads the lines of `ss -Htulnp`:
//
//	tcp LISTEN 0 4096 0.0.0.0:5201 0.0.0.0:* users:(("iperf3",pid=1234,fd=3))
func parseSS(out string) []socket {
	var socks []socket
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		sk := socket{proto: fields[0], local: fields[4]}
		i := strings.LastIndexByte(sk.local, ':')
		if i < 0 {
			continue
		}
		port, err := strconv.Atoi(sk.local[i+1:])
		if err != nil {
			continue
		}
		sk.port = port
		host := sk.local[:i]
		if j := strings.IndexByte(host, '%'); j >= 0 {
			host = host[:j] // bound to a device: 0.0.0.0%lo
		}
		host = strings.Trim(host, "[]")
		if host == "*" {
			sk.any = true
		} else if a, err := netip.ParseAddr(host); err == nil {
			sk.addr = a.Unmap()
			sk.any = a.IsUnspecified()
		} else {
			continue
		}
		if len(fields) > 6 {
			sk.users = ssUsers(strings.Join(fields[6:], " "))
		}
		socks = append(socks, sk)
	}
	return socks
}

// ssUsers turns users:(("iperf3",pid=1234,fd=3),("x",pid=5,fd=4)) into
// `"iperf3" pid 1234, "x" pid 5`.
func ssUsers(s string) string {
	var users []string
	for _, part := range strings.Split(s, "),(") {
		part = strings.Trim(strings.TrimPrefix(part, "users:"), "()")
		f := strings.Split(part, ",")
		if len(f) < 2 || !strings.HasPrefix(f[1], "pid=") {
			continue
		}
		users = append(users, f[0]+" pid "+strings.TrimPrefix(f[1], "pid="))
	}
	return strings.Join(users, ", ")
}

// holderOf says who holds port for a server bound to addr: a socket on
// the port bound to addr or to every address. TCP or UDP alike: an
// iperf3 server needs the port for both (control over TCP, UDP tests'
// data over UDP). The text reads after "is taken".
func holderOf(socks []socket, addr netip.Addr, port int) (string, bool) {
	for _, sk := range socks {
		if sk.port != port || !(sk.any || sk.addr == addr.Unmap()) {
			continue
		}
		who := fmt.Sprintf(" (%s %s", sk.proto, sk.local)
		if sk.users != "" {
			who += " by " + sk.users
		}
		return who + ")", true
	}
	return "", false
}

// heldAnywhere says whether any socket holds port, on any address.
func heldAnywhere(socks []socket, port int) bool {
	for _, sk := range socks {
		if sk.port == port {
			return true
		}
	}
	return false
}

func (s *servers) stop() {
	for _, p := range s.procs {
		p.Signal(syscall.SIGTERM)
	}
	for _, p := range s.procs {
		p.Wait()
	}
	s.procs = nil
}

// runClients runs every flow's client at once on source, each writing its
// JSON to a log file in the run folder, and parses the results. A pair
// that fails (busy server, refused connection, no result) is retried once;
// a second failure is recorded in the flow and the others go on.
func runClients(ctx context.Context, source testbed.Host, tr scenarios.Traffic, flows []flowSpec, folder *results.Folder, rawDir string) []results.Flow {
	out := make([]results.Flow, len(flows))
	var wg sync.WaitGroup
	for i, f := range flows {
		wg.Add(1)
		go func(i int, f flowSpec) {
			defer wg.Done()
			out[i] = runClient(ctx, source, tr, f, folder, rawDir)
		}(i, f)
	}
	wg.Wait()
	return out
}

func runClient(ctx context.Context, source testbed.Host, tr scenarios.Traffic, f flowSpec, folder *results.Folder, rawDir string) results.Flow {
	res := results.Flow{Tunnel: f.tunnel, Index: f.index, Src: f.src.String(), Dst: f.dst.String(), Port: f.port}
	rel := filepath.Join(rawDir, fmt.Sprintf("t%d-f%d.json", f.tunnel, f.index))
	res.Log = rel
	for attempt := 1; attempt <= 2; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			// Keep the failed attempt's log beside the retry's.
			res.Log = rel + ".retry"
		}
		// iperf3 writes its log on source (a real machine, over SSH);
		// the runner copies it into the run folder.
		logPath := path.Join(source.TempDir(), "iperf3-"+strings.ReplaceAll(res.Log, "/", "_"))
		argv := iperf3.ClientArgs(iperf3.ClientOptions{
			Server: f.dst, Bind: f.src, Port: f.port,
			Duration: tr.Duration.Std(), Omit: tr.Omit.Std(),
			UDP: tr.Protocol == scenarios.UDP, Bitrate: uint64(tr.Bitrate), Length: tr.Length,
			LogFile: logPath, ConnectTimeout: 5 * time.Second,
		})
		cctx, cancel := context.WithTimeout(ctx, tr.Duration.Std()+tr.Omit.Std()+30*time.Second)
		_, runErr := testbed.Run(cctx, source, argv...)
		cancel()
		data, readErr := source.ReadFile(logPath)
		if readErr == nil {
			if err := os.WriteFile(folder.Path(res.Log), data, 0o644); err != nil {
				readErr = fmt.Errorf("keep iperf3 log in the run folder: %w", err)
			}
		}
		var r *iperf3.Result
		var err error
		switch {
		case readErr != nil && runErr != nil:
			err = runErr
		case readErr != nil:
			err = fmt.Errorf("read iperf3 log: %w", readErr)
		default:
			r, err = iperf3.Parse(data)
		}
		if err == nil {
			res.Error = ""
			res.Bps, res.Bytes, res.SentBytes = r.Bps, r.Bytes, r.SentBytes
			res.Retransmits, res.LostPercent, res.JitterMs = r.Retransmits, r.LostPercent, r.JitterMs
			res.RTTMeanMs, res.RTTMaxMs = r.MeanRTTMs, r.MaxRTTMs
			return res
		}
		res.Error = err.Error()
		if ctx.Err() != nil {
			return res
		}
		var ie *iperf3.Error
		if errors.As(err, &ie) && ie.Busy {
			time.Sleep(time.Second)
		}
	}
	return res
}
