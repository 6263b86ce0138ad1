package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NSExecArg is the hidden first argument with which wgbench re-executes
// itself to run a program inside a network namespace:
//
//	wgbench __nsexec /run/netns/NAME HOSTDIR PROGRAM ARGS...
//
// The child enters the namespace on a locked thread, gets a private mount
// namespace with /sys remounted (so /sys/class/net shows the namespace's
// devices, as `ip netns exec` does) and HOSTDIR/wireguard bound on
// /run/wireguard, and executes PROGRAM in place. The bind gives each host
// its own directory of userspace WireGuard control sockets, as separate
// machines have: without it gw1's and gw2's devices of the same name would
// fight over one socket path.
const NSExecArg = "__nsexec"

// MaybeNSExec runs the __nsexec trampoline when the process was started as
// one, and never returns in that case. main calls it first thing.
func MaybeNSExec() {
	if len(os.Args) < 5 || os.Args[1] != NSExecArg {
		return
	}
	if err := nsExec(os.Args[2], os.Args[3], os.Args[4:]); err != nil {
		fmt.Fprintf(os.Stderr, "wgbench: run %q in namespace %s: %v\n", os.Args[4], os.Args[2], err)
		os.Exit(127)
	}
}

// wgSocketDir is where wireguard-go and wgctrl keep control sockets.
const wgSocketDir = "/run/wireguard"

func nsExec(nsPath, hostDir string, argv []string) error {
	runtime.LockOSThread()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open namespace: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace: %w", err)
	}
	unix.Close(fd)
	// A sysfs mounted now is tagged with the namespace just entered.
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err == nil {
		if err := unix.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
			return fmt.Errorf("mount /sys for the namespace: %w", err)
		}
	}
	if hostDir != "" {
		own := filepath.Join(hostDir, "wireguard")
		if err := os.MkdirAll(own, 0o700); err != nil {
			return err
		}
		if err := os.MkdirAll(wgSocketDir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(own, wgSocketDir, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", own, wgSocketDir, err)
		}
	}
	return unix.Exec(path, argv, os.Environ())
}
