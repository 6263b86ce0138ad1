package openvpn

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Stats are one tunnel's counters and state, from its management
// interface.
type Stats struct {
	// Connected says the TLS session is up and data flows.
	Connected bool
	// Since is when the tunnel reached its current state.
	Since time.Time
	// Remote is the peer's address as openvpn reports it.
	Remote string
	// UDPRead and UDPWrite count the bytes received from and sent to the
	// peer on the wire (after encryption); TunRead and TunWrite the
	// plaintext bytes read from and written to the tun device.
	UDPRead, UDPWrite, TunRead, TunWrite int64
}

// ReadStats asks the management interface of device dev, in the calling
// thread's network namespace, for its state and counters.
func ReadStats(dev string) (Stats, error) {
	c, err := net.DialTimeout("unix", SocketPath(dev), 2*time.Second)
	if err != nil {
		return Stats{}, fmt.Errorf("openvpn %s: no management socket: %w", dev, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	// The first line is the greeting, ">INFO:OpenVPN Management Interface …".
	if _, err := r.ReadString('\n'); err != nil {
		return Stats{}, fmt.Errorf("openvpn %s: management greeting: %w", dev, err)
	}
	var st Stats
	state, err := command(c, r, "state")
	if err != nil {
		return Stats{}, fmt.Errorf("openvpn %s: %w", dev, err)
	}
	if len(state) > 0 {
		st.parseState(state[len(state)-1])
	}
	status, err := command(c, r, "status")
	if err != nil {
		return Stats{}, fmt.Errorf("openvpn %s: %w", dev, err)
	}
	st.parseStatus(status)
	fmt.Fprint(c, "quit\n")
	return st, nil
}

// command sends cmd and returns the lines of its answer before END,
// skipping real-time notifications (">…").
func command(c net.Conn, r *bufio.Reader, cmd string) ([]string, error) {
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return nil, fmt.Errorf("management %s: %w", cmd, err)
	}
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("management %s: %w", cmd, err)
		}
		l = strings.TrimRight(l, "\r\n")
		switch {
		case l == "END":
			return lines, nil
		case strings.HasPrefix(l, "ERROR:"):
			return nil, fmt.Errorf("management %s: %s", cmd, l)
		case strings.HasPrefix(l, ">"):
		default:
			lines = append(lines, l)
		}
	}
}

// parseState reads a state line: "TIME,STATE,DESC,LOCAL_IP,REMOTE_IP,…".
func (st *Stats) parseState(line string) {
	f := strings.Split(line, ",")
	if len(f) < 2 {
		return
	}
	if sec, err := strconv.ParseInt(f[0], 10, 64); err == nil {
		st.Since = time.Unix(sec, 0)
	}
	st.Connected = f[1] == "CONNECTED"
	if len(f) > 4 {
		st.Remote = f[4]
	}
}

// parseStatus reads the point-to-point status: "NAME,VALUE" lines.
func (st *Stats) parseStatus(lines []string) {
	for _, l := range lines {
		name, v, ok := strings.Cut(l, ",")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "TCP/UDP read bytes":
			st.UDPRead = n
		case "TCP/UDP write bytes":
			st.UDPWrite = n
		case "TUN/TAP read bytes":
			st.TunRead = n
		case "TUN/TAP write bytes":
			st.TunWrite = n
		}
	}
}
