package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	cryptossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrUnknownHostKey marks a host whose key is not in the known_hosts file;
// ErrHostKeyMismatch one whose key differs from the recorded one.
var (
	ErrUnknownHostKey  = errors.New("unknown host key")
	ErrHostKeyMismatch = errors.New("host key mismatch")
)

// knownHostsMu serialises appends to known_hosts files within this process.
var knownHostsMu sync.Mutex

// hostKeyChecker verifies one host's key against its known_hosts file.
type hostKeyChecker struct {
	spec   *HostSpec
	accept bool
	notify func(string)
}

// callback returns the HostKeyCallback for the host and the host key
// algorithms to ask for: those of the keys known for it, so that a host
// known by its ECDSA key is not asked for its Ed25519 one.
func (k *hostKeyChecker) callback() (cryptossh.HostKeyCallback, []string, error) {
	file := k.spec.KnownHosts
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if !k.accept {
			return nil, nil, fmt.Errorf("%s: known_hosts file %s does not exist: %w; record the hosts' keys with `wgbench testbed check --accept-new-host-keys INVENTORY` (it prints each fingerprint) or `ssh-keyscan`", k.spec.Name(), file, ErrUnknownHostKey)
		}
		knownHostsMu.Lock()
		err := os.MkdirAll(filepath.Dir(file), 0o700)
		if err == nil {
			var f *os.File
			if f, err = os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
				err = f.Close()
			}
		}
		knownHostsMu.Unlock()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: create known_hosts file: %w", k.spec.Name(), err)
		}
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read known_hosts %s: %w", k.spec.Name(), file, err)
	}
	algos := knownAlgorithms(cb, k.spec.Addr)
	check := func(hostname string, remote net.Addr, key cryptossh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return fmt.Errorf("%s: the host presented the revoked key %s %s (%s); refusing to connect", k.spec.Name(), key.Type(), cryptossh.FingerprintSHA256(key), re.Revoked.String())
		case errors.As(err, &ke) && len(ke.Want) > 0:
			where := ke.Want[0]
			return fmt.Errorf("%s: %w: the host presented %s %s but %s:%d records another key for it. "+
				"If the machine was reinstalled (a new CloudLab experiment reuses node names), remove the old key with `ssh-keygen -R '%s' -f %s` and accept the new one; "+
				"otherwise someone may be intercepting the connection",
				k.spec.Name(), ErrHostKeyMismatch, key.Type(), cryptossh.FingerprintSHA256(key), where.Filename, where.Line, knownhosts.Normalize(k.spec.Addr), file)
		case errors.As(err, &ke):
			if !k.accept {
				return fmt.Errorf("%s: %w: the host presented %s %s, which is not in %s. "+
					"Compare the fingerprint with the host's own (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on its console), then accept it with --accept-new-host-keys",
					k.spec.Name(), ErrUnknownHostKey, key.Type(), cryptossh.FingerprintSHA256(key), file)
			}
			if err := appendKnownHost(file, k.spec.Addr, key); err != nil {
				return fmt.Errorf("%s: record host key in %s: %w", k.spec.Name(), file, err)
			}
			if k.notify != nil {
				k.notify(fmt.Sprintf("%s: accepted new host key %s %s, added to %s", k.spec.Name(), key.Type(), cryptossh.FingerprintSHA256(key), file))
			}
			return nil
		}
		return fmt.Errorf("%s: check host key: %w", k.spec.Name(), err)
	}
	return check, algos, nil
}

// appendKnownHost adds a line for addr's key to file.
func appendKnownHost(file, addr string, key cryptossh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	return errors.Join(werr, f.Close())
}

// knownAlgorithms lists the host key algorithms of the keys cb knows for
// addr, or nil when it knows none (any algorithm then).
func knownAlgorithms(cb cryptossh.HostKeyCallback, addr string) []string {
	// Asking with a key nobody has makes knownhosts list the keys it has.
	probe, err := cryptossh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) {
		return nil
	}
	var out []string
	add := func(algos ...string) {
		for _, a := range algos {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	for _, w := range ke.Want {
		if t := w.Key.Type(); t == cryptossh.KeyAlgoRSA {
			add(cryptossh.KeyAlgoRSASHA512, cryptossh.KeyAlgoRSASHA256, cryptossh.KeyAlgoRSA)
		} else {
			add(t)
		}
	}
	return out
}
