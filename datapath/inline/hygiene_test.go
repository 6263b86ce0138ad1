package inline

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCloseWipesKeys checks that Close leaves no static secret behind:
// the private key, the preshared key and the static-static secret are
// zero, and UAPI no longer hands keys out.
func TestCloseWipesKeys(t *testing.T) {
	psk := genKey(t)
	_, a, b := newInlinePair(t, 8, func(a, b *end) {
		a.cfg.Peer.PresharedKey = psk
		b.cfg.Peer.PresharedKey = psk
	})
	handshake(t, a, b)
	k := a.tunnel.keys
	if k.priv == (key{}) || k.psk == (key{}) || k.ss == (key{}) {
		t.Fatal("a running tunnel has a zero key")
	}
	if err := a.tunnel.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		k    *key
	}{{"private key", &k.priv}, {"preshared key", &k.psk}, {"static-static secret", &k.ss}} {
		if *c.k != (key{}) {
			t.Errorf("%s not wiped on Close", c.name)
		}
	}
	kv, errno := uapiDo(t, a.tunnel, "get=1\n\n")
	if errno != int(unix.ENETDOWN) || kv["private_key"] != "" {
		t.Errorf("UAPI get on a closed tunnel: errno %d, private_key %q; want ENETDOWN and no key", errno, kv["private_key"])
	}
}

// TestHandshakeWipesIntermediates checks that the responder's chaining
// key and hash from a consumed initiation are wiped once the response is
// made, and the initiator's state once it is wiped.
func TestHandshakeWipesIntermediates(t *testing.T) {
	for _, fail := range []bool{false, true} {
		ini, res := handshakePair(t, fixedKey(9))
		m, st, err := ini.createInitiation(time.Unix(1700000000, 0), 7, fixedKey(3))
		if err != nil {
			t.Fatal(err)
		}
		c, err := res.consumeInitiation(&m)
		if err != nil {
			t.Fatal(err)
		}
		if fail {
			c.ephemeral = key{} // a low-order point: DH fails
		}
		_, keys, err := res.createResponse(c, 8, fixedKey(4))
		if (err != nil) != fail {
			t.Fatalf("createResponse (failing %t): %v", fail, err)
		}
		if c.chainKey != (key{}) || c.hash != (key{}) {
			t.Errorf("createResponse (failing %t) left the initiation's chaining key or hash", fail)
		}
		if fail && keys != (sessionKeys{}) {
			t.Error("a failed createResponse returned keys")
		}
		st.wipe()
		if st.ephPriv != (key{}) || st.chainKey != (key{}) || st.hash != (key{}) {
			t.Error("initiatorState.wipe left a secret")
		}
	}
}

// TestUAPIKeyComparesConstantTime checks the source of uapi.go: a key
// given over UAPI is compared with the tunnel's private or preshared key
// only in constant time (equalKey), never with == or !=.
func TestUAPIKeyComparesConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "uapi.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		e, ok := n.(*ast.BinaryExpr)
		if !ok || (e.Op != token.EQL && e.Op != token.NEQ) {
			return true
		}
		var b bytes.Buffer
		_ = printer.Fprint(&b, fset, e)
		if s := b.String(); strings.Contains(s, "keys.priv") || strings.Contains(s, "keys.psk") {
			t.Errorf("%s: secret key compared with %s: %s", fset.Position(e.Pos()), e.Op, s)
		}
		return true
	})
}
