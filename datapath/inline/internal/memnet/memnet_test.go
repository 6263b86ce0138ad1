package memnet

import (
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/conn"
	"time"
)

// TestBenchPacedGenerator checks that a paced generator stops at its
// window and goes on when the sink catches up.
func TestBenchPacedGenerator(t *testing.T) {
	gen := NewGenerator(128, 1420, UDPPacket(64, netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")))
	sink := NewSink(128, 1420)
	gen.Pace(sink, 256)
	gen.Generate(1000)
	bufs := make([][]byte, 128)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	sizes := make([]int, 128)
	for range 2 {
		if n, err := gen.Read(bufs, sizes, 0); n != 128 || err != nil || sizes[0] != 64 {
			t.Fatalf("Read = %d, %v (size %d); want a full batch of 64-byte packets", n, err, sizes[0])
		}
	}
	done := make(chan int)
	go func() {
		n, _ := gen.Read(bufs, sizes, 0)
		done <- n
	}()
	select {
	case n := <-done:
		t.Fatalf("Read returned %d packets beyond the window", n)
	case <-time.After(20 * time.Millisecond):
	}
	if n, err := sink.Write(bufs[:128], 0); n != 128 || err != nil {
		t.Fatalf("sink Write = %d, %v", n, err)
	}
	if n := <-done; n != 128 || gen.Generated() != 384 || sink.SinkPackets() != 128 {
		t.Fatalf("after the sink caught up: read %d, generated %d, sunk %d", n, gen.Generated(), sink.SinkPackets())
	}
	gen.Close()
	if _, err := gen.Read(bufs, sizes, 0); err == nil {
		t.Fatal("Read on a closed generator did not fail")
	}
}

// TestTapSink checks a tap used as a sink: the datagrams it takes are
// counted where the tap counts them, never reach the receiver, and cost
// the sender no allocation (the batch they would have travelled in is
// reused); the ones it passes arrive.
func TestTapSink(t *testing.T) {
	n := New()
	from, to := netip.MustParseAddrPort("198.18.0.1:1"), netip.MustParseAddrPort("198.18.0.2:1")
	a, b := n.NewBind(from, 8), n.NewBind(to, 8)
	fns, _, err := b.Open(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Open(1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	sink := NewSink(8, 1420)
	n.SetTap(func(_, _ netip.AddrPort, p []byte) bool {
		if p[0] == 4 {
			sink.Count(1, int64(len(p)))
			return false
		}
		return true
	})
	data := [][]byte{make([]byte, 100), make([]byte, 100)}
	data[0][0], data[1][0] = 4, 4
	ep := Endpoint(to)
	if allocs := testing.AllocsPerRun(100, func() {
		if err := a.Send(data, ep); err != nil {
			t.Fatal(err)
		}
	}); allocs > 0 {
		t.Errorf("a Send the tap sinks whole allocates %.1f times", allocs)
	}
	if got, bytes := sink.SinkPackets(), sink.SinkBytes(); got != 202 || bytes != 202*100 {
		t.Errorf("sink counted %d packets, %d bytes; want 202, %d", got, bytes, 202*100)
	}
	if err := a.Send([][]byte{{1, 2, 3}}, ep); err != nil {
		t.Fatal(err)
	}
	bufs, sizes, eps := [][]byte{make([]byte, 1500)}, []int{0}, make([]conn.Endpoint, 1)
	if k, err := fns[0](bufs, sizes, eps); k != 1 || err != nil || sizes[0] != 3 || bufs[0][0] != 1 {
		t.Fatalf("receive = %d, %v (size %d, first byte %d); want the handshake-like datagram alone", k, err, sizes[0], bufs[0][0])
	}
}
