package main

import (
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/probes/latency"
)

// ping runs ping for the icmp probe and reads its replies.
func ping(cmd *cobra.Command, o latency.Options) (latency.Report, error) {
	argv := latency.PingArgs(o)
	out, err := exec.CommandContext(cmd.Context(), argv[0], argv[1:]...).CombinedOutput()
	rep, perr := latency.ParsePing(out)
	if perr != nil {
		if err != nil {
			return rep, fmt.Errorf("%s: %w: %s", argv[0], err, out)
		}
		return rep, perr
	}
	// ping exits 1 when replies were lost: that is a measurement.
	return rep, nil
}
