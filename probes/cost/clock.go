package cost

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/results"
)

// Files the clock is read from.
const (
	BaseFrequencyFile = "/sys/devices/system/cpu/cpu0/cpufreq/base_frequency"
	CPUInfoFile       = "/proc/cpuinfo"
)

// ReadClock finds the frequency to turn CPU time into cycles with, reading
// files through read (a host's ReadFile): the cpufreq base frequency when
// the driver exports one (results.ClockBase), else the nominal frequency
// of the CPU model name ("… @ 2.60GHz"), else the "cpu MHz" of
// /proc/cpuinfo (both results.ClockNominal).
func ReadClock(read func(path string) ([]byte, error)) (results.Clock, error) {
	if b, err := read(BaseFrequencyFile); err == nil {
		if khz, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil && khz > 0 {
			return results.Clock{Hz: khz * 1e3, Source: results.ClockBase, From: BaseFrequencyFile}, nil
		}
	}
	b, err := read(CPUInfoFile)
	if err != nil {
		return results.Clock{}, fmt.Errorf("CPU clock: no %s and %w", BaseFrequencyFile, err)
	}
	return ParseCPUInfo(b)
}

// ParseCPUInfo reads the nominal frequency of the first CPU in a
// /proc/cpuinfo: the "@ x GHz" of its model name, else its "cpu MHz".
func ParseCPUInfo(b []byte) (results.Clock, error) {
	var model, mhz string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "model name" && model == "":
			model = v
		case k == "cpu MHz" && mhz == "":
			mhz = v
		}
	}
	if i := strings.LastIndex(model, "@"); i >= 0 {
		f := strings.TrimSpace(model[i+1:])
		if g, ok := strings.CutSuffix(f, "GHz"); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(g), 64); err == nil && v > 0 {
				return results.Clock{Hz: v * 1e9, Source: results.ClockNominal, From: CPUInfoFile + " model name"}, nil
			}
		}
	}
	if v, err := strconv.ParseFloat(mhz, 64); err == nil && v > 0 {
		return results.Clock{Hz: v * 1e6, Source: results.ClockNominal, From: CPUInfoFile + " cpu MHz"}, nil
	}
	return results.Clock{}, errors.New("CPU clock: no base frequency, no \"@ GHz\" in the model name and no \"cpu MHz\" in " + CPUInfoFile)
}

// WireGuardOverhead is what WireGuard adds to a packet over IPv6 (outer IP,
// UDP, its header and tag): a tunnel's MTU is the link's minus this.
const WireGuardOverhead = 80

// PayloadPerPacket is the payload one packet of the traffic carries across
// a tunnel on links of linkMTU (0 for 1500): a full TCP segment (IPv4 and
// TCP headers with timestamps, 52 bytes) or a UDP datagram of length bytes
// (iperf3 -l; 0 for one that fills the MTU).
func PayloadPerPacket(protocol string, length, linkMTU int) int {
	if linkMTU <= 0 {
		linkMTU = 1500
	}
	mtu := linkMTU - WireGuardOverhead
	if protocol == "udp" {
		full := mtu - 28
		if length > 0 && length < full {
			return length
		}
		return full
	}
	return mtu - 52
}
