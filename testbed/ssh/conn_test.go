package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cryptossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/wgbench/wgbench/testbed"
)

// fakeServer is an in-process SSH server on the loopback that accepts any
// public key and serves no sessions: enough to test host key checks and
// connection loss without root or sshd.
type fakeServer struct {
	addr  string
	key   cryptossh.PublicKey
	mu    sync.Mutex
	conns []net.Conn
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := cryptossh.NewSignerFromKey(priv)
	cfg := &cryptossh.ServerConfig{PublicKeyCallback: func(cryptossh.ConnMetadata, cryptossh.PublicKey) (*cryptossh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{addr: ln.Addr().String(), key: signer.PublicKey()}
	t.Cleanup(func() { ln.Close(); s.dropAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go func() {
				_, chans, reqs, err := cryptossh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go cryptossh.DiscardRequests(reqs)
				for ch := range chans {
					ch.Reject(cryptossh.Prohibited, "no sessions here")
				}
			}()
		}
	}()
	return s
}

// dropAll closes every connection, as a dying sshd does.
func (s *fakeServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func clientKey(t *testing.T, dir string) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := cryptossh.MarshalPrivateKey(priv, "")
	p := filepath.Join(dir, "id")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostKeys(t *testing.T) {
	srv := newFakeServer(t)
	other := newFakeServer(t)
	dir := t.TempDir()
	key := clientKey(t, dir)
	line := func(k cryptossh.PublicKey) string {
		return knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, k) + "\n"
	}
	tests := []struct {
		name     string
		known    *string // nil: no file
		accept   bool
		wantErr  error
		wantMsg  string
		wantFile string
	}{
		{"known", ptr(line(srv.key)), false, nil, "", line(srv.key)},
		{"unknown refused", ptr(""), false, ErrUnknownHostKey, "--accept-new-host-keys", ""},
		{"unknown accepted", ptr(""), true, nil, "", line(srv.key)},
		{"no file refused", nil, false, ErrUnknownHostKey, "does not exist", ""},
		{"no file accepted", nil, true, nil, "", line(srv.key)},
		{"changed key refused even when accepting", ptr(line(other.key)), true, ErrHostKeyMismatch, "ssh-keygen -R", line(other.key)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(dir, "known_hosts"+string(rune('a'+i)))
			if tt.known != nil {
				os.WriteFile(kh, []byte(*tt.known), 0o600)
			}
			spec := &HostSpec{Role: "gw2", Addr: srv.addr, User: "root", Key: key, KnownHosts: kh}
			var notes []string
			c, err := newClient(context.Background(), spec, dialOptions{accept: tt.accept, notify: func(s string) { notes = append(notes, s) }})
			if c != nil {
				c.close()
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("newClient = %v; want %v", err, tt.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "gw2 ("+srv.addr+")")) {
				t.Errorf("error %q; want it to start with the host and mention %q", err, tt.wantMsg)
			}
			if err != nil && tt.wantErr == ErrUnknownHostKey && tt.known != nil && !strings.Contains(err.Error(), cryptossh.FingerprintSHA256(srv.key)) {
				t.Errorf("error %q lacks the fingerprint", err)
			}
			got, _ := os.ReadFile(kh)
			if string(got) != tt.wantFile {
				t.Errorf("known_hosts = %q, want %q", got, tt.wantFile)
			}
			if tt.accept && tt.wantErr == nil && (len(notes) != 1 || !strings.Contains(notes[0], cryptossh.FingerprintSHA256(srv.key))) {
				t.Errorf("accepting printed %q; want the fingerprint", notes)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestConnectionLost(t *testing.T) {
	srv := newFakeServer(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, srv.key)+"\n"), 0o600)
	spec := &HostSpec{Role: "drain", Addr: srv.addr, User: "root", Key: clientKey(t, dir), KnownHosts: kh}
	lost := make(chan error, 2)
	c, err := newClient(context.Background(), spec, dialOptions{onLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// The server refuses sessions: a clear error naming the host.
	if _, _, err := c.session(context.Background()); err == nil || !strings.Contains(err.Error(), "refuses more sessions") {
		t.Errorf("session on a server that refuses them: %v", err)
	}
	srv.dropAll()
	select {
	case err := <-lost:
		// A lost connection is a lost host to the runner: the run failed.
		if !errors.Is(err, ErrConnectionLost) || !errors.Is(err, testbed.ErrHostLost) || !strings.HasPrefix(err.Error(), "drain ("+srv.addr+")") {
			t.Errorf("lost: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a dropped connection was not reported")
	}
	if _, _, err := c.session(context.Background()); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("session after the loss: %v", err)
	}
	select {
	case err := <-lost:
		t.Errorf("reported twice: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := cryptossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	enc := filepath.Join(dir, "enc")
	os.WriteFile(enc, pem.EncodeToMemory(block), 0o600)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("PRIVATE-LOOKING-BYTES-1234"), 0o600)
	if _, err := loadKey(enc); err == nil || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("encrypted key: %v", err)
	}
	if _, err := loadKey(junk); err == nil || strings.Contains(err.Error(), "PRIVATE-LOOKING") {
		t.Errorf("junk key: %v (must not echo the file)", err)
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"plain":                "plain",
		"/usr/bin/x":           "/usr/bin/x",
		"a b":                  "'a b'",
		"it's":                 `'it'\''s'`,
		"":                     "''",
		"$HOME":                "'$HOME'",
		"198.18.0.0/16":        "198.18.0.0/16",
		"WGBENCH_STAGE=iperf3": "WGBENCH_STAGE=iperf3",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	h := &host{spec: &HostSpec{}}
	if got := h.commandLine([]string{"/w/wgbench", "agent", "x y"}, []string{"WGBENCH_STAGE=probe"}, true); got != `sudo -n sh -c 'echo $$; exec "$@"' wgbench-cmd env WGBENCH_STAGE=probe /w/wgbench agent 'x y'` {
		t.Errorf("commandLine = %s", got)
	}
}

func TestPidWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		pid    int
		rest   string
	}{
		{"one write", []string{"123\nhello\n"}, 123, "hello\n"},
		{"split pid", []string{"1", "23", "\nhel", "lo"}, 123, "hello"},
		{"no output after pid", []string{"77\n"}, 77, ""},
		{"no pid line", []string{strings.Repeat("x", 80)}, 0, strings.Repeat("x", 80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			pid := -1
			w := &pidWriter{next: &out, onPid: func(p int) { pid = p }}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			if pid != tt.pid || out.String() != tt.rest {
				t.Errorf("pid %d, rest %q; want %d, %q", pid, out.String(), tt.pid, tt.rest)
			}
		})
	}
}
