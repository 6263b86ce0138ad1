package inline

import (
	"math"
	"time"
)

// Protocol constants of the WireGuard whitepaper (Sec. 6.1).
const (
	// RekeyAfterMessages is the number of messages after which a sender
	// starts a new handshake.
	RekeyAfterMessages uint64 = 1 << 60
	// RejectAfterMessages is the number of messages after which a keypair
	// is no longer used, for sending or receiving.
	RejectAfterMessages uint64 = math.MaxUint64 - (1 << 13)
	// RekeyAfterTime is the session age after which the initiator of a
	// session starts a new handshake when it sends.
	RekeyAfterTime = 120 * time.Second
	// RejectAfterTime is the session age after which a keypair is no
	// longer used.
	RejectAfterTime = 180 * time.Second
	// RekeyAttemptTime is how long an initiator retries a handshake
	// before it gives up.
	RekeyAttemptTime = 90 * time.Second
	// RekeyTimeout is the wait for a handshake response before retrying.
	RekeyTimeout = 5 * time.Second
	// KeepaliveTimeout is the wait, after receiving data, for outgoing
	// data before a keepalive is sent.
	KeepaliveTimeout = 10 * time.Second
)

// Implementation constants.
const (
	// cookieRefreshTime is how long a cookie secret (responder) and a
	// received cookie (initiator) stay valid.
	cookieRefreshTime = 120 * time.Second
	// handshakeInitiationRate is the fastest rate at which initiations
	// from one peer are consumed (flood protection).
	handshakeInitiationRate = time.Second / 50
	// rekeyTimeoutJitter is the upper bound of the random delay added to
	// RekeyTimeout for retransmissions.
	rekeyTimeoutJitter = 334 * time.Millisecond
	// underLoadAfterTime is how long the tunnel keeps requiring cookies
	// after its handshake queue was last seen filling up.
	underLoadAfterTime = time.Second
	// handshakeQueueSize bounds the handshake messages waiting for the
	// control goroutine; at an eighth of it the tunnel is under load.
	handshakeQueueSize = 1024
	// stagedQueueSize bounds the packets held while there is no session.
	stagedQueueSize = 128
	// defaultTick is the control goroutine's timer resolution.
	defaultTick = 100 * time.Millisecond
	// maxBatch caps the packets handled per read or write.
	maxBatch = 128
)

// Limits are the protocol's timing and counting limits. The zero value of
// a field means the whitepaper's constant; tests shorten them.
type Limits struct {
	// RekeyAfterMessages defaults to RekeyAfterMessages.
	RekeyAfterMessages uint64
	// RejectAfterMessages defaults to RejectAfterMessages.
	RejectAfterMessages uint64
	// RekeyAfterTime defaults to RekeyAfterTime.
	RekeyAfterTime time.Duration
	// RejectAfterTime defaults to RejectAfterTime.
	RejectAfterTime time.Duration
	// RekeyAttemptTime defaults to RekeyAttemptTime.
	RekeyAttemptTime time.Duration
	// RekeyTimeout defaults to RekeyTimeout.
	RekeyTimeout time.Duration
	// KeepaliveTimeout defaults to KeepaliveTimeout.
	KeepaliveTimeout time.Duration
	// Tick is the resolution of the timers; it defaults to 100ms.
	Tick time.Duration
}

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.RekeyAfterMessages == 0 {
		l.RekeyAfterMessages = RekeyAfterMessages
	}
	if l.RejectAfterMessages == 0 {
		l.RejectAfterMessages = RejectAfterMessages
	}
	def(&l.RekeyAfterTime, RekeyAfterTime)
	def(&l.RejectAfterTime, RejectAfterTime)
	def(&l.RekeyAttemptTime, RekeyAttemptTime)
	def(&l.RekeyTimeout, RekeyTimeout)
	def(&l.KeepaliveTimeout, KeepaliveTimeout)
	def(&l.Tick, defaultTick)
	return l
}
