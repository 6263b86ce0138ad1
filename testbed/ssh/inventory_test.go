package ssh

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/scenarios"
)

const goodInventory = `# four hosts
defaults:
  user: alice
  sudo: true
  key: keys/id_ed25519
hosts:
  source: {ssh: node0.example.net, lan: enp65s0f0np0}
  gw1:
    ssh: node1.example.net:2222
    lan: 1c:34:da:5a:1b:20
    wan: enp65s0f1np1
    cores: 0-15
  gw2: {ssh: "192.0.2.12", lan: 10.10.3.1, wan: eth2, user: root, sudo: false}
  drain: {ssh: "[2001:db8::4]:22", lan: eth1, workdir: /opt/wgbench, known_hosts: /etc/ssh/ssh_known_hosts}
`

func TestParseInventory(t *testing.T) {
	inv, err := ParseInventory("/lab/hosts.yaml", []byte(goodInventory))
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	tests := []struct {
		role, addr, user, key, known, workdir, lan, wan string
		sudo                                            bool
		cores                                           int
	}{
		{"source", "node0.example.net:22", "alice", "/lab/keys/id_ed25519", filepath.Join(home, ".ssh/known_hosts"), DefaultWorkDir, "enp65s0f0np0", "", true, 0},
		{"gw1", "node1.example.net:2222", "alice", "/lab/keys/id_ed25519", filepath.Join(home, ".ssh/known_hosts"), DefaultWorkDir, "1c:34:da:5a:1b:20", "enp65s0f1np1", true, 16},
		{"gw2", "192.0.2.12:22", "root", "/lab/keys/id_ed25519", filepath.Join(home, ".ssh/known_hosts"), DefaultWorkDir, "10.10.3.1", "eth2", false, 0},
		{"drain", "[2001:db8::4]:22", "alice", "/lab/keys/id_ed25519", "/etc/ssh/ssh_known_hosts", "/opt/wgbench", "eth1", "", true, 0},
	}
	for _, tt := range tests {
		h := inv.Hosts[tt.role]
		if h == nil {
			t.Fatalf("no %s", tt.role)
		}
		if h.Addr != tt.addr || h.User != tt.user || h.Key != tt.key || h.KnownHosts != tt.known || h.WorkDir != tt.workdir ||
			h.LAN != tt.lan || h.WAN != tt.wan || h.Sudo != tt.sudo || len(h.Cores) != tt.cores {
			t.Errorf("%s = %+v", tt.role, h)
		}
	}
	if got := inv.Hosts["gw1"].Name(); got != "gw1 (node1.example.net:2222)" {
		t.Errorf("Name = %q", got)
	}
}

// TestParseInventoryErrors feeds malformed inventories and checks that
// each error says where (file:line:col), which key, and what to do.
func TestParseInventoryErrors(t *testing.T) {
	base := func(gw1 string) string {
		return "hosts:\n  source: {ssh: a, lan: eth1}\n" + gw1 + "  gw2: {ssh: c, lan: eth1, wan: eth2}\n  drain: {ssh: d, lan: eth1}\n"
	}
	good := base("  gw1: {ssh: b, lan: eth1, wan: eth2}\n")
	tests := []struct {
		name string
		yaml string
		pos  string // want "line:col" of the error; "0:0" when it has none
		path string // want its Path: the key
		msg  string // want a substring of its Msg: what is wrong and what to do
		n    int    // want this many errors; 0: any
	}{
		// The file.
		{name: "empty", yaml: "", pos: "0:0", msg: "the file is empty; an inventory names the hosts under hosts:", n: 1},
		{name: "YAML syntax", yaml: "hosts: [", pos: "1:0", msg: "YAML syntax: did not find expected node content", n: 1},
		{name: "not a mapping", yaml: "- a\n", pos: "1:1", msg: "an inventory is a mapping with the keys defaults and hosts, got a list", n: 1},
		{name: "two documents", yaml: "hosts: {}\n---\nhosts: {}\n", pos: "2:1", msg: "a second YAML document starts here; an inventory file holds one document", n: 1},
		{name: "unknown top-level key", yaml: "host: {}\n", pos: "1:1", path: "host", msg: "unknown key; allowed: defaults, hosts (did you mean hosts?)", n: 2},
		// The hosts.
		{name: "no hosts", yaml: "defaults: {user: x}\n", pos: "1:1", path: "hosts", msg: "missing; name the four hosts: source, gw1, gw2, drain", n: 1},
		{name: "empty hosts", yaml: "hosts: ~\n", pos: "1:1", path: "hosts", msg: "missing; name the four hosts", n: 1},
		{name: "missing role", yaml: "hosts:\n  source: {ssh: a, lan: eth1}\n", pos: "2:3", path: "hosts.gw1", msg: "missing; the testbed needs four hosts (source, gw1, gw2, drain): add gw1: {ssh: HOST, lan: IFACE, wan: IFACE}", n: 3},
		{name: "missing drain", yaml: strings.Replace(good, "  drain: {ssh: d, lan: eth1}\n", "", 1), pos: "2:3", path: "hosts.drain", msg: "add drain: {ssh: HOST, lan: IFACE}", n: 1},
		{name: "unknown role", yaml: good + "  gw3: {ssh: e}\n", pos: "6:3", path: "hosts.gw3", msg: "unknown key; allowed: source, gw1, gw2, drain (did you mean gw1?)", n: 1},
		{name: "duplicate role", yaml: good + "  gw1: {ssh: e, lan: eth1, wan: eth2}\n", pos: "6:3", path: "hosts.gw1", msg: "repeated key (first at line 3); keep one", n: 1},
		{name: "host not a mapping", yaml: base("  gw1: [b]\n"), pos: "3:8", path: "hosts.gw1", msg: "expected a mapping with the keys ssh, user, sudo, key, agent, known_hosts, workdir, lan, wan, cores, got a list", n: 1},
		{name: "host with nothing", yaml: base("  gw1:\n"), pos: "3:7", path: "hosts.gw1", msg: "expected a mapping", n: 1},
		{name: "merge key", yaml: strings.Replace(base("  gw1: {<<: *s, wan: eth2}\n"), "source: {", "source: &s {", 1), pos: "3:9", path: "hosts.gw1", msg: "merge keys (<<) are not supported in an inventory; write the keys out or use defaults:"},
		// A host's keys.
		{name: "unknown host key", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, usr: bob}\n"), pos: "3:39", path: "hosts.gw1.usr", msg: "unknown key; allowed: ssh, user, sudo, key, agent, known_hosts, workdir, lan, wan, cores (did you mean user?)", n: 1},
		{name: "scenario key in a host", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, mtu: 9000}\n"), pos: "3:39", path: "hosts.gw1.mtu", msg: "unknown key; allowed: ssh", n: 1},
		{name: "repeated key", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, lan: eth3}\n"), pos: "3:39", path: "hosts.gw1.lan", msg: "repeated key (first at line 3); keep one", n: 1},
		{name: "missing ssh", yaml: base("  gw1: {lan: eth1, wan: eth2}\n"), pos: "3:8", path: "hosts.gw1.ssh", msg: "missing; give the SSH address as host or host:port", n: 1},
		{name: "port out of range", yaml: base("  gw1: {ssh: 'b:99999', lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: `port "99999" is not a number in 1..65535`, n: 1},
		{name: "port not a number", yaml: base("  gw1: {ssh: 'b:ssh', lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: `port "ssh" is not a number in 1..65535`, n: 1},
		{name: "user in the address", yaml: base("  gw1: {ssh: root@b, lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: "write e.g. node1.example.net or 192.0.2.10:2222 (the user goes under user:)", n: 1},
		{name: "broken IPv6 address", yaml: base("  gw1: {ssh: '[::1', lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: "write e.g. node1.example.net:22 or [2001:db8::1]:22", n: 1},
		{name: "not a host name", yaml: base("  gw1: {ssh: 'b;x:22', lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: `"b;x" is not a host name or IP address; write e.g. node1.example.net`, n: 1},
		{name: "colons but no IPv6 address", yaml: base("  gw1: {ssh: 'a:b:c', lan: eth1, wan: eth2}\n"), pos: "3:14", path: "hosts.gw1.ssh", msg: `"a:b:c" is not a host name or IP address`, n: 1},
		{name: "empty user", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, user: ''}\n"), pos: "3:45", path: "hosts.gw1.user", msg: `expected a non-empty string, got ""`, n: 1},
		{name: "key not a path", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, key: [a]}\n"), pos: "3:44", path: "hosts.gw1.key", msg: "expected a non-empty string, got a list", n: 1},
		{name: "missing lan", yaml: strings.Replace(good, "{ssh: d, lan: eth1}", "{ssh: d}", 1), pos: "5:10", path: "hosts.drain.lan", msg: "missing; drain needs the interface towards its site (a name, MAC or IPv4 address)", n: 1},
		{name: "missing wan", yaml: base("  gw1: {ssh: b, lan: eth1}\n"), pos: "3:8", path: "hosts.gw1.wan", msg: "missing; gw1 needs the interface towards the other gateway (a name, MAC or IPv4 address)", n: 1},
		{name: "wan on source", yaml: strings.Replace(good, "{ssh: a, lan: eth1}", "{ssh: a, lan: eth1, wan: eth2}", 1), pos: "2:36", path: "hosts.source.wan", msg: "source has no WAN link; remove it", n: 1},
		{name: "same lan and wan", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth1}\n"), pos: "3:33", path: "hosts.gw1.wan", msg: "the same interface as lan; a gateway needs two", n: 1},
		{name: "bad interface", yaml: base("  gw1: {ssh: b, lan: eth1, wan: 'a/b'}\n"), pos: "3:33", path: "hosts.gw1.wan", msg: `"a/b" is neither an interface name (at most 15 characters, no '/', ':' or spaces), a MAC address nor an IPv4 address`, n: 1},
		{name: "bad MAC address", yaml: base("  gw1: {ssh: b, lan: 'zz:zz', wan: eth2}\n"), pos: "3:22", path: "hosts.gw1.lan", msg: `"zz:zz" is neither an interface name`, n: 1},
		{name: "sudo yes", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, sudo: yes}\n"), pos: "3:45", path: "hosts.gw1.sudo", msg: `expected true or false, got "yes"`, n: 1},
		{name: "agent 1", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, agent: 1}\n"), pos: "3:46", path: "hosts.gw1.agent", msg: "expected true or false, got 1", n: 1},
		{name: "relative workdir", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, workdir: tmp}\n"), pos: "3:48", path: "hosts.gw1.workdir", msg: `"tmp" is not an absolute path on the host; write e.g. /var/tmp/wgbench`, n: 1},
		{name: "workdir with a newline", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, workdir: \"/a\\nb\"}\n"), pos: "3:48", path: "hosts.gw1.workdir", msg: "the work directory cannot contain newlines", n: 1},
		{name: "cores backwards", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, cores: 3-1}\n"), pos: "3:46", path: "hosts.gw1.cores", msg: "range 3-1 runs backwards; write e.g. 0-3,8 or [0, 1, 2, 3, 8]", n: 1},
		{name: "cores not a CPU list", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, cores: all}\n"), pos: "3:46", path: "hosts.gw1.cores", msg: `"all" is not a CPU list: "all" is not a CPU number; write e.g. 0-3,8`, n: 1},
		{name: "cores list of words", yaml: base("  gw1: {ssh: b, lan: eth1, wan: eth2, cores: [a]}\n"), pos: "3:46", path: "hosts.gw1.cores", msg: `expected a CPU number, got "a"`, n: 1},
		// Defaults.
		{name: "defaults not a mapping", yaml: "defaults: [x]\n" + good, pos: "1:11", path: "defaults", msg: "expected a mapping with the keys user, sudo, key, agent, known_hosts, workdir, got a list", n: 1},
		{name: "host key in defaults", yaml: "defaults: {ssh: x}\n" + good, pos: "1:12", path: "defaults.ssh", msg: "unknown key; allowed: user, sudo, key, agent, known_hosts, workdir (ssh is set per host, under hosts:)", n: 1},
		{name: "bad default for every host", yaml: "defaults: {workdir: w}\n" + good, pos: "1:21", path: "defaults.workdir", msg: `"w" is not an absolute path on the host`, n: 4},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.yaml] {
			t.Errorf("%s: the same file as another case", tt.name)
		}
		seen[tt.yaml] = true
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInventory("h.yaml", []byte(tt.yaml))
			checkInventoryError(t, err, "h.yaml", tt.pos, tt.path, tt.msg, tt.n)
		})
	}
	if len(tests) < 15 {
		t.Errorf("%d cases; keep at least 15 malformed inventories", len(tests))
	}
}

// TestLoadInventoryKeyFile checks what LoadInventory adds to the parse:
// the key files must exist here, and a missing one is reported once where
// it is named.
func TestLoadInventoryKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "id"), []byte("not read here"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	hosts := "hosts:\n  source: {ssh: a, lan: eth1}\n  gw1: {ssh: b, lan: eth1, wan: eth2, key: gone}\n  gw2: {ssh: c, lan: eth1, wan: eth2}\n  drain: {ssh: d, lan: eth1}\n"
	tests := []struct {
		name, yaml, pos, path, msg string
		n                          int
	}{
		{"missing key", "defaults: {key: id}\n" + hosts, "4:44", "hosts.gw1.key", "the key file " + filepath.Join(dir, "gone") + " cannot be used (no such file or directory); name the private key that logs in to the host, or set agent: true to use ssh-agent", 1},
		{"missing default key", "defaults: {key: nope}\n" + strings.Replace(hosts, "key: gone", "key: id", 1), "1:17", "defaults.key", "the key file " + filepath.Join(dir, "nope") + " cannot be used", 1},
		{"key is a directory", "defaults: {key: keys}\n" + strings.Replace(hosts, "key: gone", "key: id", 1), "1:17", "defaults.key", "is a directory; name the private key file in it (e.g. " + filepath.Join(dir, "keys", "id_ed25519") + ")", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "hosts.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadInventory(path)
			checkInventoryError(t, err, path, tt.pos, tt.path, tt.msg, tt.n)
			// Parsing alone does not look at this machine's files.
			if _, err := ParseInventory(path, []byte(tt.yaml)); err != nil {
				t.Errorf("ParseInventory: %v", err)
			}
		})
	}
	// With the keys there, the inventory loads.
	path := filepath.Join(dir, "hosts.yaml")
	os.WriteFile(path, []byte("defaults: {key: id}\n"+strings.Replace(hosts, "key: gone", "key: "+filepath.Join(dir, "id"), 1)), 0o600)
	if _, err := LoadInventory(path); err != nil {
		t.Errorf("LoadInventory with its key files: %v", err)
	}
}

// checkInventoryError checks that err is a *scenarios.Errors holding an
// error at pos of file for path whose message contains msg, and n errors
// in all (any number when n is 0).
func checkInventoryError(t *testing.T, err error, file, pos, path, msg string, n int) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var es *scenarios.Errors
	if !asErrors(err, &es) || len(es.List) == 0 {
		t.Fatalf("error %T %v is not a list of positioned errors", err, err)
	}
	if n > 0 && len(es.List) != n {
		t.Errorf("%d errors, want %d:\n%v", len(es.List), n, err)
	}
	for _, e := range es.List {
		if e.File != file || e.Msg == "" {
			t.Errorf("error without file or message: %#v", e)
		}
		if fmt.Sprintf("%d:%d", e.Line, e.Col) == pos && e.Path == path && strings.Contains(e.Msg, msg) {
			if want := strings.TrimSuffix(file+":"+pos, ":0:0"); !strings.HasPrefix(e.Error(), strings.TrimSuffix(want, ":0")+": ") {
				t.Errorf("%q does not start with %s", e.Error(), want)
			}
			return
		}
	}
	t.Errorf("no error at %s for %q saying %q; got:\n%v", pos, path, msg, err)
}

func asErrors(err error, es **scenarios.Errors) bool {
	e, ok := err.(*scenarios.Errors)
	*es = e
	return ok
}

func TestMarshalRoundTrip(t *testing.T) {
	inv, err := ParseInventory("/lab/hosts.yaml", []byte(goodInventory))
	if err != nil {
		t.Fatal(err)
	}
	data, err := inv.Marshal("written back\nby the test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# written back\n# by the test\n") {
		t.Errorf("header:\n%s", data)
	}
	back, err := ParseInventory("/lab/hosts.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	for role, h := range inv.Hosts {
		b := back.Hosts[role]
		h.Line, b.Line = 0, 0
		if h.String() != b.String() {
			t.Errorf("%s: %s, read back %s", role, h, b)
		}
	}
}
