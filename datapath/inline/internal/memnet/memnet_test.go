package memnet

import (
	"net/netip"
	"testing"
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
