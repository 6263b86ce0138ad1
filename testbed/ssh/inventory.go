package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/strictyaml"
	"github.com/wgbench/wgbench/scenarios"
	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/netsetup"
)

// Defaults of an inventory's optional keys.
const (
	DefaultUser       = "root"
	DefaultPort       = 22
	DefaultWorkDir    = "/var/tmp/wgbench"
	DefaultKnownHosts = "~/.ssh/known_hosts"
)

// Inventory names the four machines of an SSH testbed and how to reach
// them. It is read from a YAML file:
//
//	defaults:                      # optional; any key a host may set but ssh, lan, wan, cores
//	  user: alice                  # login user (default root)
//	  sudo: true                   # run commands through `sudo -n` (default false)
//	  key: ~/.ssh/id_ed25519       # private key file (default: agent, then ~/.ssh/id_*)
//	  agent: true                  # use the ssh-agent at $SSH_AUTH_SOCK
//	  known_hosts: ~/.ssh/known_hosts
//	  workdir: /var/tmp/wgbench    # where wgbench and run files go on the host
//	hosts:
//	  source: {ssh: node0.example.net, lan: enp65s0f0np0}
//	  gw1:    {ssh: node1.example.net:22, lan: 1c:34:da:5a:1b:20, wan: enp65s0f1np1, cores: 0-15}
//	  gw2:    {ssh: node2.example.net, lan: ..., wan: ...}
//	  drain:  {ssh: node3.example.net, lan: 10.10.3.2}
//
// Interfaces are named by name, MAC address or an IPv4 address they hold
// (resolved on the host). Relative paths are relative to the inventory
// file; ~ is the controller user's home.
type Inventory struct {
	// File is where the inventory was read from, for messages.
	File string
	// Hosts are the four hosts by role.
	Hosts map[string]*HostSpec
}

// HostSpec is one host of an inventory, defaults applied.
type HostSpec struct {
	// Role is source, gw1, gw2 or drain.
	Role string
	// Addr is the SSH address, host:port.
	Addr string
	// User is the login user.
	User string
	// Sudo runs every command through `sudo -n` (the user needs
	// passwordless sudo), as on CloudLab where root cannot log in.
	Sudo bool
	// Key is a private key file; empty when none was named.
	Key string
	// Agent uses the ssh-agent at $SSH_AUTH_SOCK.
	Agent bool
	// KnownHosts is the known_hosts file the host key is checked against.
	KnownHosts string
	// WorkDir holds the wgbench binary and the run directories on the host.
	WorkDir string
	// LAN and WAN are the data-plane interfaces (WAN: gateways only), as
	// names, MAC addresses or IPv4 addresses.
	LAN, WAN string
	// Cores are the cores the host's work may use; empty means all.
	// Every process the driver starts on the host runs with its CPU
	// affinity set to them (testbed.CPUsEnv).
	Cores []int
	// Line is where the host is defined in the file.
	Line int
}

// Name says where the host is, for messages: "gw1 (node1.example.net:22)".
func (h *HostSpec) Name() string { return fmt.Sprintf("%s (%s)", h.Role, h.Addr) }

// String renders every field, for tests and debugging; it holds the key's
// path, never the key.
func (h *HostSpec) String() string {
	return fmt.Sprintf("%s ssh=%s user=%s sudo=%v key=%s agent=%v known_hosts=%s workdir=%s lan=%s wan=%s cores=%v",
		h.Role, h.Addr, h.User, h.Sudo, h.Key, h.Agent, h.KnownHosts, h.WorkDir, h.LAN, h.WAN, h.Cores)
}

// LoadInventory reads and checks the inventory file at path. Beyond
// ParseInventory's checks, the key files it names must exist here.
func LoadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return parseInventory(path, data, true)
}

// hostKeys are the keys a host may set; defaultKeys those defaults may.
var (
	hostKeys    = []string{"ssh", "user", "sudo", "key", "agent", "known_hosts", "workdir", "lan", "wan", "cores"}
	defaultKeys = []string{"user", "sudo", "key", "agent", "known_hosts", "workdir"}
	topKeys     = []string{"defaults", "hosts"}
)

// ParseInventory decodes an inventory strictly: unknown or repeated keys,
// wrong types, missing hosts or interfaces and bad addresses are errors
// with file:line:col. The returned error is a *strictyaml.Errors (the
// same type as *scenarios.Errors) listing
// every problem. name is the file name used in messages and to resolve
// relative paths.
func ParseInventory(name string, data []byte) (*Inventory, error) {
	return parseInventory(name, data, false)
}

// parseInventory is ParseInventory; checkFiles also checks that the key
// files exist on this machine.
func parseInventory(name string, data []byte, checkFiles bool) (inv *Inventory, err error) {
	d := &invDecoder{file: name, checkFiles: checkFiles}
	defer func() {
		if r := recover(); r != nil { // yaml.v3 must not crash us on user input
			inv, err = nil, &strictyaml.Errors{List: []*strictyaml.Error{{File: name, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}}}
		}
	}()
	root := d.document(data)
	if root == nil {
		return nil, d.err()
	}
	inv = &Inventory{File: name, Hosts: map[string]*HostSpec{}}
	top := d.mapping(root, "", topKeys)
	defaults := map[string]*yaml.Node{}
	if n, ok := top["defaults"]; ok && !strictyaml.IsNull(n) {
		defaults = d.mapping(n, "defaults", defaultKeys)
	}
	hostsNode, ok := top["hosts"]
	if !ok || strictyaml.IsNull(hostsNode) {
		d.fail(root, "hosts", "missing; name the four hosts: %s", strings.Join(testbed.Roles, ", "))
		return nil, d.err()
	}
	hosts := d.mapping(hostsNode, "hosts", testbed.Roles)
	for _, role := range testbed.Roles {
		hn, ok := hosts[role]
		if !ok {
			example := "{ssh: HOST, lan: IFACE}"
			if role == testbed.GW1 || role == testbed.GW2 {
				example = "{ssh: HOST, lan: IFACE, wan: IFACE}"
			}
			d.fail(hostsNode, "hosts."+role, "missing; the testbed needs four hosts (%s): add %s: %s", strings.Join(testbed.Roles, ", "), role, example)
			continue
		}
		if h := d.host(role, hn, defaults); h != nil {
			inv.Hosts[role] = h
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return inv, nil
}

// invDecoder collects positioned errors while decoding an inventory.
type invDecoder struct {
	file       string
	checkFiles bool
	errs       []*strictyaml.Error
}

// failOnce is fail, once per position and path: a value set under
// defaults is checked for every host.
func (d *invDecoder) failOnce(n *yaml.Node, path, format string, args ...any) {
	for _, e := range d.errs {
		if e.Path == path && e.Line == n.Line && e.Col == n.Column {
			return
		}
	}
	d.fail(n, path, format, args...)
}

func (d *invDecoder) fail(n *yaml.Node, path, format string, args ...any) {
	e := &strictyaml.Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// err returns the errors found, earliest in the file first, or nil.
func (d *invDecoder) err() error { return strictyaml.Earliest(d.errs) }

// document parses exactly one YAML document whose root is a mapping.
func (d *invDecoder) document(data []byte) *yaml.Node {
	doc := strictyaml.Doc{File: d.file, Noun: "an inventory file", Empty: "an inventory names the hosts under hosts:"}
	root, perr := doc.Parse(data)
	if perr != nil {
		d.errs = append(d.errs, perr)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "", "an inventory is a mapping with the keys %s, got %s", strings.Join(topKeys, " and "), kind(root))
		return nil
	}
	return root
}

// mapping returns the keys of mapping n, reporting repeated keys, keys
// not in allowed, and a non-mapping n.
func (d *invDecoder) mapping(n *yaml.Node, path string, allowed []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	n = strictyaml.Resolve(n)
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping with the keys %s, got %s", strings.Join(allowed, ", "), kind(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := strictyaml.JoinPath(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			d.fail(k, path, "keys are names, got %s", kind(k))
		case k.Value == "<<":
			d.fail(k, path, "merge keys (<<) are not supported in an inventory; write the keys out or use defaults:")
		case !slices.Contains(allowed, k.Value) && path == "defaults" && slices.Contains(hostKeys, k.Value):
			d.fail(k, p, "unknown key; allowed: %s (%s is set per host, under hosts:)", strings.Join(allowed, ", "), k.Value)
		case !slices.Contains(allowed, k.Value):
			d.fail(k, p, "unknown key; allowed: %s%s", strings.Join(allowed, ", "), strictyaml.DidYouMean(k.Value, allowed))
		case out[k.Value] != nil:
			d.fail(k, p, "repeated key (first at line %d); keep one", out[k.Value].Line)
		default:
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			out[k.Value] = v
		}
	}
	return out
}

// host decodes one host, taking unset keys from defaults.
func (d *invDecoder) host(role string, n *yaml.Node, defaults map[string]*yaml.Node) *HostSpec {
	path := "hosts." + role
	keys := d.mapping(n, path, hostKeys)
	if strictyaml.Resolve(n).Kind != yaml.MappingNode {
		return nil // mapping said what is wrong; every key would be "missing" too
	}
	before := len(d.errs)
	h := &HostSpec{Role: role, User: DefaultUser, WorkDir: DefaultWorkDir, KnownHosts: DefaultKnownHosts, Line: n.Line}
	hn := hostNode{d: d, n: n, role: role, path: path, keys: keys, defaults: defaults}
	var addr string
	hn.str("ssh", &addr)
	hn.str("user", &h.User)
	hn.boolean("sudo", &h.Sudo)
	hn.str("key", &h.Key)
	hn.boolean("agent", &h.Agent)
	hn.str("known_hosts", &h.KnownHosts)
	hn.str("workdir", &h.WorkDir)
	hn.str("lan", &h.LAN)
	hn.str("wan", &h.WAN)
	hn.cores(&h.Cores)
	hn.address(addr, h)
	hn.interfaces(h)
	hn.workDir(h)
	h.Key = d.localPath(h.Key)
	h.KnownHosts = d.localPath(h.KnownHosts)
	hn.keyFile(h)
	if len(d.errs) > before {
		return nil
	}
	return h
}

// hostNode is one host's mapping being decoded: its keys, the defaults
// that fill the keys it lacks, and where it stands, for messages.
type hostNode struct {
	d              *invDecoder
	n              *yaml.Node
	role, path     string
	keys, defaults map[string]*yaml.Node
}

// get is the host's value for key, or else the default's, with the path
// it was found at.
func (hn hostNode) get(key string) (*yaml.Node, string, bool) {
	if v, ok := hn.keys[key]; ok {
		return v, strictyaml.JoinPath(hn.path, key), true
	}
	if v, ok := hn.defaults[key]; ok {
		return v, strictyaml.JoinPath("defaults", key), true
	}
	return nil, "", false
}

// str decodes key, if set, as a non-empty string into dst.
func (hn hostNode) str(key string, dst *string) {
	if v, p, ok := hn.get(key); ok {
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" || strings.TrimSpace(v.Value) == "" {
			hn.d.fail(v, p, "expected a non-empty string, got %s", kind(v))
			return
		}
		*dst = strings.TrimSpace(v.Value)
	}
}

// boolean decodes key, if set, as true or false into dst.
func (hn hostNode) boolean(key string, dst *bool) {
	if v, p, ok := hn.get(key); ok {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(dst) != nil {
			hn.d.fail(v, p, "expected true or false, got %s", kind(v))
		}
	}
}

// cores decodes the cores key, if set, as a CPU list into dst.
func (hn hostNode) cores(dst *[]int) {
	if v, p, ok := hn.get("cores"); ok {
		var cl scenarios.CPUList
		if err := v.Decode(&cl); err != nil {
			hn.d.fail(v, p, "%v", err)
		} else if set, ok := cl.Literal(); !ok {
			_, err := cpuset.Parse(string(cl)) // an inventory takes plain lists only
			hn.d.fail(v, p, "%v", err)
		} else {
			*dst = set
		}
	}
}

// address checks the SSH address addr, which must be given, and sets
// h.Addr to it as host:port.
func (hn hostNode) address(addr string, h *HostSpec) {
	p := strictyaml.JoinPath(hn.path, "ssh")
	if addr == "" {
		if _, _, ok := hn.get("ssh"); !ok {
			hn.d.fail(hn.n, p, "missing; give the SSH address as host or host:port")
		}
	} else if a, err := normalizeAddr(addr); err != nil {
		hn.d.fail(hn.keys["ssh"], p, "%v", err)
	} else {
		h.Addr = a
	}
}

// interfaces checks the LAN interface, which every host needs, and the
// WAN one, which gateways need and other hosts must not have, and that
// they differ.
func (hn hostNode) interfaces(h *HostSpec) {
	hn.iface("lan", h.LAN, true)
	hn.iface("wan", h.WAN, hn.role == testbed.GW1 || hn.role == testbed.GW2)
	if h.LAN != "" && h.LAN == h.WAN {
		hn.d.fail(hn.keys["wan"], strictyaml.JoinPath(hn.path, "wan"), "the same interface as lan; a gateway needs two")
	}
}

// iface checks the interface val given at key: there when need says it
// must be, absent otherwise, and a name, MAC or IPv4 address.
func (hn hostNode) iface(key, val string, need bool) {
	node := hn.keys[key]
	p := strictyaml.JoinPath(hn.path, key)
	switch {
	case val == "" && need:
		what := "the interface towards its site"
		if key == "wan" {
			what = "the interface towards the other gateway"
		}
		hn.d.fail(hn.n, p, "missing; %s needs %s (a name, MAC or IPv4 address)", hn.role, what)
	case val != "" && !need:
		hn.d.fail(node, p, "%s has no WAN link; remove it", hn.role)
	case val != "":
		if _, err := netsetup.ParseSpec(val); err != nil {
			hn.d.fail(node, p, "%v", err)
		}
	}
}

// workDir checks that a work directory that was set is an absolute path
// on one line.
func (hn hostNode) workDir(h *HostSpec) {
	if v, p, ok := hn.get("workdir"); ok {
		switch {
		case !strings.HasPrefix(h.WorkDir, "/"):
			hn.d.fail(v, p, "%q is not an absolute path on the host; write e.g. %s", h.WorkDir, DefaultWorkDir)
		case strings.ContainsAny(h.WorkDir, "\n\x00"):
			hn.d.fail(v, p, "the work directory cannot contain newlines")
		}
	}
}

// keyFile checks, when the decoder checks files, that a key file that was
// named is a file here.
func (hn hostNode) keyFile(h *HostSpec) {
	if v, p, ok := hn.get("key"); ok && h.Key != "" && hn.d.checkFiles {
		if st, err := os.Stat(h.Key); err != nil {
			hn.d.failOnce(v, p, "the key file %s cannot be used (%v); name the private key that logs in to the host, or set agent: true to use ssh-agent", h.Key, errors.Unwrap(err))
		} else if st.IsDir() {
			hn.d.failOnce(v, p, "%s is a directory; name the private key file in it (e.g. %s)", h.Key, filepath.Join(h.Key, "id_ed25519"))
		}
	}
}

// localPath expands ~ and makes p relative to the inventory's folder.
func (d *invDecoder) localPath(p string) string {
	if p == "" {
		return ""
	}
	return expandPath(p, filepath.Dir(d.file))
}

// expandPath expands a leading ~/ to the home directory and joins relative
// paths to dir.
func expandPath(p, dir string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p
}

// normalizeAddr checks an SSH address and adds the default port.
func normalizeAddr(s string) (string, error) {
	host, port := s, strconv.Itoa(DefaultPort)
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		host = s // a bare IPv6 address
	} else if strings.Contains(s, ":") || strings.HasPrefix(s, "[") {
		return "", fmt.Errorf("%q is not host or host:port (%v); write e.g. node1.example.net:22 or [2001:db8::1]:22", s, err)
	}
	if host == "" || strings.ContainsAny(host, " \t/@") {
		return "", fmt.Errorf("%q is not host or host:port; write e.g. node1.example.net or 192.0.2.10:2222 (the user goes under user:)", s)
	}
	if !validHost(host) {
		return "", fmt.Errorf("%q is not a host name or IP address; write e.g. node1.example.net, 192.0.2.10:2222 or [2001:db8::1]:22", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number in 1..65535", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// validHost says whether h is an IP address or a host name (letters,
// digits, '.', '-' and '_').
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return strings.IndexFunc(h, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) < 0
}

// kind describes n for an error message.
func kind(n *yaml.Node) string { return strictyaml.Describe(n) }

// fileHost is one host as written to an inventory file.
type fileHost struct {
	SSH        string            `yaml:"ssh"`
	User       string            `yaml:"user,omitempty"`
	Sudo       bool              `yaml:"sudo,omitempty"`
	Key        string            `yaml:"key,omitempty"`
	Agent      bool              `yaml:"agent,omitempty"`
	KnownHosts string            `yaml:"known_hosts,omitempty"`
	WorkDir    string            `yaml:"workdir,omitempty"`
	LAN        string            `yaml:"lan"`
	WAN        string            `yaml:"wan,omitempty"`
	Cores      scenarios.CPUList `yaml:"cores,omitempty"`
}

// Marshal writes inv as an inventory file that ParseInventory reads back
// to the same hosts, with header as a leading comment (may be empty).
func (inv *Inventory) Marshal(header string) ([]byte, error) {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header != "" {
			fmt.Fprintf(&b, "# %s\n", line)
		}
	}
	hosts := &yaml.Node{Kind: yaml.MappingNode}
	for _, role := range testbed.Roles {
		h, ok := inv.Hosts[role]
		if !ok {
			return nil, fmt.Errorf("inventory has no %s host", role)
		}
		fh := fileHost{SSH: h.Addr, User: h.User, Sudo: h.Sudo, Key: h.Key, Agent: h.Agent, KnownHosts: h.KnownHosts, WorkDir: h.WorkDir, LAN: h.LAN, WAN: h.WAN, Cores: scenarios.CPUs(h.Cores)}
		if fh.User == DefaultUser {
			fh.User = ""
		}
		if fh.WorkDir == DefaultWorkDir {
			fh.WorkDir = ""
		}
		if fh.KnownHosts == DefaultKnownHosts || fh.KnownHosts == expandPath(DefaultKnownHosts, "/") {
			fh.KnownHosts = ""
		}
		var hn yaml.Node
		if err := hn.Encode(fh); err != nil {
			return nil, err
		}
		hosts.Content = append(hosts.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: role}, &hn)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "hosts"}, hosts}}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
