package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wgbench/wgbench/probes/facts"
)

// wanLink is the name the local testbed gives a gateway's WAN port inside
// its namespace (testbed/local/wan.go).
const wanLink = "wan"

// wanNode is the NUMA node of the rehearsal machine's data ports
// (test/kernel/run.sh puts them behind a pxb-pcie with numa_node=1).
const wanNode = 1

// rehearsalFacts checks the gateways' facts in a rehearsal's run folder:
// facts-gw1.json and facts-gw2.json are there, and each shows the WAN
// link as the physical data port on NUMA node 1 (not a veth, not the
// control NIC on node 0). It returns the problems and a line per gateway.
func rehearsalFacts(dir string) (problems, summary []string) {
	for _, role := range []string{"gw1", "gw2"} {
		file := facts.RunFile(role)
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: the run folder has no gateway facts: %v", role, err))
			continue
		}
		var h facts.Host
		if err := json.Unmarshal(b, &h); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", role, file, err))
			continue
		}
		var wan *facts.Link
		var names []string
		for i, l := range h.Links {
			names = append(names, l.Name)
			if l.Name == wanLink {
				wan = &h.Links[i]
			}
		}
		switch {
		case wan == nil:
			problems = append(problems, fmt.Sprintf("%s: %s has no link %q (links: %s)", role, file, wanLink, strings.Join(names, ", ")))
		case wan.Kind != facts.KindPhysical || wan.NUMANode != wanNode:
			problems = append(problems, fmt.Sprintf("%s: %s shows the WAN link as %s (driver %q, bus %q) on NUMA node %d; want the physical data port on node %d",
				role, file, wan.Kind, wan.Driver, wan.Bus, wan.NUMANode, wanNode))
		default:
			summary = append(summary, fmt.Sprintf("%s facts: WAN %s (%s %s) on NUMA node %d, local CPUs %s",
				role, wan.Name, wan.Driver, wan.Bus, wan.NUMANode, wan.LocalCPUs))
		}
	}
	return problems, summary
}
