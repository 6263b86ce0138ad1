package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/probes/latency"
)

// TestAgentEchoAndProbe runs the two verbs as the runner does: the echo
// says where it listens, the probe prints every round trip as JSON.
func TestAgentEchoAndProbe(t *testing.T) {
	bin := testutil.Wgbench(t)
	echo := exec.Command(bin, "agent", "echo", "--listen", "127.0.0.1:0")
	out, err := echo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		echo.Process.Signal(syscall.SIGTERM)
		if err := echo.Wait(); err != nil {
			t.Errorf("echo after SIGTERM: %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "echo listening on ") {
		t.Fatalf("echo said %q, %v", line, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "echo listening on "))
	data, err := exec.Command(bin, "agent", "probe", "--to", addr, "--rate", "100", "--duration", "300ms").Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	var rep latency.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("probe output %q: %v", data, err)
	}
	if rep.Probe != "udp" || rep.Sent != 30 || rep.Received != 30 || len(rep.RTTMs) != 30 {
		t.Errorf("probe report %+v, want 30 probes sent and answered", rep)
	}
	for _, bad := range [][]string{
		{"agent", "probe", "--to", addr, "--rate", "0"},
		{"agent", "probe", "--to", "nowhere"},
		{"agent", "probe", "--to", addr, "--kind", "tcp"},
		{"agent", "echo", "--listen", "nowhere"},
	} {
		if out, err := exec.Command(bin, bad...).CombinedOutput(); err == nil {
			t.Errorf("%q: no error; output %s", bad, out)
		}
	}
}
