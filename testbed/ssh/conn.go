package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cryptossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/wgbench/wgbench/testbed"
)

// ErrConnectionLost marks an operation that failed because the SSH
// connection to its host broke during the run. It is a
// testbed.ErrHostLost: errors.Is matches both.
var ErrConnectionLost error = connectionLost{}

type connectionLost struct{}

func (connectionLost) Error() string        { return "SSH connection lost" }
func (connectionLost) Is(target error) bool { return target == testbed.ErrHostLost }

// Timeouts and limits of the SSH connections.
const (
	dialTimeout      = 15 * time.Second
	handshakeTimeout = 30 * time.Second
	// keepaliveInterval is how often an idle connection is probed;
	// keepaliveTimeout how long a probe may go unanswered before the
	// connection counts as lost.
	keepaliveInterval = 5 * time.Second
	keepaliveTimeout  = 20 * time.Second
	// sessionsPerConn stays below OpenSSH's default MaxSessions (10): a
	// host running more processes at once gets more connections.
	sessionsPerConn = 8
)

// client holds the SSH connections to one host: as many as its concurrent
// sessions need. The first connection that breaks while the testbed is up
// marks the host lost; every later operation fails with that error.
type client struct {
	spec   *HostSpec
	config *cryptossh.ClientConfig
	onLost func(error)
	closer []func() // agent connections and the like

	mu      sync.Mutex
	conns   []*conn
	lost    error
	closing bool
}

type conn struct {
	c        *cryptossh.Client
	sessions int
	full     bool // the server refused another session on it
}

// dialOptions configure a client.
type dialOptions struct {
	accept bool
	notify func(string)
	onLost func(error)
}

// newClient prepares the authentication and host key checks for spec and
// opens a first connection.
func newClient(ctx context.Context, spec *HostSpec, opts dialOptions) (*client, error) {
	c := &client{spec: spec, onLost: opts.onLost}
	auth, closers, err := authMethods(spec)
	if err != nil {
		return nil, err
	}
	c.closer = closers
	hk := &hostKeyChecker{spec: spec, accept: opts.accept, notify: opts.notify}
	cb, algos, err := hk.callback()
	if err != nil {
		c.close()
		return nil, err
	}
	c.config = &cryptossh.ClientConfig{
		User: spec.User, Auth: auth, HostKeyCallback: cb, HostKeyAlgorithms: algos,
		Timeout: dialTimeout, ClientVersion: "SSH-2.0-wgbench",
	}
	cn, err := c.dial(ctx)
	if err != nil {
		c.close()
		return nil, err
	}
	c.conns = append(c.conns, cn)
	return c, nil
}

// authMethods returns the ways to log in to spec: the agent (when asked
// for, or when no key is named and one is running), the named key, or
// else the user's default keys.
func authMethods(spec *HostSpec) ([]cryptossh.AuthMethod, []func(), error) {
	var (
		methods []cryptossh.AuthMethod
		closers []func()
		signers []cryptossh.Signer
	)
	sock := os.Getenv("SSH_AUTH_SOCK")
	if spec.Agent || (spec.Key == "" && sock != "") {
		if sock == "" {
			return nil, nil, fmt.Errorf("%s: agent: true but SSH_AUTH_SOCK is not set; start ssh-agent and ssh-add your key, or name the key under key:", spec.Name())
		}
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: connect to ssh-agent at $SSH_AUTH_SOCK: %w", spec.Name(), err)
		}
		closers = append(closers, func() { ac.Close() })
		methods = append(methods, cryptossh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	if spec.Key != "" {
		s, err := loadKey(spec.Key)
		if err != nil {
			for _, c := range closers {
				c()
			}
			return nil, nil, fmt.Errorf("%s: %w", spec.Name(), err)
		}
		signers = append(signers, s)
	} else if !spec.Agent {
		home, _ := os.UserHomeDir()
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if s, err := loadKey(filepath.Join(home, ".ssh", name)); err == nil {
				signers = append(signers, s)
			}
		}
	}
	if len(signers) > 0 {
		methods = append(methods, cryptossh.PublicKeys(signers...))
	}
	if len(methods) == 0 {
		return nil, nil, fmt.Errorf("%s: no SSH key to log in with: name one under key: in the inventory, or set agent: true with a running ssh-agent", spec.Name())
	}
	return methods, closers, nil
}

// loadKey reads an unencrypted private key. Its contents never appear in
// an error.
func loadKey(path string) (cryptossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SSH key: %w", err)
	}
	s, err := cryptossh.ParsePrivateKey(data)
	var pm *cryptossh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return nil, fmt.Errorf("SSH key %s is protected by a passphrase: load it into ssh-agent (`ssh-add %s`) and set agent: true", path, path)
	case err != nil:
		return nil, fmt.Errorf("SSH key %s cannot be read as a private key (%v)", path, errors.Unwrap(err))
	}
	return s, nil
}

// dial opens one more connection to the host.
func (c *client) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.spec.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", c.spec.Name(), err)
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := cryptossh.NewClientConn(nc, c.spec.Addr, c.config)
	if err != nil {
		nc.Close()
		if errors.Is(err, ErrUnknownHostKey) || errors.Is(err, ErrHostKeyMismatch) || strings.Contains(err.Error(), c.spec.Name()+":") {
			return nil, unwrapHandshake(err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("%s: log in as %s: %w; is the public key in ~%s/.ssh/authorized_keys there?", c.spec.Name(), c.spec.User, err, c.spec.User)
		}
		return nil, fmt.Errorf("%s: SSH handshake: %w", c.spec.Name(), err)
	}
	nc.SetDeadline(time.Time{})
	cn := &conn{c: cryptossh.NewClient(sc, chans, reqs)}
	go c.watch(cn)
	return cn, nil
}

// unwrapHandshake drops x/crypto's "ssh: handshake failed: " wrapping
// from our own host key errors, which already name the host and say what
// to do.
func unwrapHandshake(err error) error {
	if inner := errors.Unwrap(err); inner != nil && (errors.Is(inner, ErrUnknownHostKey) || errors.Is(inner, ErrHostKeyMismatch) || strings.Contains(err.Error(), "known_hosts")) {
		return inner
	}
	return err
}

// watch probes cn with keepalives and reports when it breaks.
func (c *client) watch(cn *conn) {
	done := make(chan error, 1)
	go func() { done <- cn.c.Wait() }()
	t := time.NewTicker(keepaliveInterval)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			c.died(cn, err)
			return
		case <-t.C:
			reply := make(chan error, 1)
			go func() {
				_, _, err := cn.c.SendRequest("keepalive@openssh.com", true, nil)
				reply <- err
			}()
			select {
			case err := <-reply:
				if err != nil {
					cn.c.Close()
				}
			case <-time.After(keepaliveTimeout):
				cn.c.Close() // Wait returns next
			case err := <-done:
				c.died(cn, err)
				return
			}
		}
	}
}

// died records the end of cn; unless the testbed is closing, the host is
// lost.
func (c *client) died(cn *conn, err error) {
	c.mu.Lock()
	for i, x := range c.conns {
		if x == cn {
			c.conns = append(c.conns[:i], c.conns[i+1:]...)
			break
		}
	}
	report := !c.closing && c.lost == nil
	if report {
		why := "the server closed it"
		if err != nil && !errors.Is(err, net.ErrClosed) && err.Error() != "EOF" {
			why = err.Error()
		}
		c.lost = fmt.Errorf("%s: %w (%s): the host, its sshd or the network in between went away", c.spec.Name(), ErrConnectionLost, why)
	}
	lost := c.lost
	c.mu.Unlock()
	if report && c.onLost != nil {
		c.onLost(lost)
	}
}

// Lost returns the error that marked the host lost, or nil.
func (c *client) Lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// session opens a session on a connection with room for one, dialling a
// new connection when all are busy. release must be called when the
// session ends.
func (c *client) session(ctx context.Context) (*cryptossh.Session, func(), error) {
	for attempt := 0; attempt < 4; attempt++ {
		c.mu.Lock()
		if c.lost != nil {
			err := c.lost
			c.mu.Unlock()
			return nil, nil, err
		}
		if c.closing {
			c.mu.Unlock()
			return nil, nil, fmt.Errorf("%s: the testbed is torn down", c.spec.Name())
		}
		var cn *conn
		for _, x := range c.conns {
			if !x.full && x.sessions < sessionsPerConn {
				cn = x
				break
			}
		}
		if cn != nil {
			cn.sessions++
		}
		c.mu.Unlock()
		if cn == nil {
			nc, err := c.dial(ctx)
			if err != nil {
				return nil, nil, err
			}
			c.mu.Lock()
			nc.sessions++
			c.conns = append(c.conns, nc)
			c.mu.Unlock()
			cn = nc
		}
		release := func() {
			c.mu.Lock()
			cn.sessions--
			c.mu.Unlock()
		}
		s, err := cn.c.NewSession()
		if err == nil {
			return s, release, nil
		}
		release()
		var oe *cryptossh.OpenChannelError
		if errors.As(err, &oe) && oe.Reason == cryptossh.Prohibited {
			c.mu.Lock()
			cn.full = true // the server's MaxSessions is lower than ours
			c.mu.Unlock()
			continue
		}
		if lost := c.Lost(); lost != nil {
			return nil, nil, lost
		}
		return nil, nil, fmt.Errorf("%s: open SSH session: %w", c.spec.Name(), err)
	}
	return nil, nil, fmt.Errorf("%s: the SSH server refuses more sessions; raise MaxSessions in its sshd_config", c.spec.Name())
}

// close closes every connection without reporting the host lost.
func (c *client) close() {
	c.mu.Lock()
	c.closing = true
	conns := append([]*conn(nil), c.conns...)
	c.mu.Unlock()
	for _, cn := range conns {
		cn.c.Close()
	}
	for _, f := range c.closer {
		f()
	}
}
