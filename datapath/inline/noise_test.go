package inline

import (
	"errors"
	"testing"
	"time"
)

// fixedKey returns a deterministic key whose bytes are all b.
func fixedKey(b byte) key {
	var k key
	for i := range k {
		k[i] = b
	}
	return k
}

// handshakePair is two noiseKeys that are each other's peer.
func handshakePair(t testing.TB, psk key) (initiator, responder *noiseKeys) {
	t.Helper()
	privI, privR := fixedKey(1), fixedKey(2)
	pubI, pubR := publicKey(&privI), publicKey(&privR)
	i, err := newNoiseKeys(privI, pubR, psk)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newNoiseKeys(privR, pubI, psk)
	if err != nil {
		t.Fatal(err)
	}
	return i, r
}

func TestNoiseHandshake(t *testing.T) {
	for _, tt := range []struct {
		name string
		psk  key
	}{{"no psk", key{}}, {"psk", fixedKey(9)}} {
		t.Run(tt.name, func(t *testing.T) {
			ini, res := handshakePair(t, tt.psk)
			now := time.Unix(1700000000, 123456789)
			m, st, err := ini.createInitiation(now, 7, fixedKey(3))
			if err != nil {
				t.Fatal(err)
			}
			var buf [initiationSize]byte
			m.marshal(buf[:])
			got, err := parseInitiation(buf[:])
			if err != nil || got != m {
				t.Fatalf("initiation does not round-trip: %v", err)
			}
			c, err := res.consumeInitiation(&got)
			if err != nil {
				t.Fatalf("consumeInitiation: %v", err)
			}
			if c.remoteIndex != 7 || c.timestamp != tai64n(now) {
				t.Errorf("consumed index %d timestamp %x, want 7 %x", c.remoteIndex, c.timestamp, tai64n(now))
			}
			r, rkeys, err := res.createResponse(c, 8, fixedKey(4))
			if err != nil {
				t.Fatal(err)
			}
			ikeys, err := ini.consumeResponse(st, &r)
			if err != nil {
				t.Fatalf("consumeResponse: %v", err)
			}
			if ikeys.send != rkeys.recv || ikeys.recv != rkeys.send || ikeys.send == ikeys.recv {
				t.Errorf("transport keys do not pair up")
			}
		})
	}
}

func TestNoiseRejects(t *testing.T) {
	ini, res := handshakePair(t, key{})
	// A responder that is not res: same initiator key, another peer.
	otherPriv := fixedKey(6)
	other, err := newNoiseKeys(fixedKey(1), publicKey(&otherPriv), key{})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newNoiseKeys(fixedKey(5), res.pub, key{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name  string
		msg   func() initiation
		want  error
		keys  *noiseKeys
		check func(error) bool
	}{
		{"flipped static", func() initiation {
			m, _, _ := ini.createInitiation(now, 1, fixedKey(3))
			m.static[5] ^= 1
			return m
		}, errAuth, res, nil},
		{"flipped timestamp", func() initiation {
			m, _, _ := ini.createInitiation(now, 1, fixedKey(3))
			m.timestamp[0] ^= 1
			return m
		}, errAuth, res, nil},
		{"low-order ephemeral", func() initiation {
			m, _, _ := ini.createInitiation(now, 1, fixedKey(3))
			m.ephemeral = key{}
			return m
		}, errAuth, res, nil},
		{"unknown static key", func() initiation {
			m, _, _ := stranger.createInitiation(now, 1, fixedKey(3))
			return m
		}, errUnknownKey, res, nil},
		{"initiation for someone else", func() initiation {
			m, _, _ := other.createInitiation(now, 1, fixedKey(3))
			return m
		}, errAuth, res, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg()
			if _, err := tt.keys.consumeInitiation(&m); !errors.Is(err, tt.want) {
				t.Fatalf("consumeInitiation error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("flipped response", func(t *testing.T) {
		m, st, _ := ini.createInitiation(now, 1, fixedKey(3))
		c, err := res.consumeInitiation(&m)
		if err != nil {
			t.Fatal(err)
		}
		r, _, _ := res.createResponse(c, 2, fixedKey(4))
		r.empty[0] ^= 1
		if _, err := ini.consumeResponse(st, &r); !errors.Is(err, errAuth) {
			t.Fatalf("consumeResponse error = %v, want errAuth", err)
		}
	})
}

func TestCookieRoundTrip(t *testing.T) {
	ini, res := handshakePair(t, key{})
	checker, gen := newCookieChecker(res.pub), newCookieGenerator(res.pub)
	now := time.Now()
	src := []byte{198, 18, 0, 1, 0x1c, 0xca}
	m, _, _ := ini.createInitiation(now, 1, fixedKey(3))
	buf := make([]byte, initiationSize)
	m.marshal(buf)
	gen.addMACs(buf, now)
	if !checker.checkMAC1(buf) {
		t.Fatal("MAC1 does not verify")
	}
	if checker.checkMAC2(buf, src, now) {
		t.Fatal("MAC2 verifies without a cookie")
	}
	reply, err := checker.createReply(buf, 1, src, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.consumeReply(&reply, now); err != nil {
		t.Fatalf("consumeReply: %v", err)
	}
	if err := gen.consumeReply(&reply, now); err == nil {
		t.Error("a second cookie reply to the same message was accepted")
	}
	gen.addMACs(buf, now)
	if !checker.checkMAC1(buf) || !checker.checkMAC2(buf, src, now) {
		t.Fatal("MACs of the retransmission do not verify")
	}
	if checker.checkMAC2(buf, []byte{198, 18, 0, 9, 0x1c, 0xca}, now) {
		t.Error("MAC2 verifies for another source address")
	}
	if checker.checkMAC2(buf, src, now.Add(cookieRefreshTime)) {
		t.Error("MAC2 verifies after the cookie secret expired")
	}
	gen.addMACs(buf, now.Add(cookieRefreshTime))
	if !isZero(buf[mac2Offset(buf):]) {
		t.Error("an expired cookie still makes a MAC2")
	}
}
