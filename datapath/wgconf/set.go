package wgconf

import (
	"errors"
	"fmt"
)

// ValidateSet checks the configurations one datapath brings up together:
// at least one, each valid, each with its own device name, and none
// routing everything into its tunnel. wgbench does not do wg-quick's
// fwmark policy routing, so a /0 AllowedIP would capture the tunnel's own
// UDP packets; it is allowed only with Table = off.
func ValidateSet(cfgs []*Config) error {
	if len(cfgs) == 0 {
		return errors.New("no WireGuard configs")
	}
	seen := map[string]bool{}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			return err
		}
		if seen[c.Name] {
			return fmt.Errorf("two configs for device %s; give each tunnel its own name", c.Name)
		}
		seen[c.Name] = true
		if c.Interface.TableOff {
			continue
		}
		for _, p := range c.Peers {
			for _, a := range p.AllowedIPs {
				if a.Bits() == 0 {
					return fmt.Errorf("config %s: AllowedIPs %s would route everything, the tunnel's own packets included, into the tunnel; wgbench has no fwmark policy routing: list the remote subnets or set Table = off", c.Name, a)
				}
			}
		}
	}
	return nil
}
