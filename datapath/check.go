package datapath

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CheckResult says whether an engine can run on this host, and if not, why
// and what to do. It is the JSON `wgbench agent check` prints.
type CheckResult struct {
	Engine string `json:"engine"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// Check tells whether engine can run in the current network namespace of
// this host. It changes nothing that outlives the call.
func Check(engine string) CheckResult {
	res := CheckResult{Engine: engine, OK: true}
	fail := func(format string, args ...any) CheckResult {
		res.OK, res.Reason = false, fmt.Sprintf(format, args...)
		return res
	}
	switch engine {
	case "plain":
		return res
	case "wggo", "inline":
		f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
		if err != nil {
			return fail("the %s datapath needs /dev/net/tun: %v (load the tun module: modprobe tun)", engine, err)
		}
		f.Close()
		return res
	case "kernel":
		if err := probeKernelWireGuard(); err != nil {
			return fail("%v", err)
		}
		return res
	}
	return fail("unknown engine %q; known engines: plain, wggo, kernel, inline", engine)
}

// probeKernelWireGuard creates and deletes a wireguard link to learn
// whether the kernel has WireGuard.
func probeKernelWireGuard() error {
	name := fmt.Sprintf("wgbprobe%d", os.Getpid()%100000)
	err := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: name}})
	switch {
	case err == nil:
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
		return nil
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTSUP):
		return errors.New("this kernel has no WireGuard module (modprobe wireguard failed or it is not built); the kernel datapath needs it")
	case errors.Is(err, unix.EPERM):
		return errors.New("creating a wireguard link needs root (CAP_NET_ADMIN)")
	}
	return fmt.Errorf("probe the kernel's WireGuard: %w", err)
}
