//go:build !linux

package inline

import (
	"errors"
	"net"
)

// setIncomingCPU needs Linux's SO_INCOMING_CPU.
func setIncomingCPU(*net.UDPConn, int) error { return errors.ErrUnsupported }

// incomingCPU needs Linux's SO_INCOMING_CPU.
func incomingCPU(*net.UDPConn) (int, error) { return 0, errors.ErrUnsupported }
