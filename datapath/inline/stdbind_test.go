package inline

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// TestStdNetBindLoopback runs two tunnels over wireguard-go's real
// StdNetBind on loopback with batches of mixed sizes and distinct
// payloads: UDP GSO coalesces each run of sealed messages inside the TX
// arena (see newTxState) and UDP GRO splits them again, so any overlap in
// that layout would corrupt a packet here.
func TestStdNetBindLoopback(t *testing.T) {
	n := 0
	mk := func(size int, seq uint32) []byte {
		p := udpPacket(size, addrA, addrB)
		for i := 28; i < size; i++ {
			p[i] = byte(seq*7 + uint32(i))
		}
		binary.BigEndian.PutUint32(p[28:], seq)
		return p
	}
	ta, tb := newMemTUN(maxBatch, 1420), newMemTUN(maxBatch, 1420)
	privA, privB := genKey(t), genKey(t)
	bindB := conn.NewStdNetBind()
	b := startTunnel(t, tb, bindB, TunnelConfig{Name: "stdB", PrivateKey: privB,
		Peer: PeerConfig{PublicKey: privA.PublicKey(), AllowedIPs: []netip.Prefix{pfxA}}}, nil)
	if !b.stdBind {
		t.Fatal("the tunnel did not recognise StdNetBind")
	}
	bindA := conn.NewStdNetBind()
	startTunnel(t, ta, bindA, TunnelConfig{Name: "stdA", PrivateKey: privA,
		Peer: PeerConfig{PublicKey: privB.PublicKey(), AllowedIPs: []netip.Prefix{pfxB},
			Endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.ListenPort())}}, nil)

	first := mk(100, 0)
	ta.In <- [][]byte{first}
	expectPacket(t, tb.Out, first, "first packet over loopback")
	sizes := []int{1420, 1420, 1420, 1420, 1000, 1420, 64, 64, 64, 1420, 1419, 1420}
	var want [][]byte
	for round := range 8 {
		var batch [][]byte
		for i := range 100 {
			n++
			p := mk(sizes[(round+i)%len(sizes)], uint32(n))
			batch = append(batch, p)
			want = append(want, p)
		}
		ta.In <- batch
	}
	got := map[uint32][]byte{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case p := <-tb.Out:
			got[binary.BigEndian.Uint32(p[28:])] = p
		case <-deadline:
			st := b.Stats()
			t.Fatalf("received %d of %d packets (loopback may drop under load; drops %v)", len(got), len(want), st.Drops)
		}
	}
	// Say whether the kernel let StdNetBind offload (else the arena
	// compaction was not exercised).
	tx := reflect.ValueOf(bindA).Elem().FieldByName("ipv4TxOffload").Bool()
	rx := reflect.ValueOf(bindB).Elem().FieldByName("ipv4RxOffload").Bool()
	t.Logf("StdNetBind UDP GSO %t, GRO %t", tx, rx)
	for _, w := range want {
		seq := binary.BigEndian.Uint32(w[28:])
		if string(got[seq]) != string(w) {
			t.Fatalf("packet %d arrived corrupted: %s", seq, diffAt(got[seq], w))
		}
	}
}

func diffAt(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d of %d/%d", i, len(a), len(b))
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}
