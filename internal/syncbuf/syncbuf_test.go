package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrent writes from several goroutines while reading; run with
// -race it fails if Write and String are not serialised, and it checks
// that no write is lost or torn.
func TestConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	const writers, lines = 4, 200
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range lines {
				b.Write([]byte("line\n"))
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_ = b.String()
		}
	}()
	wg.Wait()
	<-done
	got := b.String()
	if n := strings.Count(got, "line\n"); n != writers*lines || len(got) != writers*lines*len("line\n") {
		t.Fatalf("got %d whole lines in %d bytes, want %d", n, len(got), writers*lines)
	}
}
