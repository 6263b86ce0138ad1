package wgconf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds arbitrary files to the parser: it must never panic, and
// whatever it accepts must write back to a file that parses to the same
// configuration.
func FuzzParse(f *testing.F) {
	f.Add("[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nListenPort = 51820\nAddress = 198.19.0.1/32\n\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 198.19.0.2/32\nEndpoint = 198.18.255.2:51820\nPersistentKeepalive = 25\n")
	f.Add("[Interface]\nPrivateKey=\n")
	f.Add("[Peer]\n[Interface]\nMTU = 99999999999999999999\n")
	f.Add("# only a comment\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("wg0", strings.NewReader(text))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo of an accepted config: %v", err)
		}
		back, err := Parse("wg0", &buf)
		if err != nil {
			t.Fatalf("re-parse of written config: %v\n%s", err, buf.String())
		}
		if d := cmp.Diff(c, back, cmpOpts...); d != "" {
			t.Fatalf("round trip changed the config (-first +second):\n%s", d)
		}
	})
}
