// Package facts collects what a host is — kernel, CPU, cores, NUMA nodes,
// tool versions — on the host itself (the `wgbench agent facts` verb), so
// results can be compared fairly and suggestions fit the machine.
package facts

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wgbench/wgbench/internal/version"
	"github.com/wgbench/wgbench/results"
)

// Collect reads the facts of the host it runs on. Facts it cannot read are
// left empty and explained in Notes; it does not fail.
func Collect(ctx context.Context) results.HostFacts {
	var f results.HostFacts
	f.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		f.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	f.CPUModel = cpuModel("/proc/cpuinfo")
	f.Cores = runtime.NumCPU()
	nodes, _ := filepath.Glob("/sys/devices/system/node/node[0-9]*")
	f.NUMANodes = len(nodes)
	if f.NUMANodes == 0 {
		f.NUMANodes = 1
		f.Notes = append(f.Notes, "no NUMA information in /sys; assuming one node")
	}
	f.Wgbench = version.String()
	if out, err := exec.CommandContext(ctx, "iperf3", "--version").Output(); err == nil {
		f.Iperf3 = iperfVersion(out)
	} else {
		f.Notes = append(f.Notes, "iperf3 not found: install it (apt-get install iperf3)")
	}
	switch _, err := os.Stat("/sys/module/wireguard"); {
	case err == nil:
		f.WireGuard = "loaded"
		if v, err := os.ReadFile("/sys/module/wireguard/version"); err == nil {
			f.WireGuard = "loaded " + strings.TrimSpace(string(v))
		}
	default:
		f.WireGuard = "not loaded"
	}
	return f
}

// cpuModel returns the first "model name" of a cpuinfo file.
func cpuModel(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// iperfVersion extracts "3.12" from "iperf 3.12 (cJSON 1.7.15)".
func iperfVersion(out []byte) string {
	fields := strings.Fields(string(out))
	if len(fields) >= 2 && fields[0] == "iperf" {
		return fields[1]
	}
	return strings.TrimSpace(string(out))
}
