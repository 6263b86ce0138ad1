//go:build linux

package inline

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// setIncomingCPU sets SO_INCOMING_CPU on c.
func setIncomingCPU(c *net.UDPConn, cpu int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_INCOMING_CPU, cpu)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt SO_INCOMING_CPU %d: %w", cpu, serr)
	}
	return nil
}

// incomingCPU reads SO_INCOMING_CPU of c: the core that last handled a
// packet for it (or what setIncomingCPU set, before any arrived).
func incomingCPU(c *net.UDPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		cpu  int
		gerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cpu, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_INCOMING_CPU)
	}); err != nil {
		return 0, err
	}
	return cpu, gerr
}
