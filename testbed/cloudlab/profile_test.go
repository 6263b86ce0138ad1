package cloudlab

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// python3 runs the profile; geni-lib itself is not installable here, so
// the tests check its syntax and run it against a stand-in of the few
// geni-lib calls it makes (testdata/genistub).
func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 to check the geni-lib profile")
	}
	return p
}

func TestProfileSyntax(t *testing.T) {
	py := python3(t)
	// Compile to a throwaway file so the tree gets no __pycache__.
	code := `import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)`
	out, err := exec.Command(py, "-c", code, "profile.py", filepath.Join(t.TempDir(), "profile.pyc")).CombinedOutput()
	if err != nil {
		t.Fatalf("profile.py does not compile: %v\n%s", err, out)
	}
}

type request struct {
	Nodes []struct {
		ClientID     string   `json:"client_id"`
		HardwareType string   `json:"hardware_type"`
		DiskImage    string   `json:"disk_image"`
		Interfaces   []string `json:"interfaces"`
		Services     []string `json:"services"`
	} `json:"nodes"`
	Links []struct {
		ClientID   string   `json:"client_id"`
		Bandwidth  int      `json:"bandwidth"`
		Interfaces []string `json:"interfaces"`
	} `json:"links"`
	Errors []struct {
		Msg string `json:"msg"`
	} `json:"errors"`
}

func runProfile(t *testing.T, params string) (request, error) {
	t.Helper()
	py := python3(t)
	stub, _ := filepath.Abs(filepath.Join("testdata", "genistub"))
	cmd := exec.Command(py, "-B", "profile.py")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+stub, "PYTHONDONTWRITEBYTECODE=1", "GENI_PARAMS="+params)
	out, runErr := cmd.Output()
	var r request
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("profile printed no request (%v, %v):\n%s", runErr, err, out)
	}
	return r, runErr
}

func TestProfileRequest(t *testing.T) {
	r, err := runProfile(t, "{}")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range r.Nodes {
		names = append(names, n.ClientID)
		if n.HardwareType != "sm220u" || !strings.Contains(n.DiskImage, "UBUNTU22-64") {
			t.Errorf("%s: hardware %q image %q; want the papers' sm220u on Ubuntu 22.04", n.ClientID, n.HardwareType, n.DiskImage)
		}
		if len(n.Services) != 1 || !strings.Contains(n.Services[0], "iperf3") {
			t.Errorf("%s: start-up %q does not install iperf3", n.ClientID, n.Services)
		}
	}
	if got := strings.Join(names, " "); got != "source gw1 gw2 drain" {
		t.Errorf("nodes %q", got)
	}
	want := map[string]string{"lan1": "source:lan gw1:lan", "wan": "gw1:wan gw2:wan", "lan2": "gw2:lan drain:lan"}
	if len(r.Links) != 3 {
		t.Fatalf("%d links, want 3", len(r.Links))
	}
	for _, l := range r.Links {
		if got := strings.Join(l.Interfaces, " "); got != want[l.ClientID] || l.Bandwidth != 100000000 {
			t.Errorf("link %s joins %q at %d Kb/s; want %q at 100 Gb/s", l.ClientID, got, l.Bandwidth, want[l.ClientID])
		}
	}
	// The node type is a parameter.
	r, err = runProfile(t, `{"hwtype": "c6525-100g", "tune": false}`)
	if err != nil || r.Nodes[0].HardwareType != "c6525-100g" || strings.Contains(r.Nodes[0].Services[0], `"True" = "True"`) {
		t.Errorf("with hwtype c6525-100g: %v %+v", err, r.Nodes)
	}
	if r, err := runProfile(t, `{"hwtype": " "}`); err == nil || len(r.Errors) == 0 {
		t.Errorf("an empty node type was accepted: %+v", r)
	}
}

// startupScript returns the shell script of a node's start-up service
// (the profile wraps it in sudo bash -c '…').
func startupScript(t *testing.T, service string) string {
	t.Helper()
	inner, ok := strings.CutPrefix(service, "sudo bash -c '")
	if !ok || !strings.HasSuffix(inner, "'") {
		t.Fatalf("start-up %q is not sudo bash -c '…'", service)
	}
	return strings.ReplaceAll(strings.TrimSuffix(inner, "'"), `'\''`, "'")
}

// TestProfileStartup: every node stops irqbalance, turbo and the C-states
// deeper than C1; the gateways alone clone the authors' repository (the
// paper's ref. [7]), build the module for the running kernel and load it.
func TestProfileStartup(t *testing.T) {
	const repo = "https://github.com/MircoBarone/wireguard-linux"
	hygiene := []string{"systemctl stop irqbalance", "intel_pstate/no_turbo", "cpufreq/boost", `"$n" -ge 2`, "/disable"}
	module := []string{"git clone --depth 1", `M="$src/drivers/net/wireguard"`, "linux-headers-$kver", "modprobe wireguard",
		"/sys/class/net/wgbench-probe/inline_en", "/var/tmp/wgbench-patched-module.status"}
	for _, tc := range []struct {
		name, params string
		gwHas        []string // in the gateways' scripts
		allHas       []string // in every script
		none         []string // in no script
		errs         bool
	}{
		{name: "defaults", params: `{}`, gwHas: append(module, `"`+repo+`"`), allHas: hygiene},
		{name: "no tuning", params: `{"tune": false}`, gwHas: module, allHas: []string{`if [ "False" = "True" ]`}},
		{name: "no module", params: `{"patched": false}`, none: []string{"git clone", "modprobe wireguard"}},
		{name: "a branch", params: `{"patched_ref": "v6.8-inline"}`, gwHas: []string{"--sparse --branch v6.8-inline "}},
		{name: "another repository", params: `{"patched_repo": "https://example.org/wg.git"}`, gwHas: []string{`"https://example.org/wg.git"`}, none: []string{repo}},
		{name: "shell in the ref", params: `{"patched_ref": "x;reboot"}`, errs: true},
		{name: "no repository", params: `{"patched_repo": " "}`, errs: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := runProfile(t, tc.params)
			if tc.errs {
				if err == nil || len(r.Errors) == 0 {
					t.Fatalf("accepted: %+v", r.Nodes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range r.Nodes {
				script := startupScript(t, n.Services[0])
				gw := n.ClientID == "gw1" || n.ClientID == "gw2"
				if out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput(); err != nil {
					t.Errorf("%s: start-up is not valid bash: %v\n%s", n.ClientID, err, out)
				}
				for _, s := range tc.allHas {
					if !strings.Contains(script, s) {
						t.Errorf("%s: start-up lacks %q", n.ClientID, s)
					}
				}
				for _, s := range tc.gwHas {
					if gw != strings.Contains(script, s) {
						t.Errorf("%s: start-up has %q: %v, want %v", n.ClientID, s, !gw, gw)
					}
				}
				for _, s := range tc.none {
					if strings.Contains(script, s) {
						t.Errorf("%s: start-up has %q", n.ClientID, s)
					}
				}
				if !strings.HasSuffix(strings.TrimSpace(script), "touch /var/tmp/wgbench-startup-done") {
					t.Errorf("%s: start-up does not end by touching the done file", n.ClientID)
				}
			}
		})
	}
}
