package inline

import (
	"log/slog"
	"net"
	"reflect"

	"golang.zx2c4.com/wireguard/conn"
)

// steerBind is wireguard-go's StdNetBind for a tunnel pinned to core cpu:
// once open, each of its UDP sockets gets SO_INCOMING_CPU = cpu, and on
// close it logs the core the kernel last handled the socket's packets on
// (the same option read back), so that a run shows whether the WAN side
// of the flow lands on the tunnel's core.
//
// SO_INCOMING_CPU steers only within a SO_REUSEPORT group (the kernel
// picks the group's socket whose CPU matches the one that took the
// packet); a tunnel has one socket per address family, so the option
// steers nothing by itself today. Where the packets are handled is set by
// the NIC's RSS or ntuple rules and RPS/RFS (with RFS, the RX thread's
// pinned core is where the flow goes); the log line says whether that
// happened.
type steerBind struct {
	*conn.StdNetBind
	cpu int
	log *slog.Logger
}

// newSteerBind returns a StdNetBind whose sockets are steered to cpu.
func newSteerBind(cpu int, log *slog.Logger) *steerBind {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &steerBind{StdNetBind: conn.NewStdNetBind().(*conn.StdNetBind), cpu: cpu, log: log}
}

// Unwrap returns the StdNetBind (see isStdNetBind).
func (b *steerBind) Unwrap() conn.Bind { return b.StdNetBind }

// Open opens the StdNetBind and sets SO_INCOMING_CPU on its sockets; a
// socket that refuses it is logged, not fatal.
func (b *steerBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, p, err := b.StdNetBind.Open(port)
	if err != nil {
		return fns, p, err
	}
	for fam, c := range stdSockets(b.StdNetBind) {
		if err := setIncomingCPU(c, b.cpu); err != nil {
			b.log.Info("inline: steer: cannot set SO_INCOMING_CPU", "family", fam, "cpu", b.cpu, "err", err)
			continue
		}
		b.log.Info("inline: steer: UDP socket set to the tunnel's core", "family", fam, "port", p, "so_incoming_cpu", b.cpu)
	}
	return fns, p, nil
}

// Close logs where the kernel last handled each socket's packets, then
// closes the bind.
func (b *steerBind) Close() error {
	for fam, c := range stdSockets(b.StdNetBind) {
		if got, err := incomingCPU(c); err == nil {
			b.log.Info("inline: steer: SO_INCOMING_CPU at close (the core of the last packet received, else the one set)",
				"family", fam, "cpu", got, "tunnel_cpu", b.cpu, "on_core", got == b.cpu)
		}
	}
	return b.StdNetBind.Close()
}

// stdSockets returns the open sockets of b by family ("ipv4", "ipv6").
// StdNetBind keeps them unexported; reading the fields through reflect
// is safe after Open returned and before Close (the bind sets them only
// there), and the fields' absence (a wireguard-go that renamed them)
// just means nothing is steered.
func stdSockets(b *conn.StdNetBind) map[string]*net.UDPConn {
	out := map[string]*net.UDPConn{}
	v := reflect.ValueOf(b).Elem()
	for _, fam := range []string{"ipv4", "ipv6"} {
		f := v.FieldByName(fam)
		if !f.IsValid() || f.Type() != reflect.TypeFor[*net.UDPConn]() || f.IsNil() {
			continue
		}
		out[fam] = (*net.UDPConn)(f.UnsafePointer())
	}
	return out
}
