package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgbench/wgbench/internal/progress"
	"github.com/wgbench/wgbench/internal/testutil"
	"github.com/wgbench/wgbench/scenarios"
)

// TestIntegrationNoKeysInResults runs the tunnel datapaths and greps every
// file of the run folder, the progress output and the debug log for every
// private key the run generated, in base64 and in hex: WireGuard keys, the
// OpenVPN ends' private keys (DER and PEM) and, where the kernel has ESP,
// the IPsec keys.
func TestIntegrationNoKeysInResults(t *testing.T) {
	testutil.RequireRoot(t)
	var (
		mu   sync.Mutex
		keys []wgtypes.Key
	)
	keysMade = func(k ...wgtypes.Key) { mu.Lock(); keys = append(keys, k...); mu.Unlock() }
	var secrets [][]byte
	secretsMade = func(b []byte) { mu.Lock(); secrets = append(secrets, bytes.Clone(b)); mu.Unlock() }
	t.Cleanup(func() { keysMade, secretsMade = nil, nil })

	sc, err := scenarios.Parse("secrets.yaml", []byte(`
name: secrets
traffic: {duration: 1s, omit: 0s}
sweep: {tunnels: [2]}
series:
  - datapath: wggo
  - datapath: inline
  - datapath: openvpn
  - datapath: ipsec
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	var out, logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Run(context.Background(), Options{Scenario: sc, Dir: dir, Binary: testutil.Wgbench(t), Progress: progress.New(&out, false), Log: log}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if len(keys) != 2*2*2 {
		t.Fatalf("saw %d generated keys, want 8 (2 series × 2 tunnels × 2 ends)", len(keys))
	}
	// openvpn: 2 tunnels × 2 ends × (DER, PEM); ipsec, where it ran: 2
	// tunnels × 2 directions.
	if len(secrets) != 8 && len(secrets) != 12 {
		t.Fatalf("saw %d other generated secrets, want 8 (openvpn) or 12 (and ipsec)", len(secrets))
	}
	texts := map[string][]byte{"progress output": out.Bytes(), "debug log": logBuf.Bytes()}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				texts[path] = b
			}
		}
		return nil
	})
	if len(texts) < 5 {
		t.Fatalf("only %d texts to search; the run folder looks empty", len(texts))
	}
	for _, k := range keys {
		for _, form := range []string{k.String(), hex.EncodeToString(k[:])} {
			for name, b := range texts {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("a private key is in %s", name)
				}
			}
		}
		// Public keys may appear; they prove the search reads the files.
	}
	for _, sec := range secrets {
		forms := []string{hex.EncodeToString(sec), base64.StdEncoding.EncodeToString(sec)}
		if pem, ok := bytes.CutPrefix(sec, []byte("-----BEGIN")); ok {
			// A PEM key: its body's first line, and the whole text.
			lines := bytes.Split(pem, []byte("\n"))
			forms = append(forms, string(lines[1]), string(sec))
		}
		for _, form := range forms {
			for name, b := range texts {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("a generated secret (%d bytes) is in %s", len(sec), name)
				}
			}
		}
	}
}
