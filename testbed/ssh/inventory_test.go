package ssh

import (
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

func TestParseInventoryErrors(t *testing.T) {
	base := func(gw1 string) string {
		return "hosts:\n  source: {ssh: a, lan: eth1}\n" + gw1 + "  gw2: {ssh: c, lan: eth1, wan: eth2}\n  drain: {ssh: d, lan: eth1}\n"
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{"h.yaml: the file is empty"}},
		{"syntax", "hosts: [", []string{"h.yaml:1: YAML syntax"}},
		{"not a mapping", "- a\n", []string{"h.yaml:1:1: an inventory is a mapping"}},
		{"no hosts", "defaults: {user: x}\n", []string{"hosts: missing; name the four hosts"}},
		{"unknown top key", "host: {}\n", []string{"h.yaml:1:1: host: unknown key; allowed: defaults, hosts (did you mean hosts?)", "hosts: missing"}},
		{"missing role", "hosts:\n  source: {ssh: a, lan: eth1}\n", []string{"hosts.gw1: missing", "hosts.gw2: missing", "hosts.drain: missing"}},
		{"unknown role", base("  gw1: {ssh: b, lan: eth1, wan: eth2}\n") + "  gw3: {ssh: e}\n", []string{"h.yaml:6:3: hosts.gw3: unknown key; allowed: source, gw1, gw2, drain"}},
		{"missing wan", base("  gw1: {ssh: b, lan: eth1}\n"), []string{"h.yaml:3:8: hosts.gw1.wan: missing; gw1 needs the interface towards the other gateway"}},
		{"wan on source", "hosts:\n  source: {ssh: a, lan: eth1, wan: eth2}\n  gw1: {ssh: b, lan: eth1, wan: eth2}\n  gw2: {ssh: c, lan: eth1, wan: eth2}\n  drain: {ssh: d, lan: eth1}\n", []string{"hosts.source.wan: source has no WAN link"}},
		{"same lan and wan", base("  gw1: {ssh: b, lan: eth1, wan: eth1}\n"), []string{"hosts.gw1.wan: the same interface as lan"}},
		{"bad port", base("  gw1: {ssh: 'b:99999', lan: eth1, wan: eth2}\n"), []string{`hosts.gw1.ssh: port "99999" is not a number`}},
		{"user in address", base("  gw1: {ssh: root@b, lan: eth1, wan: eth2}\n"), []string{"the user goes under user:"}},
		{"bad interface", base("  gw1: {ssh: b, lan: eth1, wan: 'a/b'}\n"), []string{"hosts.gw1.wan: \"a/b\" is neither an interface name"}},
		{"repeated key", base("  gw1: {ssh: b, lan: eth1, wan: eth2, lan: eth3}\n"), []string{"hosts.gw1.lan: repeated key (first at line 3)"}},
		{"bad bool", base("  gw1: {ssh: b, lan: eth1, wan: eth2, sudo: yes please}\n"), []string{"hosts.gw1.sudo: expected true or false"}},
		{"relative workdir", base("  gw1: {ssh: b, lan: eth1, wan: eth2, workdir: tmp}\n"), []string{`hosts.gw1.workdir: "tmp" is not an absolute path`}},
		{"bad cores", base("  gw1: {ssh: b, lan: eth1, wan: eth2, cores: 3-1}\n"), []string{"hosts.gw1.cores:", "runs backwards"}},
		{"ssh in defaults", "defaults: {ssh: x}\n" + base("  gw1: {ssh: b, lan: eth1, wan: eth2}\n"), []string{"defaults.ssh: unknown key"}},
		{"missing ssh", base("  gw1: {lan: eth1, wan: eth2}\n"), []string{"hosts.gw1.ssh: missing"}},
		{"two documents", "hosts: {}\n---\nhosts: {}\n", []string{"a second YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInventory("h.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			var es *scenarios.Errors
			if !asErrors(err, &es) {
				t.Fatalf("error %T %v is not positioned", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
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
