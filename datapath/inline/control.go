package inline

import (
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// controlLoop is the tunnel's control goroutine: it consumes handshake
// messages, runs the timers every Limits.Tick and on request, and drains
// the TUN's events. It is not pinned: it does no per-packet work.
func (t *Tunnel) controlLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.lim.Tick)
	defer tick.Stop()
	events := t.tun.Events()
	for {
		select {
		case <-t.done:
			return
		case m := <-t.hsQueue:
			t.handleHandshake(m, t.now())
		case <-t.kick:
		case <-tick.C:
			if t.hyb != nil && !t.hyb.injected.Load() {
				// The data threads evaluate as they measure; this
				// catches a tunnel whose threads all went idle.
				t.hyb.evaluate(time.Now())
			}
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev&tun.EventMTUUpdate != 0 {
				t.log.Debug("inline: TUN MTU changed; the tunnel keeps the MTU it started with")
			}
		}
		t.runTimers(t.now())
	}
}

// underLoad reports whether handshakes must carry a valid MAC2: the
// handshake queue is an eighth full, or was less than a second ago.
func (t *Tunnel) underLoad(now time.Duration) bool {
	if len(t.hsQueue) >= cap(t.hsQueue)/8 || t.forceUnderLoad.Load() {
		t.underLoadUntil = now + underLoadAfterTime
		return true
	}
	return now < t.underLoadUntil
}
