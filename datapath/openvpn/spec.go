// Package openvpn runs OpenVPN tunnels as a baseline datapath beside the
// WireGuard engines: one Debian openvpn process per tunnel, UDP, tun
// mode, TLS with a throw-away self-signed certificate per tunnel end
// (peer fingerprints, no CA), the routes of the WireGuard tunnels, and
// counters read from openvpn's management interface.
package openvpn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// The data ciphers a tunnel may use (scenario key tuning.cipher).
const (
	AES256GCM        = "AES-256-GCM"
	ChaCha20Poly1305 = "CHACHA20-POLY1305"
)

// Ciphers lists the data ciphers, the default first.
var Ciphers = []string{AES256GCM, ChaCha20Poly1305}

// DefaultMTU is the tun MTU of a tunnel that sets none: WireGuard's, so
// both carry the same inner packets.
const DefaultMTU = 1420

// Tunnel is one end of one OpenVPN tunnel: what `wgbench datapath up
// --engine openvpn` reads from a --config file (JSON). It holds the end's
// private key: write it with mode 0600 and never log it.
type Tunnel struct {
	// Device is the tun device's name.
	Device string `json:"device"`
	// Local is this end's WAN address and UDP port.
	Local netip.AddrPort `json:"local"`
	// Remote is the other end's WAN address and UDP port.
	Remote netip.AddrPort `json:"remote"`
	// Route is the prefix behind the other end, routed into the tunnel.
	Route netip.Prefix `json:"route"`
	// MTU is the tun device's MTU; 0 means DefaultMTU.
	MTU int `json:"mtu,omitempty"`
	// Cipher is the data cipher, one of Ciphers; "" means the first.
	Cipher string `json:"cipher,omitempty"`
	// Server says this end is the TLS server (it answers; the client end
	// starts the handshake).
	Server bool `json:"server,omitempty"`
	// CPU, when set, pins this tunnel's openvpn process to one core.
	CPU *int `json:"cpu,omitempty"`
	// Cert and Key are this end's self-signed certificate and private
	// key, PEM.
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// PeerFingerprint is the SHA-256 fingerprint of the other end's
	// certificate, the only certificate this end accepts.
	PeerFingerprint string `json:"peer_fingerprint"`
}

// Validate checks t's fields.
func (t *Tunnel) Validate() error {
	switch {
	case t.Device == "" || len(t.Device) > 15 || strings.ContainsAny(t.Device, "/ \t\n"):
		return fmt.Errorf("openvpn tunnel: bad device name %q", t.Device)
	case !t.Local.IsValid() || !t.Remote.IsValid():
		return fmt.Errorf("openvpn tunnel %s: local and remote address:port are required", t.Device)
	case !t.Route.IsValid():
		return fmt.Errorf("openvpn tunnel %s: route is required", t.Device)
	case t.Cipher != "" && !slices.Contains(Ciphers, t.Cipher):
		return fmt.Errorf("openvpn tunnel %s: cipher %q; allowed: %s", t.Device, t.Cipher, strings.Join(Ciphers, ", "))
	case t.Cert == "" || t.Key == "" || t.PeerFingerprint == "":
		return fmt.Errorf("openvpn tunnel %s: cert, key and peer_fingerprint are required", t.Device)
	case t.MTU < 0 || t.MTU > 9000:
		return fmt.Errorf("openvpn tunnel %s: MTU %d out of range", t.Device, t.MTU)
	}
	return nil
}

// Load reads a tunnel end from a JSON file written by Marshal.
func Load(path string) (*Tunnel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read openvpn tunnel: %w", err)
	}
	var t Tunnel
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse openvpn tunnel %s: %w", path, err)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// Marshal encodes t for Load. The result holds the private key.
func (t *Tunnel) Marshal() ([]byte, error) { return json.MarshalIndent(t, "", "  ") }

// Identity is a throw-away self-signed certificate and its key.
type Identity struct {
	// Cert and Key are PEM.
	Cert, Key string
	// Fingerprint is the certificate's SHA-256 in openvpn's
	// --peer-fingerprint form (colon-separated hex).
	Fingerprint string
	// KeyDER is the private key's PKCS#8 DER, for tests that grep it.
	KeyDER []byte
}

// NewIdentity makes a fresh P-256 key and a self-signed certificate
// named cn, valid for a day.
func NewIdentity(cn string) (Identity, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Identity{}, fmt.Errorf("make a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return Identity{}, fmt.Errorf("make a serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return Identity{}, fmt.Errorf("self-sign a certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return Identity{}, fmt.Errorf("encode a key: %w", err)
	}
	return Identity{
		Cert:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
		Fingerprint: fingerprint(der),
		KeyDER:      kder,
	}, nil
}

// fingerprint is the SHA-256 of a DER certificate, colon-separated hex.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexes, ":")
}

// Fingerprint is the --peer-fingerprint of a PEM certificate.
func Fingerprint(certPEM string) (string, error) {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		return "", fmt.Errorf("no PEM certificate")
	}
	return fingerprint(b.Bytes), nil
}

// Config is the openvpn configuration of t, with its certificate and key
// in the files cert and key and its management socket at mgmt.
func (t *Tunnel) Config(cert, key, mgmt string) string {
	mtu := t.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	cipher := t.Cipher
	if cipher == "" {
		cipher = Ciphers[0]
	}
	var b strings.Builder
	line := func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) }
	line("dev %s", t.Device)
	line("dev-type tun")
	line("disable-dco")
	line("proto udp")
	line("local %s", t.Local.Addr())
	line("lport %d", t.Local.Port())
	line("remote %s %d", t.Remote.Addr(), t.Remote.Port())
	line("tun-mtu %d", mtu)
	if t.Server {
		line("tls-server")
		line("dh none")
	} else {
		line("tls-client")
	}
	line("cert %s", cert)
	line("key %s", key)
	line("peer-fingerprint %s", t.PeerFingerprint)
	line("data-ciphers %s", cipher)
	line("data-ciphers-fallback %s", cipher)
	line("management %s unix", mgmt)
	line("ping 10")
	line("auth-nocache")
	line("script-security 1")
	line("verb 3")
	return b.String()
}
