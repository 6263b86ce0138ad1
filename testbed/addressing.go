package testbed

import (
	"fmt"
	"net/netip"
)

// The addressing plan of the testbed (the paper's Fig. 3), taken from
// 198.18.0.0/15, the range reserved for network benchmarks (RFC 2544):
//
//	source 198.18.0.2 ──LAN1 198.18.0.0/24── 198.18.0.1 gw1
//	gw1 198.18.255.1 ──WAN 198.18.255.0/24── 198.18.255.2 gw2
//	gw2 198.19.0.1 ──LAN2 198.19.0.0/24── 198.19.0.2 drain
//
// Flow f of tunnel t goes from 198.18.(t+1).(f+1) on source to
// 198.19.(t+1).(f+1) on drain, so tunnel t carries exactly the prefixes
// 198.18.(t+1).0/24 (gw2's allowed IPs) and 198.19.(t+1).0/24 (gw1's).
// Tunnel t listens on UDP port BasePort+t on both gateways.
const (
	// MaxTunnels is the largest tunnel count the plan can address.
	MaxTunnels = 250
	// MaxFlowsPerTunnel is the largest flow count per tunnel.
	MaxFlowsPerTunnel = 250
	// BasePort is the UDP port of tunnel 0.
	BasePort = 51820
	// IperfBasePort is the TCP/UDP port of flow 0's iperf3 server.
	IperfBasePort = 5201
)

var (
	// LAN1 joins source and gw1.
	LAN1 = netip.MustParsePrefix("198.18.0.0/24")
	// WAN joins gw1 and gw2; the tunnels' outer packets cross it.
	WAN = netip.MustParsePrefix("198.18.255.0/24")
	// LAN2 joins gw2 and drain.
	LAN2 = netip.MustParsePrefix("198.19.0.0/24")
	// SourceSite and DrainSite hold every flow address of each side.
	SourceSite = netip.MustParsePrefix("198.18.0.0/16")
	DrainSite  = netip.MustParsePrefix("198.19.0.0/16")
)

// Link addresses of each host, with the prefix length of their link.
var (
	SourceLAN = netip.MustParsePrefix("198.18.0.2/24")
	GW1LAN    = netip.MustParsePrefix("198.18.0.1/24")
	GW1WAN    = netip.MustParsePrefix("198.18.255.1/24")
	GW2WAN    = netip.MustParsePrefix("198.18.255.2/24")
	GW2LAN    = netip.MustParsePrefix("198.19.0.1/24")
	DrainLAN  = netip.MustParsePrefix("198.19.0.2/24")
)

// FlowAddrs returns the source and drain addresses of flow f of tunnel t
// (both counted from 0).
func FlowAddrs(t, f int) (src, dst netip.Addr, err error) {
	if t < 0 || t >= MaxTunnels || f < 0 || f >= MaxFlowsPerTunnel {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("flow %d of tunnel %d is outside the addressing plan (at most %d tunnels × %d flows)", f, t, MaxTunnels, MaxFlowsPerTunnel)
	}
	src = netip.AddrFrom4([4]byte{198, 18, byte(t + 1), byte(f + 1)})
	dst = netip.AddrFrom4([4]byte{198, 19, byte(t + 1), byte(f + 1)})
	return src, dst, nil
}

// TunnelPrefixes returns the prefixes tunnel t carries: the source side's
// (gw2 routes it into the tunnel) and the drain side's (gw1 routes it).
func TunnelPrefixes(t int) (src, dst netip.Prefix) {
	src = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(t + 1), 0}), 24)
	dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(t + 1), 0}), 24)
	return src, dst
}

// Plan returns a description of the addressing for results.
func Plan() map[string]string {
	return map[string]string{
		"lan1":        LAN1.String(),
		"wan":         WAN.String(),
		"lan2":        LAN2.String(),
		"flow_source": "198.18.<tunnel+1>.<flow+1>",
		"flow_drain":  "198.19.<tunnel+1>.<flow+1>",
		"tunnel_port": fmt.Sprintf("%d+<tunnel>", BasePort),
		"iperf3_port": fmt.Sprintf("%d+<flow index in point>", IperfBasePort),
	}
}

// TunnelDevice names tunnel t's interface on both gateways for the run
// tagged tag: wg<tag>-<t>. The tag keeps the names of concurrent runs
// apart, also for userspace devices whose control sockets share one
// directory across namespaces.
func TunnelDevice(tag string, t int) string { return fmt.Sprintf("wg%s-%d", tag, t) }
