package inline

import "time"

// Clock tells the time to a tunnel's timers and handshakes. Tests pass a
// fake one to step through the protocol's timers without waiting.
type Clock interface {
	// Now returns the current time; it must not go backwards.
	Now() time.Time
}

// systemClock is the real clock.
type systemClock struct{}

// Now returns time.Now().
func (systemClock) Now() time.Time { return time.Now() }
