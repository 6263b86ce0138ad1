package inline

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// replayWindow is how far behind the newest counter the anti-replay
// filter (wireguard-go's replay package, RFC 6479 with 128 blocks of 64
// bits) still accepts an unseen counter: (128-1)·64.
const replayWindow = (128 - 1) * 64

// forgeAt seals plain as a transport message of a's current session with
// the given counter (whether or not a used it already).
func forgeAt(t *testing.T, a *end, plain []byte, counter uint64) []byte {
	t.Helper()
	kp := a.tunnel.pairs.current.Load()
	if kp == nil {
		t.Fatal("A has no session")
	}
	buf := make([]byte, messageRoom(len(plain), 1420))
	copy(buf[transportHeaderSize:], plain)
	var nonce [nonceSize]byte
	return buf[:sealPacket(kp.send, buf, buf, len(plain), 1420, kp.remoteIndex, counter, &nonce)]
}

// replayStep is one transport message with a chosen counter and what B
// must do with it.
type replayStep struct {
	counter uint64
	want    DropReason // "" means delivered
}

// TestReplayWindowEdges sends B transport messages with chosen counters
// and checks each is delivered or dropped for the right reason: at the
// window's trailing edge, across many wraps of the filter's ring, after
// a jump to the far future, and at the end of the counter space.
func TestReplayWindowEdges(t *testing.T) {
	const h = 100_000 // a counter well past the handshake's
	wrap := []replayStep{}
	// Counters 1000 apart span the 8192-counter ring about 12 times; each
	// is followed by one 500 behind it (in the window, new), and the
	// counter of the step before last (in the window, seen).
	for k := uint64(1); k <= 100; k++ {
		wrap = append(wrap, replayStep{k * 1000, ""}, replayStep{k*1000 - 500, ""})
		if k > 1 {
			wrap = append(wrap, replayStep{(k - 1) * 1000, DropReplay})
		}
	}
	wrap = append(wrap,
		// One ring's length behind: same ring slot as a counter in the
		// window, but behind the window.
		replayStep{100_000 - 128*64, DropReplay},
		replayStep{100_000 + 128*64, ""},
		replayStep{100_000, DropReplay},
	)
	for _, tc := range []struct {
		name  string
		steps []replayStep
	}{
		{"trailing edge", []replayStep{
			{h, ""},
			{h - replayWindow, ""},             // the oldest counter the window holds
			{h - replayWindow, DropReplay},     // … once
			{h - replayWindow - 1, DropReplay}, // just behind the window
			{h - 1, ""},
			{h, DropReplay},
			{h + 1, ""},
			{h - replayWindow, DropReplay}, // now behind the window
			{h + 1 - replayWindow, ""},     // the new oldest counter
		}},
		{"ring wraps", wrap},
		{"far future", []replayStep{
			{h, ""},
			{RejectAfterMessages - 1, ""}, // the last counter a session accepts
			{h + 1, DropReplay},           // the window moved with it
			{RejectAfterMessages - 2, ""}, // in the new window
			{RejectAfterMessages - 1, DropReplay},
			{RejectAfterMessages, DropExpired},
			{math.MaxUint64, DropExpired},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := newInlinePair(t, 8, nil)
			handshake(t, a, b)
			for i, s := range tc.steps {
				before := b.tunnel.Stats().Drops
				p := ping(addrB, addrA, uint16(i+10))
				n.Inject(a.addr, b.addr, forgeAt(t, a, p, s.counter))
				got := replayOutcome(t, b, before, p)
				if got != s.want {
					t.Fatalf("step %d, counter %d: %s, want %s", i, s.counter, outcomeName(got), outcomeName(s.want))
				}
			}
		})
	}
}

// replayOutcome waits for B to deliver p or count a drop since before,
// and returns the drop reason ("" for delivered).
func replayOutcome(t *testing.T, b *end, before map[DropReason]uint64, p []byte) DropReason {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-b.tun.Out:
			if string(got) != string(p) {
				t.Fatalf("B delivered %x, want %x", got, p)
			}
			return ""
		case <-deadline:
			t.Fatal("B neither delivered nor dropped the message")
		case <-time.After(time.Millisecond):
		}
		for r, n := range b.tunnel.Stats().Drops {
			if n > before[r] {
				return r
			}
		}
	}
}

func outcomeName(r DropReason) string {
	if r == "" {
		return "delivered"
	}
	return fmt.Sprintf("dropped (%s)", r)
}
