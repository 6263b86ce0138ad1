// Package inline is wgbench's embedded, run-to-completion WireGuard
// datapath: the "WireGuard Inline" architecture of the HPSR 2025 paper
// (Sec. IV-C) in user space.
//
// A tunnel is one TUN device, one UDP socket and exactly one peer. Its
// packets are handled start to finish on one core: a TX thread reads a
// batch from the TUN, encrypts it (in place, or for wireguard-go's
// StdNetBind straight into its UDP GSO send buffer) and sends it; an RX
// thread receives a batch from the socket, decrypts it in place, checks
// it and writes it to the TUN. Both threads are locked OS threads pinned to the
// tunnel's core and named "inline/<dev>" (the name the CPU probes of
// package probes/stage attribute), so there is no worker pool and no
// hand-off between cores. Scaling across cores comes from running many
// tunnels, spread over the allowed cores round-robin. A data thread that
// cannot go on (a TUN read failing) stops the whole tunnel rather than
// leave it half-open; Tunnel.Err, TunnelStats.Failure and UAPI say why.
//
// Why two threads and not one poll loop: the batched I/O interfaces this
// package builds on, wireguard-go's tun.Device and conn.Bind, are blocking
// calls without a readiness interface, and bypassing them for raw file
// descriptors would lose their offloads (virtio-net GSO/GRO on the TUN,
// UDP GSO/GRO on the socket). Two threads on one core is also what the
// paper's kernel module does: one softirq for each direction, both
// scheduled on the tunnel's core. A Bind with several receive functions
// (IPv4 and IPv6 sockets) gets one RX thread per function, all on the same
// core; the idle ones sleep in the network poller.
//
// Hybrid mode (TunnelConfig.Mode, Options.Mode) lifts the one-core cap of
// a lone busy tunnel: the tunnel runs inline until its home core saturates
// while other allowed cores idle; then its data threads, still reading
// and ordering on the home core, hand the sealing and opening of whole
// batches to helper threads pinned on the idle cores. Nonces are reserved
// in order before a batch is handed out, and batches are sent (or, on
// receive, checked against replay and written to the TUN) strictly in
// sequence order, as wireguard-go does. It returns to inline, with
// hysteresis, when its load falls or the tunnels homed on the borrowed
// cores get busy; the tunnels of a process see each other's load on a
// shared board, and any other work on a core through /proc/stat. The rule and its thresholds are at hybridWindow; Stats and
// UAPI (inline_mode* keys) report every switch.
//
// The control plane (handshakes, cookies, timers) runs on one ordinary
// goroutine per tunnel, so that the Curve25519 work of a handshake flood
// never stalls the data threads; it costs one handshake every two minutes
// per tunnel in normal operation.
//
// The protocol is implemented here from the WireGuard whitepaper:
// Noise_IKpsk2 handshakes, MAC1/MAC2 and cookie replies, transport data
// with the RFC 6479 anti-replay window (wireguard-go's replay package),
// keepalives, the rekey and reject timers, allowed-IPs checks on receive
// and endpoint roaming. It interoperates with wireguard-go and the Linux
// kernel module. Every dropped packet is counted by reason (see
// DropReason).
//
// Engine (Up) brings tunnels up from wg-quick configurations on real TUN
// devices and UDP sockets, with a UAPI socket per device so that wg(8) and
// wgctrl read them like any other WireGuard interface. NewTunnel runs the
// same engine over any tun.Device and conn.Bind, which is how the tests
// run it without root.
package inline
