// Command wgbench benchmarks and tunes WireGuard site-to-site gateways.
//
// See `wgbench --help` and the README for the commands.
package main

import (
	"os"

	"github.com/wgbench/wgbench/testbed/local"
)

func main() {
	local.MaybeNSExec()
	os.Exit(execute(os.Args[1:]))
}
