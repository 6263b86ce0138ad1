package iperf3

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "capture the testdata fixtures again from iperf3 on loopback")

var loopback = netip.MustParseAddr("127.0.0.1")

func needIperf3(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s not on PATH: %v", Binary, err)
	}
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs an iperf3 server on loopback until the test ends.
func startServer(t *testing.T, o ServerOptions) {
	t.Helper()
	args := ServerArgs(o)
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", args, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", out.String())
		}
	})
}

// runClient runs a client once and returns its report (from LogFile when
// set, else from stdout).
func runClient(t *testing.T, o ClientOptions) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := ClientArgs(o)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// iperf3 exits 0 on errors it reports in JSON; others show in Parse.
	if err := cmd.Run(); err != nil {
		t.Logf("%q: %v; stderr: %s", args, err, stderr.String())
	}
	if o.LogFile != "" {
		b, err := os.ReadFile(o.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return stdout.Bytes()
}

// runClientReady is runClient that waits for a server that has just been
// started: it tries again while the connection is refused.
func runClientReady(t *testing.T, o ClientOptions) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := runClient(t, o)
		_, err := Parse(out)
		var ie *Error
		if !errors.As(err, &ie) || !strings.Contains(ie.Msg, "refused") || time.Now().After(deadline) {
			return out
		}
		if o.LogFile != "" {
			os.Remove(o.LogFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIntegrationLoopback runs real iperf3 tests on loopback and parses
// them. With -update it also writes the fixtures in testdata.
func TestIntegrationLoopback(t *testing.T) {
	needIperf3(t)
	port := freePort(t)
	serverLog := filepath.Join(t.TempDir(), "server.log")
	startServer(t, ServerOptions{Bind: loopback, Port: port, LogFile: serverLog})
	base := ClientOptions{Server: loopback, Bind: loopback, Port: port, Duration: time.Second, ConnectTimeout: 2 * time.Second}

	tcpOut := runClientReady(t, base)
	r, err := Parse(tcpOut)
	if err != nil {
		t.Fatalf("tcp: %v\n%s", err, tcpOut)
	}
	if r.UDP {
		t.Error("tcp result says UDP")
	}
	checkConsistent(t, r)

	udpOpts := base
	udpOpts.UDP, udpOpts.Bitrate = true, 10_000_000
	udpOut := runClientReady(t, udpOpts)
	r, err = Parse(udpOut)
	if err != nil {
		t.Fatalf("udp: %v\n%s", err, udpOut)
	}
	if !r.UDP {
		t.Error("udp result does not say UDP")
	}
	checkConsistent(t, r)
	if r.Bps < 7e6 || r.Bps > 13e6 {
		t.Errorf("udp at 10 Mbit/s received %.0f bit/s", r.Bps)
	}

	closed := base
	closed.Port = freePort(t)
	refusedOut := runClient(t, closed)
	_, err = Parse(refusedOut)
	var ie *Error
	if !errors.As(err, &ie) || ie.Busy || !strings.Contains(ie.Msg, "refused") {
		t.Errorf("client of a closed port: error %v, want a refused *Error", err)
	}

	if log, err := os.ReadFile(serverLog); err != nil || !bytes.Contains(log, []byte("Server listening")) {
		t.Errorf("server log %s: %v\n%s", serverLog, err, log)
	}

	if !*update {
		return
	}
	busyOut := captureBusy(t, base)
	logfile := filepath.Join(t.TempDir(), "client.json")
	twice := base
	twice.LogFile = logfile
	runClientReady(t, twice)
	twoOut := runClient(t, twice)
	reports := bytes.SplitAfter(twoOut, []byte("\n}\n"))
	if len(reports) != 3 || len(reports[2]) != 0 {
		t.Fatalf("reused logfile holds %d reports, want 2:\n%s", len(reports)-1, twoOut)
	}
	for i, rep := range reports[:2] {
		if _, err := Parse(rep); err != nil {
			t.Fatalf("report %d in the reused logfile: %v", i+1, err)
		}
	}
	for name, data := range map[string][]byte{
		"tcp.json": tcpOut, "udp.json": udpOut, "refused.json": refusedOut,
		"busy.json": busyOut, "logfile-two-tests.json": twoOut,
	} {
		if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// captureBusy runs a client while another one holds the server.
func captureBusy(t *testing.T, base ClientOptions) []byte {
	t.Helper()
	long := base
	long.Duration = 2 * time.Second
	args := ClientArgs(long)
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	out := runClient(t, base)
	// The server is free again once the long client is done.
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if _, err := Parse(out); !IsBusy(err) {
		t.Fatalf("second client: %v, want a busy server", err)
	}
	return out
}
