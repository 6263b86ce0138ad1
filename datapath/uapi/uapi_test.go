package uapi

import (
	"fmt"
	"net"
	"os"
	"testing"
)

func TestListenClaimsTheSocketOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create sockets in " + SocketDir)
	}
	name := fmt.Sprintf("wgbU%d", os.Getpid()%100000)
	l, err := Listen(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); os.Remove(SocketPath(name)) })
	// A client reaches it.
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	c, err := net.Dial("unix", SocketPath(name))
	if err != nil {
		t.Fatalf("dial %s: %v", SocketPath(name), err)
	}
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
		t.Errorf("read %q, %v", buf, err)
	}
	c.Close()
	// A second device of the same name is refused and the first keeps
	// its socket.
	if _, err := Listen(name); err == nil {
		t.Fatal("second Listen of the same name succeeded")
	}
	if _, err := os.Stat(SocketPath(name)); err != nil {
		t.Errorf("the first device's socket is gone: %v", err)
	}
}
