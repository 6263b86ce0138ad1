package undo

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// privateNetns returns a netlink handle in a new, unnamed network
// namespace, which goes away with the handle.
func privateNetns(t *testing.T) *netlink.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	defer ns.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the original netns: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestGoneMatchesTheKernel reverts, on a real kernel, changes whose
// object is gone, and checks that Gone recognizes each error, while it
// rejects a real failure.
func TestGoneMatchesTheKernel(t *testing.T) {
	h := privateNetns(t)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	dst := &net.IPNet{IP: net.IPv4(10, 99, 0, 0).To4(), Mask: net.CIDRMask(24, 32)}
	tests := []struct {
		name string
		undo func() error
		gone bool
	}{
		{"delete a route that is gone", func() error {
			return h.RouteDel(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK})
		}, true},
		{"delete an address that is gone", func() error {
			return h.AddrDel(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 99, 0, 1).To4(), Mask: net.CIDRMask(24, 32)}})
		}, true},
		{"find a link that is gone", func() error { _, err := h.LinkByIndex(1 << 20); return err }, true},
		{"find a link by name that is gone", func() error { _, err := h.LinkByName("wgb-gone0"); return err }, true},
		{"set the MTU of a link that is gone", func() error {
			return h.LinkSetMTU(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: 1 << 20}}, 1400)
		}, true},
		{"write a sysfs knob of a device that is gone", func() error {
			return os.WriteFile("/sys/class/net/wgb-gone0/threaded", []byte("0"), 0o644)
		}, true},
		{"put back a thread's affinity after it exited", func() error {
			cmd := exec.Command("true")
			if err := cmd.Run(); err != nil {
				return err
			}
			var set unix.CPUSet
			set.Set(0)
			return unix.SchedSetaffinity(cmd.Process.Pid, &set)
		}, true},
		{"a real failure: a name the link cannot take", func() error { return h.LinkSetName(lo, "no/slash") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.undo()
			if err == nil {
				t.Fatal("no error; the test expects the kernel to refuse")
			}
			if got := Gone(err); got != tt.gone {
				var errno unix.Errno
				errors.As(err, &errno)
				t.Errorf("Gone(%v [%T, errno %d]) = %v, want %v", err, err, errno, got, tt.gone)
			}
		})
	}
}
