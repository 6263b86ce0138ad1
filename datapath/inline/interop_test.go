package inline

import (
	"net/netip"

	"testing"

	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// TestInteropWireGuardGo runs the inline engine against wireguard-go's
// device over channel-backed TUNs and binds: handshake from either side,
// with and without a preshared key, then data both ways.
func TestInteropWireGuardGo(t *testing.T) {
	tests := []struct {
		name            string
		inlineInitiates bool
		psk             bool
	}{
		{"inline initiates", true, false},
		{"wireguard-go initiates", false, false},
		{"inline initiates with psk", true, true},
		{"wireguard-go initiates with psk", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			binds := bindtest.NewChannelBinds()
			tunI, tunW := tuntest.NewChannelTUN(), tuntest.NewChannelTUN()
			privI, privW := genKey(t), genKey(t)
			cfg := TunnelConfig{Name: "inl0", PrivateKey: privI, Peer: PeerConfig{
				PublicKey: privW.PublicKey(), AllowedIPs: []netip.Prefix{pfxB}}}
			w := wgPeer{pub: privI.PublicKey(), allowed: pfxA, endpoint: "127.0.0.1:2"}
			if tt.psk {
				psk := genKey(t)
				cfg.Peer.PresharedKey, w.psk = psk, &psk
			}
			if tt.inlineInitiates {
				// Only the initiator needs to know where its peer is.
				cfg.Peer.Endpoint, w.endpoint = netip.MustParseAddrPort("127.0.0.1:1"), ""
			}
			in := startTunnel(t, tunI.TUN(), binds[0], cfg, nil)
			startWireGuardGo(t, tunW.TUN(), binds[1], privW, w)

			if tt.inlineInitiates {
				p := ping(addrB, addrA, 0)
				tunI.Outbound <- p
				expectPacket(t, tunW.Inbound, p, "first packet, inline to wireguard-go")
			} else {
				p := ping(addrA, addrB, 0)
				tunW.Outbound <- p
				expectPacket(t, tunI.Inbound, p, "first packet, wireguard-go to inline")
			}
			for i := uint16(1); i <= 20; i++ {
				p := ping(addrB, addrA, i)
				tunI.Outbound <- p
				expectPacket(t, tunW.Inbound, p, "inline to wireguard-go")
				q := ping(addrA, addrB, i)
				tunW.Outbound <- q
				expectPacket(t, tunI.Inbound, q, "wireguard-go to inline")
			}
			st := in.Stats()
			if st.Handshakes != 1 {
				t.Errorf("handshakes = %d, want 1", st.Handshakes)
			}
			if st.RxPackets < 20 || st.TxPackets < 20 {
				t.Errorf("rx/tx packets = %d/%d, want >= 20 each", st.RxPackets, st.TxPackets)
			}
			for r, n := range st.Drops {
				if n != 0 {
					t.Errorf("drops[%s] = %d, want 0", r, n)
				}
			}
		})
	}
}
