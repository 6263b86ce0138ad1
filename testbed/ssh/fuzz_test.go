package ssh

import (
	"errors"
	"strings"
	"testing"

	"github.com/wgbench/wgbench/scenarios"
)

// FuzzInventory checks that ParseInventory never panics (nor needs its
// safety net against yaml.v3's panics), that every failure is a list of
// errors naming the file with a message, and that every inventory it
// accepts is written back by Marshal to the same hosts.
func FuzzInventory(f *testing.F) {
	f.Add([]byte(goodInventory))
	f.Add([]byte("defaults: {user: bob, sudo: true, key: id, known_hosts: kh, workdir: /w}\nhosts:\n" +
		"  source: {ssh: a, lan: eth1}\n  gw1: {ssh: 'b:2222', lan: 'aa:bb:cc:dd:ee:ff', wan: 10.0.0.1, cores: [0, 2]}\n" +
		"  gw2: {ssh: '[::1]:22', lan: eth1, wan: eth2, cores: 0-3,8}\n  drain: {ssh: d, lan: eth1, agent: true}\n"))
	f.Add([]byte("hosts:\n  source: &s {ssh: a, lan: eth1}\n  gw1: {<<: *s, wan: eth2}\n  gw2: *s\n  drain: {ssh: d, lan: eth1}\n"))
	f.Add([]byte("hosts: &h {source: *h, gw1: [*h], gw2: {ssh: *h}}\n"))
	f.Add([]byte("defaults: {ssh: x, workdir: tmp}\nhosts:\n  gw1: {ssh: 'root@b:99999', lan: 'a/b', wan: 'a/b', lan: x, sudo: yes}\n---\n"))
	f.Add([]byte("hosts: {source: {ssh: ~, lan: !!binary aGk=, cores: [1, 1-0, x]}, gw1: {ssh: \"\\t\", lan: \"\\0\"}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("/lab/f.yaml", data)
		if err != nil {
			var es *scenarios.Errors
			if !errors.As(err, &es) || len(es.List) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *scenarios.Errors", err, err)
			}
			for _, e := range es.List {
				if e.File != "/lab/f.yaml" || e.Msg == "" || e.Line < 0 || e.Col < 0 {
					t.Fatalf("error without file, message or sane position: %#v", e)
				}
				if strings.HasPrefix(e.Msg, "cannot parse YAML: ") {
					t.Fatalf("the decoder panicked: %v", e)
				}
			}
			return
		}
		out, err := inv.Marshal("fuzz")
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := ParseInventory("/lab/f.yaml", out)
		if err != nil {
			t.Fatalf("written back inventory does not parse: %v\n%s", err, out)
		}
		for role, h := range inv.Hosts {
			b := back.Hosts[role]
			if b == nil {
				t.Fatalf("%s lost in the round trip:\n%s", role, out)
			}
			hc, bc := *h, *b
			hc.Line, bc.Line = 0, 0
			if hc.String() != bc.String() {
				t.Fatalf("%s: parsed %s, written back %s\n%s", role, &hc, &bc, out)
			}
		}
	})
}
