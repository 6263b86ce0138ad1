package facts

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestCPUModel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cpuinfo")
	os.WriteFile(p, []byte("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz\n\nprocessor\t: 1\nmodel name\t: other\n"), 0o644)
	if got, want := cpuModel(p), "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"; got != want {
		t.Errorf("cpuModel = %q, want %q", got, want)
	}
	if got := cpuModel(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("cpuModel(missing) = %q, want empty", got)
	}
}

func TestIperfVersion(t *testing.T) {
	for in, want := range map[string]string{
		"iperf 3.12 (cJSON 1.7.15)\nLinux host 6.1\n": "3.12",
		"iperf 3.9\n": "3.9",
		"weird":       "weird",
	} {
		if got := iperfVersion([]byte(in)); got != want {
			t.Errorf("iperfVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCollectThisHost(t *testing.T) {
	f := Collect(context.Background())
	if f.Kernel == "" || f.Cores != runtime.NumCPU() || f.NUMANodes < 1 || f.Wgbench == "" {
		t.Errorf("Collect() = %+v; want kernel, %d cores, ≥1 NUMA node, wgbench version", f, runtime.NumCPU())
	}
}
