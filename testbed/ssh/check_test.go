package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbePatchedModule runs the probe's WireGuard part on made-up sysfs
// trees (and a stand-in modinfo) and checks what testbed check says of
// each gateway's module.
func TestProbePatchedModule(t *testing.T) {
	const ko = "/lib/modules/6.8.0/updates/wgbench/wireguard.ko"
	type file struct{ path, content string }
	loaded := file{"sys/module/wireguard/srcversion", "ABC123"}
	dev := file{"sys/class/net/wg0/uevent", "DEVTYPE=wireguard\nINTERFACE=wg0\n"}
	patchedKO := file{ko[1:], "\x7fELF...inline_en\x00decrypt_cpumask\x00..."}
	stockKO := file{ko[1:], "\x7fELF...wg_packet_receive\x00..."}
	for _, tc := range []struct {
		name    string
		files   []file
		srcv    string // modinfo's srcversion of the file; "" with files: no modinfo answer
		noFile  bool   // modinfo finds no module
		level   string
		msg     []string
		without string
	}{
		{name: "patched attributes on a device", level: "OK", srcv: "ABC123",
			files: []file{loaded, dev, {"sys/class/net/wg0/inline_en", "1"}, {"sys/class/net/wg0/encrypt_cpumask", "ff"}, {"sys/class/net/wg0/decrypt_cpumask", "ff"}, stockKO},
			msg:   []string{"patched WireGuard module is loaded", "wg0 (inline_en, encrypt_cpumask, decrypt_cpumask)"}},
		{name: "attributes in the wireguard folder", level: "OK", srcv: "ABC123",
			files: []file{loaded, dev, {"sys/class/net/wg0/wireguard/decrypt_cpumask", "ff"}, stockKO}, msg: []string{"wg0 (decrypt_cpumask)"}},
		{name: "stock device, failed build", level: "Warning", srcv: "ABC123",
			files: []file{loaded, dev, stockKO, {ModuleStatusFile[1:], "failed: the patched module did not build"}},
			msg:   []string{"stock WireGuard module is loaded: wg0 lack", "start-up says: failed: the patched module did not build", ">>> series that need it"}},
		{name: "no device, patched file loaded", level: "OK", srcv: "ABC123", files: []file{loaded, patchedKO},
			msg: []string{"patched WireGuard module is loaded (" + ko + ", srcversion ABC123"}},
		{name: "no device, stock file loaded", level: "Warning", srcv: "ABC123", files: []file{loaded, stockKO},
			msg: []string{"stock WireGuard module is loaded (" + ko}},
		{name: "not loaded, patched file installed", level: "OK", srcv: "DEF", files: []file{patchedKO},
			msg: []string{"installed (" + ko + ") and loads with the first tunnel"}},
		{name: "not loaded, stock file", level: "Warning", srcv: "DEF", files: []file{stockKO}, msg: []string{"modprobe would load the stock one"}},
		{name: "no module at all", level: "Warning", noFile: true, msg: []string{"no WireGuard module is loaded or installed"}},
		{name: "loaded from another file", level: "Warning", srcv: "OTHER", files: []file{loaded, patchedKO},
			msg: []string{"which one is unknown"}, without: "patched WireGuard module is loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(root, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			bin := t.TempDir()
			modinfo := "#!/bin/sh\nexit 1\n"
			if !tc.noFile {
				modinfo = "#!/bin/sh\ncase \"$1\" in -n) echo " + ko + ";; -F) echo " + tc.srcv + ";; esac\n"
			}
			if err := os.WriteFile(filepath.Join(bin, "modinfo"), []byte(modinfo), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", wgModuleProbe)
			cmd.Env = append(os.Environ(), "WGBENCH_PROBE_ROOT="+root, "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			level, msg := parseProbe(strings.NewReader(string(out))).wg.patchedModule()
			if level != tc.level {
				t.Errorf("level %s, want %s: %s\nprobe said:\n%s", level, tc.level, msg, out)
			}
			for _, s := range tc.msg {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q\nprobe said:\n%s", msg, s, out)
				}
			}
			if tc.without != "" && strings.Contains(msg, tc.without) {
				t.Errorf("message %q has %q", msg, tc.without)
			}
		})
	}
}

// TestProbeScriptSyntax: the whole probe is valid sh.
func TestProbeScriptSyntax(t *testing.T) {
	if out, err := exec.Command("sh", "-n", "-c", probeScript).CombinedOutput(); err != nil {
		t.Fatalf("probe script: %v\n%s", err, out)
	}
}
