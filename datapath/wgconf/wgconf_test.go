package wgconf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// testKeys are fixed keys so that test output is stable.
type testKeys struct {
	priv, pub, psk, peer2 wgtypes.Key
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	var k testKeys
	for i, dst := range []*wgtypes.Key{&k.priv, &k.pub, &k.psk, &k.peer2} {
		var seed [32]byte
		for j := range seed {
			seed[j] = byte(i*32 + j + 1)
		}
		key, err := wgtypes.NewKey(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		*dst = key
	}
	k.pub = k.pub.PublicKey()
	k.peer2 = k.peer2.PublicKey()
	return k
}

// expand fills {PRIV}, {PUB}, {PSK} and {PUB2} into a template.
func (k testKeys) expand(s string) string {
	return strings.NewReplacer("{PRIV}", k.priv.String(), "{PUB}", k.pub.String(),
		"{PSK}", k.psk.String(), "{PUB2}", k.peer2.String()).Replace(s)
}

var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

const goodConf = `# gateway 1
[Interface]
PrivateKey = {PRIV}
listenport = 51820          # case does not matter
Address = 198.19.0.1/32, 2001:db8::1/64
Address = 198.19.1.1/24
MTU = 1400
Table = off

[Peer]
PublicKey = {PUB}
PresharedKey = {PSK}
AllowedIPs = 198.19.0.2/32, 198.18.2.7/24
AllowedIPs = 2001:db8:2::
Endpoint = 198.18.255.2:51821
PersistentKeepalive = 25

[peer]
PublicKey = {PUB2}
Endpoint = [2001:db8::2]:51822
`

func TestParse(t *testing.T) {
	k := newTestKeys(t)
	got, err := Parse("wg0", strings.NewReader(k.expand(goodConf)))
	if err != nil {
		t.Fatal(err)
	}
	ep1 := netip.MustParseAddrPort("198.18.255.2:51821")
	ep2 := netip.MustParseAddrPort("[2001:db8::2]:51822")
	psk := k.psk
	want := &Config{
		Name: "wg0",
		Interface: Interface{
			PrivateKey: k.priv,
			ListenPort: 51820,
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.19.0.1/32"),
				netip.MustParsePrefix("2001:db8::1/64"), netip.MustParsePrefix("198.19.1.1/24")},
			MTU:      1400,
			TableOff: true,
		},
		Peers: []Peer{{
			PublicKey:    k.pub,
			PresharedKey: &psk,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.19.0.2/32"),
				netip.MustParsePrefix("198.18.2.0/24"), netip.MustParsePrefix("2001:db8:2::/128")},
			Endpoint:            &ep1,
			PersistentKeepalive: 25 * time.Second,
		}, {
			PublicKey: k.peer2,
			Endpoint:  &ep2,
		}},
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

func TestRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	for _, text := range []string{goodConf, "[Interface]\nPrivateKey = {PRIV}\n"} {
		first, err := Parse("wg0", strings.NewReader(k.expand(text)))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := first.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
		}
		second, err := Parse("wg0", &buf)
		if err != nil {
			t.Fatalf("re-parse written config: %v", err)
		}
		if diff := cmp.Diff(first, second, cmpOpts...); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	}
}

func TestParseFile(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gw1-t0.conf")
	if err := os.WriteFile(path, []byte(k.expand(goodConf)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "gw1-t0" {
		t.Errorf("Name = %q, want gw1-t0", c.Name)
	}

	bad := filepath.Join(dir, "much-too-long-name.conf")
	if err := os.WriteFile(bad, []byte(k.expand(goodConf)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(bad); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("ParseFile(%s) error = %v, want invalid interface name", bad, err)
	}
	if _, err := ParseFile(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile(missing) error = %v, want os.ErrNotExist", err)
	}
}

func TestParseErrors(t *testing.T) {
	k := newTestKeys(t)
	const iface = "[Interface]\nPrivateKey = {PRIV}\n"
	tests := []struct {
		name string
		text string
		line int
		want string
	}{
		{"key outside section", "ListenPort = 1\n" + iface, 1, "outside a section"},
		{"unknown section", iface + "[Peers]\n", 3, "unknown section Peers"},
		{"unclosed section", "[Interface\n", 1, "closing bracket"},
		{"no equals", iface + "ListenPort 51820\n", 3, "expected `Key = Value`"},
		{"unknown key", iface + "Adress = 198.19.0.1/32\n", 3, "unknown key Adress in [Interface]"},
		{"unknown peer key", iface + "[Peer]\nPublicKey = {PUB}\nAllowedIP = 198.19.0.2/32\n", 5, "unknown key AllowedIP in [Peer]"},
		{"DNS", iface + "DNS = 198.18.0.53\n", 3, "DNS is not supported by wgbench"},
		{"PostUp", iface + "PostUp = iptables -A FORWARD\n", 3, "PostUp is not supported by wgbench"},
		{"Table number", iface + "Table = 1234\n", 3, "Table = 1234 is not supported by wgbench"},
		{"bad base64", "[Interface]\nPrivateKey = not*base64!\n", 2, "PrivateKey is not valid base64"},
		{"short key", "[Interface]\nPrivateKey = AAAAAAAAAAAAAAAAAAAAAA==\n", 2, "decodes to 16 bytes, want 32"},
		{"zero private key", "[Interface]\nPrivateKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 2, "all zeros"},
		{"empty public key", iface + "[Peer]\nPublicKey =\n", 4, "PublicKey is empty"},
		{"missing private key", "\n[Interface]\nListenPort = 51820\n", 2, "has no PrivateKey"},
		{"no interface", "# nothing\n", 0, "no [Interface] section"},
		{"missing public key", iface + "\n[Peer]\nAllowedIPs = 198.19.0.2/32\n", 4, "[Peer] has no PublicKey"},
		{"port too big", iface + "ListenPort = 70000\n", 3, "ListenPort 70000 out of range"},
		{"port zero", iface + "ListenPort = 0\n", 3, "ListenPort 0 out of range"},
		{"port not a number", iface + "ListenPort = http\n", 3, `ListenPort "http" is not a number`},
		{"MTU too small", iface + "MTU = 100\n", 3, "MTU 100 out of range"},
		{"bad CIDR", iface + "Address = 198.19.0.300/24\n", 3, `Address entry "198.19.0.300/24" is not an IP prefix`},
		{"bad prefix length", iface + "[Peer]\nPublicKey = {PUB}\nAllowedIPs = 198.19.0.0/33\n", 5, "AllowedIPs entry"},
		{"empty list entry", iface + "Address = 198.19.0.1/32,\n", 3, "empty entry in Address"},
		{"duplicate key", iface + "ListenPort = 1\nlistenport = 2\n", 4, "duplicate listenport in this section (first on line 3)"},
		{"duplicate private key", iface + "PrivateKey = {PRIV}\n", 3, "duplicate PrivateKey"},
		{"second interface", iface + "[Interface]\n", 3, "second [Interface] section (first on line 1)"},
		{"host name endpoint", iface + "[Peer]\nPublicKey = {PUB}\nEndpoint = gw2.example:51820\n", 5, "host names are not resolved"},
		{"endpoint without port", iface + "[Peer]\nPublicKey = {PUB}\nEndpoint = 198.18.255.2\n", 5, "is not IP:port"},
		{"keepalive", iface + "[Peer]\nPublicKey = {PUB}\nPersistentKeepalive = -1\n", 5, "PersistentKeepalive -1 out of range"},
		{"duplicate peer", iface + "[Peer]\nPublicKey = {PUB}\n[Peer]\nPublicKey = {PUB}\n", 5, "repeats the PublicKey of the peer on line 3"},
		{"own key as peer", iface + "[Peer]\nPublicKey = " + k.priv.PublicKey().String() + "\n", 3, "own public key"},
		{"shared allowed ip", iface + "[Peer]\nPublicKey = {PUB}\nAllowedIPs = 198.18.2.0/24\n[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 198.18.2.1/24\n", 6, "AllowedIPs 198.18.2.0/24 is already given to the peer on line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("wg0", strings.NewReader(k.expand(tt.text)))
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *ParseError", err, err)
			}
			if pe.Line != tt.line {
				t.Errorf("error line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			prefix := fmt.Sprintf("wg0:%d: ", tt.line)
			if tt.line == 0 {
				prefix = "wg0: "
			}
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q and %q", err, prefix, tt.want)
			}
			if !strings.Contains(err.Error(), ";") {
				t.Errorf("error %q does not say what to write", err)
			}
		})
	}
}

// TestNoKeyLeak checks that neither errors nor the fmt forms of a Config
// ever carry private or preshared key material.
func TestNoKeyLeak(t *testing.T) {
	k := newTestKeys(t)
	secrets := map[string]string{}
	for name, key := range map[string]wgtypes.Key{"private": k.priv, "preshared": k.psk} {
		secrets[name+" base64"] = key.String()
		secrets[name+" base64 prefix"] = key.String()[:12]
		secrets[name+" hex"] = hex.EncodeToString(key[:])
	}
	check := func(t *testing.T, what, text string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the %s key: %q", what, name, text)
			}
		}
	}

	keyed := "[Interface]\nPrivateKey = {PRIV}\n[Peer]\nPublicKey = {PUB}\nPresharedKey = {PSK}\n"
	for _, bad := range []string{
		"garbage line\n",
		"{PRIV}\n",
		"{PSK} = 1\n",
		"Endpoint = {PRIV}\n",
		"AllowedIPs = {PSK}\n",
		"PersistentKeepalive = {PSK}\n",
		"PrivateKey: {PRIV}\n",
		"[{PRIV}]\n",
		"PresharedKey = {PSK}\n", // duplicate
	} {
		_, err := Parse("wg0", strings.NewReader(k.expand(keyed+bad)))
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want error", bad)
		}
		check(t, "error for "+bad, err.Error())
	}

	c, err := Parse("wg0", strings.NewReader(k.expand(goodConf)))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		check(t, verb+" of *Config", fmt.Sprintf(verb, c))
		check(t, verb+" of Config", fmt.Sprintf(verb, *c))
		check(t, verb+" of Interface", fmt.Sprintf(verb, c.Interface))
		check(t, verb+" of Peers", fmt.Sprintf(verb, c.Peers))
	}
	red := c.Redacted()
	check(t, "Redacted", red)
	if !strings.Contains(red, k.pub.String()) || !strings.Contains(red, "PrivateKey = (redacted)") {
		t.Errorf("Redacted() lost the public parts:\n%s", red)
	}
}

func TestValidate(t *testing.T) {
	k := newTestKeys(t)
	ok := func() *Config {
		return &Config{Name: "wg0", Interface: Interface{PrivateKey: k.priv}, Peers: []Peer{{PublicKey: k.pub}}}
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"bad name", func(c *Config) { c.Name = "wg/0" }, "interface name"},
		{"no private key", func(c *Config) { c.Interface.PrivateKey = wgtypes.Key{} }, "no PrivateKey"},
		{"port", func(c *Config) { c.Interface.ListenPort = 65536 }, "ListenPort"},
		{"mtu", func(c *Config) { c.Interface.MTU = 10 }, "MTU"},
		{"no peer key", func(c *Config) { c.Peers[0].PublicKey = wgtypes.Key{} }, "no PublicKey"},
		{"dup peer", func(c *Config) { c.Peers = append(c.Peers, c.Peers[0]) }, "repeats"},
		{"keepalive", func(c *Config) { c.Peers[0].PersistentKeepalive = 1500 * time.Millisecond }, "whole seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
