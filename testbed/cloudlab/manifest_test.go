package cloudlab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wgbench/wgbench/testbed"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

func loadFixture(t *testing.T) *Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manifest.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestImportFixture(t *testing.T) {
	m := loadFixture(t)
	inv, err := Import(m, Options{User: "alice", Key: "/home/alice/.ssh/cloudlab"})
	if err != nil {
		t.Fatal(err)
	}
	type host struct{ Addr, User, LAN, WAN string }
	got := map[string]host{}
	for role, h := range inv.Hosts {
		if !h.Sudo || h.Key != "/home/alice/.ssh/cloudlab" || h.WorkDir != sshtb.DefaultWorkDir {
			t.Errorf("%s: sudo %v key %q workdir %q", role, h.Sudo, h.Key, h.WorkDir)
		}
		got[role] = host{h.Addr, h.User, h.LAN, h.WAN}
	}
	want := map[string]host{
		testbed.Source: {"sm220u-11.wisc.cloudlab.us:22", "alice", "b8:ce:f6:a1:c2:10", ""},
		testbed.GW1:    {"sm220u-12.wisc.cloudlab.us:22", "alice", "b8:ce:f6:a1:c2:a0", "b8:ce:f6:a1:c2:a1"},
		// gw2's LAN interface has no MAC in the manifest: its address names it.
		testbed.GW2:   {"sm220u-15.wisc.cloudlab.us:22", "alice", "10.10.3.1", "b8:ce:f6:a1:c3:50"},
		testbed.Drain: {"sm220u-16.wisc.cloudlab.us:22", "alice", "b8:ce:f6:a1:c3:f0", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("imported hosts (-want +got):\n%s", diff)
	}

	// What import-cloudlab writes reads back as the same inventory.
	hdr := Header(m, "manifest.xml", Options{})
	for _, s := range []string{"source=sm220u-11 (sm220u)", "expires 2026-11-22T09:14:02Z", "testbed check"} {
		if !strings.Contains(hdr, s) {
			t.Errorf("header lacks %q:\n%s", s, hdr)
		}
	}
	data, err := inv.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := sshtb.ParseInventory(filepath.Join(t.TempDir(), "hosts.yaml"), data)
	if err != nil {
		t.Fatalf("written inventory does not parse: %v\n%s", err, data)
	}
	for _, role := range testbed.Roles {
		a, b := inv.Hosts[role], back.Hosts[role]
		if a.Addr != b.Addr || a.User != b.User || a.Sudo != b.Sudo || a.LAN != b.LAN || a.WAN != b.WAN || a.Key != b.Key {
			t.Errorf("%s: wrote %+v, read back %+v\n%s", role, a, b, data)
		}
	}
}

func TestImportErrors(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "manifest.xml"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string { return strings.Replace(string(fixture), old, new, 1) }
	tests := []struct {
		name, xml string
		opts      Options
		want      string
	}{
		{"two users, none chosen", string(fixture), Options{}, "several users may log in (alice, bob): choose one with --user"},
		{"unknown user", string(fixture), Options{User: "carol"}, "user carol has no login"},
		{"request rspec", edit(`type="manifest"`, `type="request"`), Options{User: "alice"}, "request RSpec"},
		{"missing node", edit(`client_id="drain" exclusive`, `client_id="sink" exclusive`), Options{User: "alice"}, `no node "drain" for drain`},
		{"missing link", edit(`<interface_ref client_id="gw2:wan"`, `<interface_ref client_id="gw2:other"`), Options{User: "alice"}, "no link joins gw1 and gw2"},
		{"bad MAC", edit(`mac_address="b8cef6a1c210"`, `mac_address="b8cef6"`), Options{User: "alice"}, `MAC address "b8cef6" is not 6 octets`},
		{"not XML", "<rspec><node>", Options{}, "XML syntax"},
		{"no login", edit(`<login authentication="ssh-keys" hostname="sm220u-16.wisc.cloudlab.us" port="22" username="alice"/>
      <login authentication="ssh-keys" hostname="sm220u-16.wisc.cloudlab.us" port="22" username="bob"/>`, ""), Options{User: "alice"}, "drain (node drain): the manifest lists no SSH login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tt.xml))
			if err == nil {
				_, err = Import(m, tt.opts)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestImportRoleMap(t *testing.T) {
	m := loadFixture(t)
	for i := range m.Nodes {
		m.Nodes[i].ClientID = "node-" + m.Nodes[i].ClientID
	}
	roles := map[string]string{}
	for _, r := range testbed.Roles {
		roles[r] = "node-" + r
	}
	inv, err := Import(m, Options{User: "bob", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	if h := inv.Hosts[testbed.GW1]; h.User != "bob" || h.WAN != "b8:ce:f6:a1:c2:a1" {
		t.Errorf("gw1 = %+v", h)
	}
}
