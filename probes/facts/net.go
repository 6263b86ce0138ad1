package facts

import (
	"bufio"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/internal/cpuset"
)

const netDir = "sys/class/net"

// readLinks reads every network interface but loopback.
func readLinks(t *tree, h *Host, live bool) {
	ents, err := t.readDir(netDir)
	if err != nil {
		h.Notes = append(h.Notes, "no network interfaces in /sys/class/net: "+err.Error())
		return
	}
	irqNames := readInterrupts(t)
	v6 := readIfInet6(t)
	for _, e := range ents {
		name := e.Name()
		base := path.Join(netDir, name)
		if !t.exists(path.Join(base, "ifindex")) {
			continue // bonding_masters and the like
		}
		if typ, _ := t.read(path.Join(base, "type")); typ == "772" {
			continue // loopback
		}
		l := Link{Name: name, NUMANode: -1, IPv6: v6[name]}
		l.MTU, _ = readInt(t, path.Join(base, "mtu"))
		l.State, _ = t.read(path.Join(base, "operstate"))
		if n, err := readInt(t, path.Join(base, "speed")); err == nil && n > 0 {
			l.SpeedMbps = n
		}
		if u, err := t.read(path.Join(base, "uevent")); err == nil {
			l.DevType = ueventValue(u, "DEVTYPE")
		}
		if v, err := t.read(path.Join(base, "threaded")); err == nil {
			n, err := strconv.Atoi(v)
			on := err == nil && n != 0
			l.Threaded = &on
		}
		ifindex, _ := t.read(path.Join(base, "ifindex"))
		iflink, _ := t.read(path.Join(base, "iflink"))
		switch {
		case l.DevType == "wireguard":
			l.Kind = KindWireGuard
			l.WireGuard = readWireGuard(t, base)
		case t.exists(path.Join(base, "tun_flags")):
			l.Kind = KindTun
		case t.exists(path.Join(base, "device")):
			l.Kind = KindPhysical
			readDevice(t, base, &l, irqNames)
		case t.exists(path.Join(base, "bridge")):
			l.Kind = KindBridge
		case l.DevType == "" && iflink != "" && iflink != ifindex:
			l.Kind = KindVeth
		default:
			l.Kind = KindVirtual
		}
		readQueues(t, base, &l)
		readEthtool(t, &l, live)
		h.Links = append(h.Links, l)
	}
	h.DefaultRoute = defaultRoute(t)
}

// readDevice reads what a link's device tells: driver, bus address, NUMA
// node, local CPUs and interrupts. Virtio NICs keep the last three on
// their parent PCI device, so the device's ancestors are searched too.
func readDevice(t *tree, base string, l *Link, irqNames map[int]string) {
	dev, err := t.resolve(path.Join(base, "device"))
	if err != nil {
		return
	}
	if u, err := t.read(path.Join(dev, "uevent")); err == nil {
		l.Driver = ueventValue(u, "DRIVER")
	}
	if l.Driver == "" {
		if target, err := t.readlink(path.Join(base, "device/driver")); err == nil {
			l.Driver = path.Base(target)
		}
	}
	dirs := []string{dev}
	for d := path.Dir(dev); strings.HasPrefix(d, "sys/devices/") && len(dirs) < 3; d = path.Dir(d) {
		dirs = append(dirs, d)
	}
	var irqs []int
	numaFound, cpusFound := false, false
	for _, d := range dirs {
		if l.Bus == "" && isBusAddress(path.Base(d)) {
			l.Bus = path.Base(d)
		}
		if !numaFound {
			if n, err := readInt(t, path.Join(d, "numa_node")); err == nil {
				l.NUMANode, numaFound = n, true
			}
		}
		if !cpusFound {
			if s, err := t.read(path.Join(d, "local_cpulist")); err == nil {
				l.LocalCPUs, _ = cpuset.Parse(s)
				cpusFound = true
			}
		}
		if irqs == nil {
			if ents, err := t.readDir(path.Join(d, "msi_irqs")); err == nil {
				for _, e := range ents {
					if n, err := strconv.Atoi(e.Name()); err == nil {
						irqs = append(irqs, n)
					}
				}
			}
		}
	}
	if irqs == nil {
		// No MSI list: go by the names in /proc/interrupts.
		for n, name := range irqNames {
			if strings.Contains(name, l.Name) || (l.Bus != "" && strings.Contains(name, l.Bus)) {
				irqs = append(irqs, n)
			}
		}
	}
	slices.Sort(irqs)
	for _, n := range irqs {
		irq := IRQ{Number: n, Name: irqNames[n]}
		dir := path.Join("proc/irq", strconv.Itoa(n))
		if s, err := t.read(path.Join(dir, "smp_affinity_list")); err == nil {
			irq.Affinity, _ = cpuset.Parse(s)
		}
		if s, err := t.read(path.Join(dir, "effective_affinity_list")); err == nil {
			irq.Effective, _ = cpuset.Parse(s)
		}
		l.IRQs = append(l.IRQs, irq)
	}
}

// isBusAddress reports whether s looks like a PCI address (0000:3b:00.0).
func isBusAddress(s string) bool {
	return strings.Count(s, ":") == 2 && strings.Contains(s, ".")
}

// readQueues counts a link's queues and reads their RPS and XPS masks.
func readQueues(t *tree, base string, l *Link) {
	ents, err := t.readDir(path.Join(base, "queues"))
	if err != nil {
		return
	}
	for _, e := range ents {
		q := e.Name()
		var file string
		var m *map[string]CPUList
		switch {
		case strings.HasPrefix(q, "rx-"):
			l.RxQueues++
			file, m = "rps_cpus", &l.RPS
		case strings.HasPrefix(q, "tx-"):
			l.TxQueues++
			file, m = "xps_cpus", &l.XPS
		default:
			continue
		}
		s, err := t.read(path.Join(base, "queues", q, file))
		if err != nil {
			continue
		}
		if cpus, err := cpuset.ParseMask(s); err == nil && len(cpus) > 0 {
			if *m == nil {
				*m = map[string]CPUList{}
			}
			(*m)[q] = cpus
		}
	}
}

// patchedDirs are where the patched module's attributes may sit below a
// device's sysfs directory (as datapath/kernel looks for them).
var patchedDirs = []string{"", "wireguard"}

// readWireGuard reads the patched module's attributes of a WireGuard
// device, when present.
func readWireGuard(t *tree, base string) *WireGuard {
	wg := &WireGuard{}
	for _, sub := range patchedDirs {
		dir := path.Join(base, sub)
		if sub != "" && !t.exists(dir) {
			continue
		}
		if v, err := t.read(path.Join(dir, "inline_en")); err == nil && wg.InlineEnabled == nil {
			on := v == "1"
			wg.Patched, wg.InlineEnabled = true, &on
		}
		for _, a := range []struct {
			file string
			dst  *CPUList
		}{{"encrypt_cpumask", &wg.EncryptCPUs}, {"decrypt_cpumask", &wg.DecryptCPUs}} {
			if v, err := t.read(path.Join(dir, a.file)); err == nil && *a.dst == nil {
				wg.Patched = true
				*a.dst, _ = cpuset.ParseMask(v)
			}
		}
		if wg.Patched && wg.AttrDir == "" {
			wg.AttrDir = sub
		}
		ents, err := t.readDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "peer_") {
				continue
			}
			if n, err := readInt(t, path.Join(dir, e.Name(), "serial_work_cpu")); err == nil {
				if wg.SerialWorkCPUs == nil {
					wg.SerialWorkCPUs = map[string]int{}
				}
				wg.Patched = true
				wg.SerialWorkCPUs[e.Name()] = n
			}
		}
	}
	return wg
}

// readInterrupts maps IRQ numbers to their names in /proc/interrupts.
func readInterrupts(t *tree) map[int]string {
	out := map[int]string{}
	b, err := t.readBytes("proc/interrupts")
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
		if err != nil {
			continue
		}
		out[n] = f[len(f)-1]
	}
	return out
}

// readIfInet6 returns the links with a global IPv6 address.
func readIfInet6(t *tree) map[string]bool {
	out := map[string]bool{}
	s, err := t.read("proc/net/if_inet6")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && f[3] == "00" {
			out[f[5]] = true
		}
	}
	return out
}

// defaultRoute returns the device of the IPv4 default route, else of the
// IPv6 one.
func defaultRoute(t *tree) string {
	if s, err := t.read("proc/net/route"); err == nil {
		for _, line := range strings.Split(s, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 8 && f[1] == "00000000" && f[7] == "00000000" {
				return f[0]
			}
		}
	}
	if s, err := t.read("proc/net/ipv6_route"); err == nil {
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			if len(f) == 10 && f[0] == strings.Repeat("0", 32) && f[1] == "00" && f[9] != "lo" {
				return f[9]
			}
		}
	}
	return ""
}

// ueventValue returns KEY's value in a uevent file.
func ueventValue(u, key string) string {
	for _, line := range strings.Split(u, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func readInt(t *tree, rel string) (int, error) {
	s, err := t.read(rel)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}
