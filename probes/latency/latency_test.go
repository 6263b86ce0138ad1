package latency

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/wgbench/wgbench/internal/testutil"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		rep  Report
		want Stats
	}{
		{"none", Report{}, Stats{}},
		{"all lost", Report{Sent: 4}, Stats{Sent: 4, LossPct: 100}},
		{"ten", Report{Sent: 20, RTTMs: []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			Stats{Sent: 20, Received: 10, P50: 5, P90: 9, P99: 10, Max: 10, LossPct: 50}},
		{"one", Report{Sent: 1, RTTMs: []float64{0.3}}, Stats{Sent: 1, Received: 1, P50: 0.3, P90: 0.3, P99: 0.3, Max: 0.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.rep); got != tt.want {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePing(t *testing.T) {
	out := `PING 198.19.1.1 (198.19.1.1) from 198.18.1.1 : 56(84) bytes of data.
64 bytes from 198.19.1.1: icmp_seq=1 ttl=62 time=0.412 ms
64 bytes from 198.19.1.1: icmp_seq=2 ttl=62 time=1.05 ms
64 bytes from 198.19.1.1: icmp_seq=2 ttl=62 time=1.07 ms (DUP!)
64 bytes from 198.19.1.1: icmp_seq=4 ttl=62 time=2 ms

--- 198.19.1.1 ping statistics ---
4 packets transmitted, 3 received, +1 duplicates, 25% packet loss, time 60ms
`
	rep, err := ParsePing([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 4 || rep.Received != 3 || len(rep.RTTMs) != 3 || rep.RTTMs[1] != 1.05 || rep.RTTMs[2] != 2 {
		t.Errorf("ParsePing = %+v", rep)
	}
	if _, err := ParsePing([]byte("ping: connect: Network is unreachable\n")); err == nil {
		t.Error("ParsePing of an error message: no error")
	}
}

func TestPingArgs(t *testing.T) {
	o := Options{Target: netip.MustParseAddrPort("198.19.1.1:5199"), Bind: netip.MustParseAddr("198.18.1.1"), Rate: 50, Duration: 2 * time.Second}
	got := PingArgs(o)
	want := []string{"ping", "-n", "-i", "0.020", "-c", "100", "-W", "1", "-I", "198.18.1.1", "198.19.1.1"}
	if len(got) != len(want) {
		t.Fatalf("PingArgs = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("PingArgs = %q, want %q", got, want)
		}
	}
}

func TestProbeBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Target: netip.MustParseAddrPort("127.0.0.1:9"), Rate: 0, Duration: time.Second},
		{Target: netip.MustParseAddrPort("127.0.0.1:9"), Rate: 10, Duration: 0},
	} {
		if _, err := Probe(context.Background(), o); err == nil {
			t.Errorf("Probe(%+v): no error", o)
		}
	}
}

// echo starts Serve on a loopback port and returns its address.
func echo(t *testing.T, network, addr string) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		conn.Close()
	})
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestProbeCountsEchoesAndLoss(t *testing.T) {
	target := echo(t, "udp4", "127.0.0.1:0")
	rep, err := Probe(context.Background(), Options{Target: target, Rate: 100, Duration: 300 * time.Millisecond, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 30 || rep.Received != 30 {
		t.Errorf("sent %d received %d, want 30 and 30", rep.Sent, rep.Received)
	}
	for _, r := range rep.RTTMs {
		if r <= 0 || r > 200 {
			t.Errorf("round trip %g ms on loopback", r)
		}
	}
	// Nothing listens on a closed port: every probe is lost, which is a
	// measurement, not an error.
	closed := func() netip.AddrPort {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort()
	}()
	rep, err = Probe(context.Background(), Options{Target: closed, Rate: 50, Duration: 100 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil || rep.Sent != 5 || rep.Received != 0 || Summarize(rep).LossPct != 100 {
		t.Errorf("probe to a closed port: %+v, err %v; want 5 sent, all lost, no error", rep, err)
	}
}

// TestProbeAgreesWithPing checks the UDP probe against ping on the same
// path: two namespaces joined by a veth pair, no other traffic. Their
// medians must agree within 0.25 ms (both are tens of microseconds here,
// so a probe that timed its own scheduling, not the path, fails).
func TestProbeAgreesWithPing(t *testing.T) {
	testutil.RequireRoot(t)
	a, b := "wgbt-lat-a", "wgbt-lat-b"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", a)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a).Run() })
	run("ip", "netns", "add", b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b).Run() })
	run("ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b)
	run("ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "va")
	run("ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "vb")
	run("ip", "-n", a, "link", "set", "va", "up")
	run("ip", "-n", b, "link", "set", "vb", "up")

	var target netip.AddrPort
	if err := testutil.InNetns("/run/netns/"+b, func() error {
		target = echo(t, "udp4", "10.77.0.2:0")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := Options{Target: target, Bind: netip.MustParseAddr("10.77.0.1"), Rate: 50, Duration: 2 * time.Second}
	var udp Report
	if err := testutil.InNetns("/run/netns/"+a, func() error {
		var err error
		udp, err = Probe(context.Background(), o)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", append([]string{"netns", "exec", a}, PingArgs(o)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ping: %v: %s", err, out)
	}
	icmp, err := ParsePing(out)
	if err != nil {
		t.Fatal(err)
	}
	us, is := Summarize(udp), Summarize(icmp)
	t.Logf("udp probe: p50 %.3f ms p99 %.3f ms loss %.1f%%; ping: p50 %.3f ms p99 %.3f ms loss %.1f%%", us.P50, us.P99, us.LossPct, is.P50, is.P99, is.LossPct)
	if us.LossPct != 0 || is.LossPct != 0 {
		t.Errorf("loss on an idle veth: udp %.1f%%, ping %.1f%%", us.LossPct, is.LossPct)
	}
	if d := us.P50 - is.P50; d > 0.25 || d < -0.25 {
		t.Errorf("udp probe p50 %.3f ms vs ping p50 %.3f ms: differ by %.3f ms, more than 0.25 ms", us.P50, is.P50, d)
	}
}
