package runner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
)

// linkMTU is one testbed link end whose MTU a point changed.
type linkMTU struct {
	host testbed.Host
	dev  string
	old  int
}

// setLinkMTU sets the MTU of every testbed link end (the interfaces that
// hold an address of LAN1, the WAN or LAN2, on all four hosts) to mtu and
// returns what restores them. Other interfaces (management, loopback,
// tunnels) are left alone.
func setLinkMTU(ctx context.Context, hosts map[string]testbed.Host, mtu int) (restore func() error, err error) {
	var changed []linkMTU
	restore = func() error {
		var errs []error
		for i := len(changed) - 1; i >= 0; i-- {
			c := changed[i]
			if _, err := testbed.Run(context.WithoutCancel(ctx), c.host, "ip", "link", "set", "dev", c.dev, "mtu", strconv.Itoa(c.old)); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, waitLinksUp(context.WithoutCancel(ctx), changed, linkUpTimeout))
		changed = nil
		return errors.Join(errs...)
	}
	for _, role := range testbed.Roles {
		h := hosts[role]
		links, err := testbedLinks(ctx, h)
		if err != nil {
			return nil, errors.Join(err, restore())
		}
		for dev, old := range links {
			if old == mtu {
				continue
			}
			if _, err := testbed.Run(ctx, h, "ip", "link", "set", "dev", dev, "mtu", strconv.Itoa(mtu)); err != nil {
				return nil, errors.Join(fmt.Errorf("%s: set the MTU of %s to %d: %w", hostName(h), dev, mtu, err), restore())
			}
			changed = append(changed, linkMTU{host: h, dev: dev, old: old})
		}
	}
	if err := waitLinksUp(ctx, changed, linkUpTimeout); err != nil {
		return nil, errors.Join(err, restore())
	}
	return restore, nil
}

// linkUpTimeout bounds the wait for a link to come back after its MTU
// changed.
const linkUpTimeout = 20 * time.Second

// waitLinksUp waits until every link in links has its carrier again
// (LOWER_UP), as a physical NIC that resets on an MTU change renegotiates
// its link for a few seconds (e1000e, mlx5): a datapath started before
// that loses its first handshakes. A veth is up again at once.
func waitLinksUp(ctx context.Context, links []linkMTU, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, l := range links {
		for {
			out, err := testbed.Run(ctx, l.host, "ip", "-o", "link", "show", "dev", l.dev)
			if err != nil {
				return fmt.Errorf("%s: %s after the MTU change: %w", hostName(l.host), l.dev, err)
			}
			if carrier(string(out)) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %s has no carrier %s after its MTU changed (ip link: %s); check the cable and the peer port", hostName(l.host), l.dev, timeout, strings.TrimSpace(string(out)))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// carrier says whether a line of `ip -o link show` has the LOWER_UP flag
// (or names a link that is administratively down, which has no carrier to
// wait for).
func carrier(line string) bool {
	i, j := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if i < 0 || j < i {
		return true // not a link line: nothing to wait for
	}
	flags := strings.Split(line[i+1:j], ",")
	return slices.Contains(flags, "LOWER_UP") || !slices.Contains(flags, "UP")
}

// testbedLinks returns the testbed link ends of h with their MTU.
func testbedLinks(ctx context.Context, h testbed.Host) (map[string]int, error) {
	addrs, err := testbed.Run(ctx, h, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	links, err := testbed.Run(ctx, h, "ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	return parseLinks(string(addrs), string(links)), nil
}

// parseLinks picks, from `ip -o -4 addr show` and `ip -o link show`, the
// interfaces holding an address of the testbed's links, with their MTU.
func parseLinks(addrs, links string) map[string]int {
	devs := map[string]bool{}
	for _, line := range strings.Split(addrs, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "inet" {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		for _, link := range []netip.Prefix{testbed.LAN1, testbed.WAN, testbed.LAN2} {
			if link.Contains(p.Addr()) {
				devs[f[1]] = true
			}
		}
	}
	out := map[string]int{}
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if !devs[name] {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "mtu" {
				if m, err := strconv.Atoi(f[i+1]); err == nil {
					out[name] = m
				}
			}
		}
	}
	return out
}

// tunnelMTU is the tunnel MTU of a point: its link MTU less the
// WireGuard overhead, or 0 (the datapath's default) when MTU is not
// swept.
func tunnelMTU(p scenarios.Point) int {
	if p.MTU == 0 {
		return 0
	}
	return p.MTU - scenarios.TunnelOverhead
}
