package tuner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/wgbench/wgbench/probes/facts"
	"github.com/wgbench/wgbench/results"
	"github.com/wgbench/wgbench/testbed/netsetup"
)

// gatewayRoles are the hosts whose facts the rules read.
var gatewayRoles = []string{"gw1", "gw2"}

// LoadRun reads a run folder: run.json, and the gateways' full facts the
// runner saved beside it (facts.RunFile); a gateway without them gets
// its run.json summary, which the host checks skip.
func LoadRun(dir string) (*results.Run, Hosts, error) {
	_, run, err := results.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	hosts := Hosts{}
	for _, role := range gatewayRoles {
		h, err := ReadFactsFile(filepath.Join(dir, facts.RunFile(role)))
		switch {
		case err == nil:
			hosts[role] = h
		case errors.Is(err, fs.ErrNotExist):
			if s, ok := run.Hosts[role]; ok {
				hosts[role] = facts.FromSummary(s)
			}
		default:
			return nil, nil, err
		}
	}
	wan := runWAN(run)
	for _, role := range gatewayRoles {
		if h := hosts[role]; h != nil && !summaryOnly(h) && !h.Underlay.Found() {
			h.Underlay = facts.ChooseUnderlay(h, wan)
		}
	}
	return run, hosts, nil
}

// runWAN is what a run tells of the gateways' WAN: the subnet of its
// addressing plan and the name the local testbed gives the WAN port in
// a gateway's namespace (testbed/netsetup.WAN). The runner reads the
// gateways' facts before any tunnel is up, so they know no peer
// endpoint; the WAN is where the tunnels then ran.
func runWAN(run *results.Run) *facts.TestbedWAN {
	wan := &facts.TestbedWAN{Link: string(netsetup.WAN), Where: "run.json testbed.addressing.wan"}
	if p, err := netip.ParsePrefix(run.Testbed.Addressing["wan"]); err == nil {
		wan.Subnet = p
	}
	return wan
}

// ReadFactsFile reads facts written by `wgbench facts` (a facts.Host as
// JSON).
func ReadFactsFile(path string) (*facts.Host, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read facts: %w", err)
	}
	var h facts.Host
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("facts file %s: %w (want the JSON `wgbench facts` prints)", path, err)
	}
	if h.Source == "" {
		h.Source = "file " + path
	}
	return &h, nil
}
