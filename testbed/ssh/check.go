package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/internal/procset"
	"github.com/wgbench/wgbench/testbed/netsetup"
)

// probeScript reports what Provision and Check need to know of a host in
// one round trip, as key=value lines. It runs as the login user, without
// sudo, so that SSH_CONNECTION survives; `sudo -n id -u` tells whether
// sudo works.
const probeScript = `
echo "uid=$(id -u)"
if [ "$2" = sudo ]; then echo "sudo_uid=$(sudo -n id -u 2>&1 | tr '\n' ' ')"; fi
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
echo "cpus=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
echo "iperf3=$(command -v iperf3)"
echo "sha256sum=$(command -v sha256sum)"
if [ -f "$1" ]; then echo "bin_sha256=$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)"; fi
echo "ssh_connection=$SSH_CONNECTION"
for d in /sys/class/net/*; do
  echo "if=${d##*/} $(cat "$d/address" 2>/dev/null) $(cat "$d/operstate" 2>/dev/null)"
done
ip -o -4 addr show 2>/dev/null | while read -r _ name _ addr _; do echo "addr=$name $addr"; done
` + wgModuleProbe

// wgModuleProbe tells which WireGuard module a gateway runs: the patched
// module's attributes on any WireGuard device (where datapath/kernel looks
// for them: /sys/class/net/<dev>/ or its wireguard/ folder), else whether
// the module file the loaded module came from (same srcversion) carries
// their names, and what the CloudLab profile's start-up said of its build.
// WGBENCH_PROBE_ROOT prefixes the paths it reads, for tests.
const wgModuleProbe = `
r=${WGBENCH_PROBE_ROOT:-}
if [ -d "$r/sys/module/wireguard" ]; then echo "wg_loaded=$(cat "$r/sys/module/wireguard/srcversion" 2>/dev/null)"; fi
for d in "$r"/sys/class/net/*; do
  grep -qs '^DEVTYPE=wireguard' "$d/uevent" || continue
  attrs=""
  for a in ` + patchedAttrs + `; do
    if [ -e "$d/$a" ] || [ -e "$d/wireguard/$a" ]; then attrs="$attrs $a"; fi
  done
  echo "wg_dev=${d##*/}$attrs"
done
modinfo=$(command -v modinfo || echo /sbin/modinfo)
ko=$("$modinfo" -n wireguard 2>/dev/null)
if [ -n "$ko" ] && [ -f "$r$ko" ]; then
  kind=stock
  case "$ko" in *.ko) grep -qa decrypt_cpumask "$r$ko" && kind=patched ;; *) kind=compressed ;; esac
  echo "wg_file=$kind $("$modinfo" -F srcversion wireguard 2>/dev/null) $ko"
fi
if [ -f "$r` + ModuleStatusFile + `" ]; then echo "wg_startup=$(head -c 300 "$r` + ModuleStatusFile + `")"; fi
`

// patchedAttrs are the patched module's per-device attributes, as
// datapath/kernel and probes/facts look for them.
const patchedAttrs = "inline_en encrypt_cpumask decrypt_cpumask"

// ModuleStatusFile is where the CloudLab profile's start-up says whether
// the patched module was built and loaded (testbed/cloudlab/profile.py).
const ModuleStatusFile = "/var/tmp/wgbench-patched-module.status"

// probeResult is what probeScript found.
type probeResult struct {
	uid, sudoUID      string
	arch, kernel      string
	cpus              string // the online CPUs, kernel-style
	iperf3, sha256sum string
	binSHA256         string
	sshServerAddr     netip.Addr
	ifaces            []iface
	wg                wgModule
}

// wgModule is what the probe found of the WireGuard module.
type wgModule struct {
	// loaded is true when the module is loaded; srcversion is its.
	loaded     bool
	srcversion string
	// devices maps WireGuard devices to the patched attributes they have.
	devices map[string][]string
	// fileKind is "patched", "stock" or "compressed" for the module file
	// modprobe loads (fileSrcversion, file); empty when none was found.
	fileKind, fileSrcversion, file string
	// startup is the profile start-up's status line, if any.
	startup string
}

type iface struct {
	name, mac, state string
	addrs            []netip.Prefix
}

// probe runs probeScript on h; bin is where wgbench is (to be) installed.
func probe(ctx context.Context, h *host, bin string) (*probeResult, error) {
	mode := "plain"
	if h.spec.Sudo {
		mode = "sudo"
	}
	var stdout, stderr bytes.Buffer
	p, err := h.start(ctx, testbed.Cmd{Argv: []string{"sh", "-c", probeScript, "sh", bin, mode}, Stdout: &stdout, Stderr: &stderr}, false)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(); err != nil {
		return nil, fmt.Errorf("%s: look around the host: %w: %s", h.spec.Name(), err, procset.LastLines(strings.TrimSpace(stderr.String()), 3))
	}
	return parseProbe(&stdout), nil
}

// parseProbe reads probeScript's key=value lines.
func parseProbe(stdout io.Reader) *probeResult {
	r := &probeResult{}
	byName := map[string]*iface{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "uid":
			r.uid = v
		case "sudo_uid":
			r.sudoUID = v
		case "arch":
			r.arch = v
		case "kernel":
			r.kernel = v
		case "cpus":
			r.cpus = v
		case "iperf3":
			r.iperf3 = v
		case "sha256sum":
			r.sha256sum = v
		case "bin_sha256":
			r.binSHA256 = v
		case "ssh_connection":
			if f := strings.Fields(v); len(f) >= 3 {
				r.sshServerAddr, _ = netip.ParseAddr(f[2])
			}
		case "if":
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			ifc := iface{name: f[0]}
			if len(f) > 1 {
				ifc.mac = f[1]
			}
			if len(f) > 2 {
				ifc.state = f[2]
			}
			r.ifaces = append(r.ifaces, ifc)
			byName[ifc.name] = &r.ifaces[len(r.ifaces)-1]
		case "wg_loaded":
			r.wg.loaded, r.wg.srcversion = true, v
		case "wg_dev":
			f := strings.Fields(v)
			if len(f) > 0 {
				if r.wg.devices == nil {
					r.wg.devices = map[string][]string{}
				}
				r.wg.devices[f[0]] = f[1:]
			}
		case "wg_file":
			if f := strings.Fields(v); len(f) == 3 {
				r.wg.fileKind, r.wg.fileSrcversion, r.wg.file = f[0], f[1], f[2]
			} else if len(f) == 2 {
				r.wg.fileKind, r.wg.file = f[0], f[1]
			}
		case "wg_startup":
			r.wg.startup = v
		case "addr":
			f := strings.Fields(v)
			if len(f) == 2 {
				if pfx, err := netip.ParsePrefix(f[1]); err == nil {
					if ifc := byName[strings.TrimSuffix(f[0], ":")]; ifc != nil {
						ifc.addrs = append(ifc.addrs, pfx)
					}
				}
			}
		}
	}
	return r
}

// patchedModule says whether the papers' patched WireGuard module is
// loaded: level "OK" when it is (or is what modprobe loads), "Warning"
// otherwise, with what to do.
func (w wgModule) patchedModule() (level, msg string) {
	var with, without []string
	for _, dev := range slices.Sorted(maps.Keys(w.devices)) {
		if len(w.devices[dev]) > 0 {
			with = append(with, dev+" ("+strings.Join(w.devices[dev], ", ")+")")
		} else {
			without = append(without, dev)
		}
	}
	fileMatches := w.loaded && w.file != "" && w.fileSrcversion != "" && w.fileSrcversion == w.srcversion
	startup := ""
	if w.startup != "" {
		startup = "; the profile's start-up says: " + w.startup
	}
	advice := " >>> series that need it (inline, crypto masks) will be skipped: build it as docs/reproduce-cloudlab.md says"
	switch {
	case len(with) > 0:
		return "OK", "the patched WireGuard module is loaded: " + strings.Join(with, ", ") + " carry its attributes"
	case len(without) > 0:
		return "Warning", fmt.Sprintf("the stock WireGuard module is loaded: %s lack the patched attributes (%s)%s%s", strings.Join(without, ", "), patchedAttrs, startup, advice)
	case fileMatches && w.fileKind == "patched":
		return "OK", fmt.Sprintf("the patched WireGuard module is loaded (%s, srcversion %s, carries %s)", w.file, w.srcversion, patchedAttrs)
	case fileMatches && w.fileKind == "stock":
		return "Warning", fmt.Sprintf("the stock WireGuard module is loaded (%s has no patched attributes)%s%s", w.file, startup, advice)
	case !w.loaded && w.fileKind == "patched":
		return "OK", fmt.Sprintf("the patched WireGuard module is installed (%s) and loads with the first tunnel", w.file)
	case !w.loaded && w.file != "":
		return "Warning", fmt.Sprintf("the WireGuard module is not loaded, and modprobe would load the stock one (%s)%s%s", w.file, startup, advice)
	case !w.loaded:
		return "Warning", "no WireGuard module is loaded or installed" + startup + advice
	}
	return "Warning", fmt.Sprintf("a WireGuard module is loaded but which one is unknown (no tunnel device to look at; module file %q)%s >>> the kernel datapath says when it needs the patched one", w.file, startup)
}

// root says whether commands run as root and, if not, what to do.
func (r *probeResult) root(h *host) error {
	if h.spec.Sudo {
		if strings.TrimSpace(r.sudoUID) != "0" {
			return fmt.Errorf("%s: `sudo -n` does not work for %s (%s): give the user passwordless sudo, or log in as root and drop sudo: true", h.spec.Name(), h.spec.User, strings.TrimSpace(r.sudoUID))
		}
		return nil
	}
	if r.uid != "0" {
		return fmt.Errorf("%s: commands run as %s (uid %s), and wgbench needs root on the hosts: set sudo: true (passwordless sudo, as on CloudLab) or user: root", h.spec.Name(), h.spec.User, r.uid)
	}
	return nil
}

// prerequisites checks what Provision cannot do without.
func (r *probeResult) prerequisites(h *host, bin *binaryInfo) error {
	var errs []error
	if err := r.root(h); err != nil {
		errs = append(errs, err)
	}
	if bin != nil && bin.arch != "" && r.arch != "" && bin.arch != r.arch {
		errs = append(errs, fmt.Errorf("%s: the host is %s but %s is built for %s: build wgbench for the hosts (GOARCH, CGO_ENABLED=0)", h.spec.Name(), r.arch, bin.path, bin.arch))
	}
	if err := r.checkCores(h); err != nil {
		errs = append(errs, err)
	}
	if r.sha256sum == "" {
		errs = append(errs, fmt.Errorf("%s: sha256sum is missing (coreutils); install it", h.spec.Name()))
	}
	if (h.spec.Role == testbed.Source || h.spec.Role == testbed.Drain) && r.iperf3 == "" {
		errs = append(errs, fmt.Errorf("%s: iperf3 is not installed: run `sudo apt-get install -y iperf3` there (the CloudLab profile's start-up script installs it; wait until the node is ready)", h.spec.Name()))
	}
	for _, port := range []struct{ key, spec string }{{"lan", h.spec.LAN}, {"wan", h.spec.WAN}} {
		if port.spec == "" {
			continue
		}
		ifc, err := r.resolve(port.spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s interface %s: %w", h.spec.Name(), port.key, port.spec, err))
			continue
		}
		for _, a := range ifc.addrs {
			if r.sshServerAddr.IsValid() && a.Addr() == r.sshServerAddr {
				errs = append(errs, fmt.Errorf("%s: %s interface %s (%s) carries the SSH connection (%s): name the experiment's data-plane interface instead", h.spec.Name(), port.key, port.spec, ifc.name, a.Addr()))
			}
		}
	}
	return errors.Join(errs...)
}

// checkCores fails when the inventory gives the host cores it does not
// have online: wgbench confines the host's work to its cores, and the
// kernel would drop those silently (or refuse, when none is online).
func (r *probeResult) checkCores(h *host) error {
	if len(h.spec.Cores) == 0 || r.cpus == "" {
		return nil
	}
	online, err := cpuset.Parse(r.cpus)
	if err != nil {
		return nil // an odd kernel: the confinement itself will say
	}
	if missing := cpuset.Set(h.spec.Cores).Minus(online); len(missing) > 0 {
		return fmt.Errorf("%s: cores %s of the inventory are not online on the host (its online CPUs are %s): fix the host's cores in the inventory", h.spec.Name(), missing, r.cpus)
	}
	return nil
}

// resolve finds the interface an inventory spec names.
func (r *probeResult) resolve(s string) (*iface, error) {
	sp, err := netsetup.ParseSpec(s)
	if err != nil {
		return nil, err
	}
	var match []*iface
	for i := range r.ifaces {
		ifc := &r.ifaces[i]
		switch {
		case sp.Name != "" && ifc.name == sp.Name:
			match = append(match, ifc)
		case sp.MAC != nil && strings.EqualFold(ifc.mac, sp.MAC.String()):
			match = append(match, ifc)
		case sp.IP.IsValid():
			for _, a := range ifc.addrs {
				if a.Addr() == sp.IP {
					match = append(match, ifc)
				}
			}
		}
	}
	switch len(match) {
	case 0:
		var names []string
		for _, ifc := range r.ifaces {
			if ifc.name != "lo" {
				names = append(names, ifc.name+" "+ifc.mac)
			}
		}
		return nil, fmt.Errorf("no such interface on the host (it has: %s)", strings.Join(names, ", "))
	case 1:
		return match[0], nil
	}
	// Bonds and VLANs share MACs; net-setup prefers the physical device.
	return match[0], nil
}

// CheckLine is one line of a testbed check: Level is "OK", "Warning" or
// "Error".
type CheckLine struct {
	Level string
	Host  string
	Msg   string
}

func (l CheckLine) String() string {
	if l.Host == "" {
		return l.Level + ": " + l.Msg
	}
	return l.Level + ": " + l.Host + ": " + l.Msg
}

// Check connects to every host of inv, verifies its host key and reports
// what a run needs: root, iperf3, the data-plane interfaces, the installed
// wgbench, and per gateway whether the patched WireGuard module is loaded
// (a Warning when not: the series that need it are then skipped). It changes nothing on the hosts (AcceptNewHostKeys changes the
// local known_hosts file). The error is non-nil when a run would fail.
func Check(ctx context.Context, inv *Inventory, opts Options) ([]CheckLine, error) {
	if err := inv.complete(); err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		lines = map[string][]CheckLine{}
	)
	bin, binErr := inspectBinary(opts.Binary)
	global := []CheckLine{binaryLine(bin, binErr)}
	printf := opts.Printf
	if printf == nil {
		printf = func(string, ...any) {}
	}
	tb := &Testbed{}
	failed := false
	err := tb.each(testbed.Roles, func(role string) error {
		add := func(level, host, format string, args ...any) {
			mu.Lock()
			lines[role] = append(lines[role], CheckLine{level, host, fmt.Sprintf(format, args...)})
			mu.Unlock()
		}
		return checkHost(ctx, role, inv.Hosts[role], bin, opts.AcceptNewHostKeys, printf, add)
	})
	if err != nil {
		failed = true
	}
	out := global
	for _, role := range testbed.Roles {
		out = append(out, lines[role]...)
	}
	if failed {
		return out, fmt.Errorf("the testbed in %s is not ready (see the Error lines)", inv.File)
	}
	return out, nil
}

// checkAdd adds a line of one host's check.
type checkAdd func(level, host, format string, args ...any)

// binaryLine tells whether the local wgbench binary can run on the hosts.
func binaryLine(bin *binaryInfo, binErr error) CheckLine {
	switch {
	case binErr != nil:
		return CheckLine{"Warning", "", binErr.Error()}
	case !bin.static:
		return CheckLine{"Warning", "", fmt.Sprintf("%s is dynamically linked >>> build it with CGO_ENABLED=0 so it runs on any host", bin.path)}
	default:
		return CheckLine{"OK", "", fmt.Sprintf("%s is static (%s, %s)", bin.path, bin.arch, shortSum(bin.sha256))}
	}
}

// checkHost connects to the host of role, probes it and adds what it
// found; the error is non-nil when a run would fail on it.
func checkHost(ctx context.Context, role string, spec *HostSpec, bin *binaryInfo, accept bool, printf func(string, ...any), add checkAdd) error {
	cl, err := newClient(ctx, spec, dialOptions{accept: accept, notify: func(s string) { printf("%s", s) }})
	if err != nil {
		add("Error", "", "%v", err)
		return err
	}
	defer cl.close()
	add("OK", spec.Name(), "connected as %s, host key verified against %s", spec.User, spec.KnownHosts)
	h := &host{spec: spec, cl: cl}
	pr, err := probe(ctx, h, path.Join(spec.WorkDir, "wgbench"))
	if err != nil {
		add("Error", "", "%v", err)
		return err
	}
	perr := pr.prerequisites(h, bin)
	pr.report(h, role, bin, add)
	if perr != nil {
		for _, e := range splitJoined(perr) {
			add("Error", "", "%v", e)
		}
		return perr
	}
	return nil
}

// report adds the OK and Warning lines of a probed host of role: how
// commands run, its cores, iperf3, its ports, the WireGuard module of a
// gateway and the installed wgbench.
func (r *probeResult) report(h *host, role string, bin *binaryInfo, add checkAdd) {
	spec := h.spec
	name := spec.Name()
	if err := r.root(h); err == nil {
		how := "as root"
		if spec.Sudo {
			how = "through sudo -n"
		}
		add("OK", name, "commands run %s (%s, kernel %s)", how, r.arch, r.kernel)
	}
	if len(spec.Cores) > 0 && r.checkCores(h) == nil {
		add("OK", name, "its work runs on cores %s (online: %s)", cpuset.Set(spec.Cores), r.cpus)
	}
	if r.iperf3 != "" {
		add("OK", name, "iperf3 at %s", r.iperf3)
	} else if role == testbed.GW1 || role == testbed.GW2 {
		add("OK", name, "no iperf3 (a gateway does not need it)")
	}
	for _, port := range []struct{ key, spec string }{{"lan", spec.LAN}, {"wan", spec.WAN}} {
		if port.spec == "" {
			continue
		}
		if ifc, err := r.resolve(port.spec); err == nil {
			state := ifc.state
			if state != "up" && state != "unknown" {
				add("Warning", name, "%s interface %s is %s (%s) >>> check its cable/link; net-setup sets it up", port.key, port.spec, ifc.name, state)
			} else {
				add("OK", name, "%s interface %s is %s (%s)", port.key, port.spec, ifc.name, state)
			}
		}
	}
	if role == testbed.GW1 || role == testbed.GW2 {
		level, msg := r.wg.patchedModule()
		add(level, name, "%s", msg)
	}
	switch {
	case bin == nil:
	case r.binSHA256 == bin.sha256:
		add("OK", name, "wgbench in %s is this version", spec.WorkDir)
	case r.binSHA256 == "":
		add("OK", name, "wgbench is not installed in %s yet; a run copies it there", spec.WorkDir)
	default:
		add("OK", name, "wgbench in %s differs from this one; a run replaces it", spec.WorkDir)
	}
}

// splitJoined returns the errors of an errors.Join, or err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
