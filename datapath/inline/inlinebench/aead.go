package inlinebench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// paddedLen is the length a plaintext of size n is padded to before
// sealing: a multiple of 16, but not beyond the MTU (whitepaper Sec.
// 5.4.6), as the inline engine pads it.
func paddedLen(n, mtu int) int {
	p := (n + 15) &^ 15
	if p > mtu {
		p = max(n, mtu)
	}
	return p
}

// measureAEAD seals and opens one padded packet in place per iteration,
// as a tunnel pair does per packet, on one locked thread.
func measureAEAD(ctx context.Context, c Case, a Amount) (Result, error) {
	var k [chacha20poly1305.KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return Result{}, err
	}
	aead, err := chacha20poly1305.New(k[:])
	if err != nil {
		return Result{}, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	p := paddedLen(c.Size, MTU)
	buf := make([]byte, p+chacha20poly1305.Overhead)
	var ctr uint64
	sealOpen := func() error {
		binary.LittleEndian.PutUint64(nonce[4:], ctr)
		ctr++
		aead.Seal(buf[:0], nonce[:], buf[:p], nil)
		if _, err := aead.Open(buf[:0], nonce[:], buf[:p+chacha20poly1305.Overhead], nil); err != nil {
			return fmt.Errorf("inlinebench: open what was just sealed: %w", err)
		}
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if a.Started != nil {
		a.Started()
	}
	cpu0, t0 := cpuTime(), time.Now()
	var n int64
	if a.Packets > 0 {
		for ; n < a.Packets; n++ {
			if err := sealOpen(); err != nil {
				return Result{}, err
			}
		}
	} else {
		deadline := t0.Add(a.Duration)
		for time.Now().Before(deadline) {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			for range 64 {
				if err := sealOpen(); err != nil {
					return Result{}, err
				}
			}
			n += 64
		}
	}
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	if a.Stopped != nil {
		a.Stopped()
	}
	return result(c, n, wall, cpu), nil
}
