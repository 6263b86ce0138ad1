package kernel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/datapath"
	"github.com/wgbench/wgbench/datapath/internal/nstest"
	"github.com/wgbench/wgbench/datapath/kernel"
)

// TestIntegrationServeKernel runs the kernel engine the way `wgbench
// datapath up --engine kernel --threaded-napi --napi-cpus 0` does on a
// gateway: Serve in a network namespace whose /sys is its own (as the
// local testbed arranges), the "tuning" line before the ready line, and
// every knob restored when the context ends (SIGTERM).
func TestIntegrationServeKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and mounts")
	}
	ns := nstest.NewNS(t, "wgbks"+nstest.Suffix(t))
	var res datapath.CheckResult
	nstest.Run(ns, func() error { res = datapath.Check("kernel"); return nil })
	if !res.OK {
		t.Skipf("%s; `make test-kernel` runs this test in a Debian kernel under QEMU", res.Reason)
	}
	dir := t.TempDir()
	dev := "wgs" + nstest.Suffix(t)
	k1, _ := wgtypes.GeneratePrivateKey()
	k2, _ := wgtypes.GeneratePrivateKey()
	conf := fmt.Sprintf("[Interface]\nPrivateKey = %s\nListenPort = 51830\nAddress = 10.99.0.1/32\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.2/32\nEndpoint = 192.0.2.2:51830\n",
		k1, k2.PublicKey())
	path := filepath.Join(dir, dev+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test reads the namespace's sysfs through its own mount.
	mnt := filepath.Join(dir, "sys")
	os.Mkdir(mnt, 0o755)
	if err := nstest.Run(ns, func() error { return unix.Mount("sysfs", mnt, "sysfs", 0, "") }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	threaded := func() string {
		b, err := os.ReadFile(filepath.Join(mnt, "class/net", dev, "threaded"))
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(string(b))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- nstest.Run(ns, func() error {
			// What testbed/local's nsexec does before running wgbench.
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
				return err
			}
			if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil {
				return err
			}
			if err := unix.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
				return err
			}
			kf, err := datapath.ParseKernelFlags([]string{"--threaded-napi", "--napi-cpus=0", "--steering", "--optional=steering"})
			if err != nil {
				return err
			}
			opts := datapath.Options{Engine: "kernel", Configs: []string{path}, Kernel: kf}
			return datapath.Serve(ctx, opts, pw, nil)
		})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	go io.Copy(io.Discard, pr)
	if len(lines) < 2 {
		cancel()
		t.Fatalf("output %q, then Serve: %v", lines, <-served)
	}
	js, ok := strings.CutPrefix(lines[0], "tuning ")
	if !ok || lines[1] != "ready "+dev {
		t.Fatalf("output %q, want a tuning line, then \"ready %s\"", lines, dev)
	}
	var rep kernel.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("tuning line: %v", err)
	}
	if len(rep.Changes) != 2 || rep.Changes[0].Knob != "threaded_napi" || rep.Changes[0].After != "1" ||
		rep.Changes[1].Knob != "napi_cpus" || rep.Changes[1].After != "0" {
		t.Errorf("changes %+v, want threaded_napi → 1 and napi_cpus → 0", rep.Changes)
	}
	// The namespace has no route to the endpoint, so no WAN NIC: the
	// optional steering is skipped, saying so.
	if len(rep.Skipped) != 1 || rep.Skipped[0].Knob != "steering" || !strings.Contains(rep.Skipped[0].Reason, "no WAN NIC to act on: find the WAN NIC: no route to the endpoint 192.0.2.2") {
		t.Errorf("skipped %+v, want steering for want of a WAN NIC", rep.Skipped)
	}
	if got := threaded(); got != "1" {
		t.Errorf("threaded = %q while serving, want 1", got)
	}
	threads := rep.NAPIThreads[dev]
	if len(threads) != 1 {
		t.Fatalf("NAPI threads %+v, want one", threads)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := nstest.Handle(t, ns).LinkByName(dev); err == nil {
		t.Errorf("%s still exists after Serve returned", dev)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", threads[0].PID)); err == nil {
		t.Errorf("NAPI thread %d outlived its device", threads[0].PID)
	}
}
