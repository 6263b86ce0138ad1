package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wgbench/wgbench/testbed"
)

// TestLifeline checks that a wgbench process whose stdin the SSH driver
// made its lifeline stops when stdin closes, and only then.
func TestLifeline(t *testing.T) {
	for _, on := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stdin := os.Stdin
		os.Stdin = r
		if on {
			t.Setenv(testbed.LifelineEnv, "1")
		}
		ctx, cancel := lifeline(context.Background())
		os.Stdin = stdin
		if got := os.Getenv(testbed.LifelineEnv); got != "" {
			t.Errorf("%s=%s is left for the processes wgbench starts", testbed.LifelineEnv, got)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("lifeline %v: ended before stdin closed", on)
		case <-time.After(50 * time.Millisecond):
		}
		w.Close()
		wait := 200 * time.Millisecond // long enough to see it does not end
		if on {
			wait = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			if !on {
				t.Error("without the lifeline, closing stdin ended the context")
			} else if cause := context.Cause(ctx); !strings.Contains(cause.Error(), "standard input closed") {
				t.Errorf("cause %v", cause)
			}
		case <-time.After(wait):
			if on {
				t.Error("with the lifeline, closing stdin did not end the context")
			}
		}
		cancel(nil)
		r.Close()
	}
}
