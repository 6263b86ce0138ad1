package inline

import "github.com/wgbench/wgbench/datapath/inline/internal/memnet"

// The tests run tunnels on package memnet's in-memory network and TUN,
// the same ones the datapath benchmark (package inlinebench) uses.
type (
	memNet      = memnet.Net
	memBind     = memnet.Bind
	memTUN      = memnet.TUN
	memEndpoint = memnet.Endpoint
)

func newMemNet() *memNet               { return memnet.New() }
func newMemTUN(batch, mtu int) *memTUN { return memnet.NewTUN(batch, mtu) }

// udpPacket is an IPv4/UDP packet of size bytes from src to dst.
var udpPacket = memnet.UDPPacket
