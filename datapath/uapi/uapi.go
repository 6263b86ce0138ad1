// Package uapi opens the control socket of a userspace WireGuard device
// (/var/run/wireguard/<name>.sock), which `wg` and wgctrl talk to.
package uapi

import (
	"fmt"
	"net"
	"os"

	"golang.zx2c4.com/wireguard/ipc"
)

// Listen creates the control socket of device name and returns a listener
// on it. Unlike wireguard-go's ipc.UAPIListen it sets up no inotify watch
// of the socket file: a watch per device runs into the kernel's limit of
// 128 inotify instances per user at about 64 tunnels per gateway. The
// caller removes the socket file after closing the listener.
func Listen(name string) (net.Listener, error) {
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		os.Remove(SocketPath(name)) // ours: UAPIOpen just made it
		return nil, fmt.Errorf("listen on the control socket of %s: %w", name, err)
	}
	return l, nil
}

// SocketDir is where wireguard-go keeps control sockets.
const SocketDir = "/var/run/wireguard"

// SocketPath is the control socket of device name.
func SocketPath(name string) string { return SocketDir + "/" + name + ".sock" }
