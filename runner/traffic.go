package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
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
}

// startServers starts one iperf3 server per flow on drain, bound to the
// flow's address and port, and waits until each listens.
func startServers(ctx context.Context, drain testbed.Host, flows []flowSpec) (*servers, error) {
	s := &servers{}
	for _, f := range flows {
		pr, pw := io.Pipe()
		argv := iperf3.ServerArgs(iperf3.ServerOptions{Bind: f.dst, Port: f.port})
		p, err := drain.Start(ctx, testbed.Cmd{Argv: argv, Stdout: pw, Stderr: pw, Stage: "iperf3"})
		if err != nil {
			s.stop()
			return nil, err
		}
		s.procs = append(s.procs, p)
		go func() { p.Wait(); pw.Close() }()
		listening := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(pr)
			var out []string
			for sc.Scan() {
				if strings.Contains(sc.Text(), "Server listening") {
					listening <- ""
					io.Copy(io.Discard, pr)
					return
				}
				out = append(out, sc.Text())
			}
			listening <- strings.Join(out, "; ")
		}()
		select {
		case msg := <-listening:
			if msg != "" || ctx.Err() != nil {
				s.stop()
				return nil, fmt.Errorf("drain: iperf3 server on %s:%d did not start: %s", f.dst, f.port, msg)
			}
		case <-time.After(10 * time.Second):
			s.stop()
			return nil, fmt.Errorf("drain: iperf3 server on %s:%d not listening after 10s", f.dst, f.port)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		}
	}
	return s, nil
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
