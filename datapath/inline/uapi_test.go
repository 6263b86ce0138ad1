package inline

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uapiDo sends one request to t's UAPI handler and returns the reply's
// key=value lines (repeated keys joined by ",") and its errno.
func uapiDo(tb testing.TB, tu *Tunnel, req string) (map[string]string, int) {
	tb.Helper()
	client, server := net.Pipe()
	tb.Cleanup(func() { client.Close() })
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		done <- tu.ServeUAPI(server)
	}()
	go func() { _, _ = io.WriteString(client, req) }()
	kv := map[string]string{}
	errno := -1
	s := bufio.NewScanner(client)
	for s.Scan() {
		line := s.Text()
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, "=")
		if k == "errno" {
			errno, _ = strconv.Atoi(v)
			continue
		}
		if old, ok := kv[k]; ok {
			v = old + "," + v
		}
		kv[k] = v
	}
	client.Close()
	<-done
	return kv, errno
}

func TestUAPIGet(t *testing.T) {
	_, a, b := newInlinePair(t, 8, func(a, b *end) {
		a.cfg.Peer.PersistentKeepalive = 25 * time.Second
		a.cfg.Peer.AllowedIPs = append(a.cfg.Peer.AllowedIPs, netip.MustParsePrefix("fd00::/64"))
	})
	handshake(t, a, b)
	kv, errno := uapiDo(t, a.tunnel, "get=1\n\n")
	if errno != 0 {
		t.Fatalf("errno = %d", errno)
	}
	st := a.tunnel.Stats()
	priv, peer := a.cfg.PrivateKey, a.cfg.Peer.PublicKey
	want := map[string]string{
		"private_key":                   hex.EncodeToString(priv[:]),
		"listen_port":                   "51820",
		"public_key":                    hex.EncodeToString(peer[:]),
		"preshared_key":                 strings.Repeat("0", 64),
		"protocol_version":              "1",
		"endpoint":                      underB.String(),
		"tx_bytes":                      strconv.FormatUint(st.TxBytes, 10),
		"rx_bytes":                      strconv.FormatUint(st.RxBytes, 10),
		"persistent_keepalive_interval": "25",
		"allowed_ip":                    "198.19.0.2/32,fd00::/64",
		"last_handshake_time_sec":       strconv.FormatInt(st.LastHandshake.Unix(), 10),
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	if st.TxBytes == 0 || st.RxBytes == 0 || st.LastHandshake.IsZero() {
		t.Errorf("stats %+v: want traffic and a handshake", st)
	}
}

func TestUAPISet(t *testing.T) {
	_, a, _ := newInlinePair(t, 8, nil)
	peer := a.cfg.Peer.PublicKey
	stranger := genKey(t).PublicKey()
	tests := []struct {
		name  string
		req   string
		errno int
		check func(t *testing.T, kv map[string]string)
	}{
		{"endpoint, keepalive and allowed IPs",
			fmt.Sprintf("set=1\npublic_key=%x\nendpoint=198.18.5.5:1234\npersistent_keepalive_interval=7\nreplace_allowed_ips=true\nallowed_ip=198.19.4.0/24\n\n", peer[:]),
			0, func(t *testing.T, kv map[string]string) {
				if kv["endpoint"] != "198.18.5.5:1234" || kv["persistent_keepalive_interval"] != "7" || kv["allowed_ip"] != "198.19.4.0/24" {
					t.Errorf("after set: %v", kv)
				}
			}},
		{"add an allowed IP", fmt.Sprintf("set=1\npublic_key=%x\nallowed_ip=198.19.5.0/24\n\n", peer[:]), 0,
			func(t *testing.T, kv map[string]string) {
				if kv["allowed_ip"] != "198.19.4.0/24,198.19.5.0/24" {
					t.Errorf("allowed_ip = %q", kv["allowed_ip"])
				}
			}},
		{"another peer", fmt.Sprintf("set=1\npublic_key=%x\nendpoint=198.18.6.6:1\n\n", stranger[:]), 22, nil},
		{"change the private key", fmt.Sprintf("set=1\nprivate_key=%x\n\n", stranger[:]), 22, nil},
		{"bad endpoint", fmt.Sprintf("set=1\npublic_key=%x\nendpoint=nowhere\n\n", peer[:]), 22, nil},
		{"unknown operation", "frobnicate=1\n\n", 71, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := uapiDo(t, a.tunnel, "get=1\n\n")
			if _, errno := uapiDo(t, a.tunnel, tt.req); errno != tt.errno {
				t.Fatalf("errno = %d, want %d", errno, tt.errno)
			}
			after, _ := uapiDo(t, a.tunnel, "get=1\n\n")
			if tt.check != nil {
				tt.check(t, after)
			} else if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("a failed set changed the device:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestNoKeysInLogs runs a tunnel pair with debug logging through a
// handshake, traffic, UAPI and a failed UAPI set, and checks that no
// private or preshared key appears in the log.
func TestNoKeysInLogs(t *testing.T) {
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	psk := genKey(t)
	_, a, b := newInlinePair(t, 8, func(a, b *end) {
		a.cfg.Log, b.cfg.Log = log, log
		a.cfg.Peer.PresharedKey, b.cfg.Peer.PresharedKey = psk, psk
	})
	handshake(t, a, b)
	uapiDo(t, a.tunnel, "get=1\n\n")
	uapiDo(t, a.tunnel, fmt.Sprintf("set=1\nprivate_key=%x\n\n", b.cfg.PrivateKey[:]))
	a.tunnel.Close()
	b.tunnel.Close()
	if !strings.Contains(logs.String(), "inline tunnel up") {
		t.Fatal("nothing was logged; the test checks nothing")
	}
	for name, k := range map[string][32]byte{"A private": a.cfg.PrivateKey, "B private": b.cfg.PrivateKey, "preshared": psk} {
		for _, enc := range []string{hex.EncodeToString(k[:]), base64.StdEncoding.EncodeToString(k[:])} {
			if strings.Contains(logs.String(), enc) {
				t.Errorf("the log contains the %s key", name)
			}
		}
	}
}
