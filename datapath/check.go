package datapath

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
	e, ok := engines[engine]
	if !ok {
		res.OK, res.Reason = false, fmt.Sprintf("unknown engine %q; known engines: %s", engine, strings.Join(Engines(), ", "))
		return res
	}
	if err := e.check(); err != nil {
		res.OK, res.Reason = false, err.Error()
	}
	return res
}

// needTUN is the check of an engine that makes TUN devices.
func needTUN(engine string) func() error {
	return func() error {
		f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("the %s datapath needs /dev/net/tun: %v (load the tun module: modprobe tun)", engine, err)
		}
		f.Close()
		return nil
	}
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
