package cpuset

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// twoNodes is a 4-CPU host with node0 = 0-1, node1 = 2-3, the NIC on
// node 1 and the tunnels received on CPU 3, like the QEMU gateway.
func twoNodes(name string) (Set, error) {
	switch name {
	case NameAll:
		return Set{0, 1, 2, 3}, nil
	case NameNICNode, "node1":
		return Set{3, 2}, nil // unsorted on purpose: names resolve ascending
	case NameOtherNode, "node0":
		return Set{0, 1}, nil
	case NameRXCores:
		return Set{3}, nil
	}
	return nil, fmt.Errorf("no node %s", name)
}

func TestExprResolve(t *testing.T) {
	for _, c := range []struct {
		expr, want string
	}{
		{"0-3,8", "0-3,8"},
		{"3, 1", "3,1"},
		{"all", "0-3"},
		{"nic-node", "2-3"},
		{"other-node", "0-1"},
		{"nic-node - rx-cores", "2"},
		{"all - rx-cores", "0-2"},
		{"other-node + nic-node", "0-3"},
		{"nic-node + other-node", "2-3,0-1"},
		{"all & nic-node", "2-3"},
		{"nic-node[1]", "3"},
		{"(nic-node - rx-cores)[0]", "2"},
		{"all - (nic-node - rx-cores)[0]", "0-1,3"},
		{"all - 0", "1-3"},
		{"node0 + 3", "0-1,3"},
		{"all - (rx-cores + 0)", "1-2"},
	} {
		t.Run(c.expr, func(t *testing.T) {
			if err := Check(c.expr); err != nil {
				t.Fatalf("Check: %v", err)
			}
			got, err := Expr(c.expr).Resolve(twoNodes)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.String() != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestExprSyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		expr   string
		column int
		msg    string
	}{
		{"nic-node-rx-cores", 1, `unknown set "nic-node-rx-cores"`},
		{"nic-node -rx-cores", 10, "white space on both sides"},
		{"nic-nod", 1, `unknown set "nic-nod"`},
		{"all -", 5, "white space on both sides"},
		{"all - ", 7, "a set is missing at the end"},
		{"(all - 0", 9, `"(" without ")"`},
		{"all[x]", 5, "is not an index"},
		{"all rx-cores", 5, `unexpected "rx-cores"`},
		{"all - 3-1", 7, "runs backwards"},
		{"node01", 1, "unknown set"},
		{"", 1, "empty"},
		{"all * 2", 5, `unexpected "*"`},
	} {
		t.Run(c.expr, func(t *testing.T) {
			err := Check(c.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Check(%q) = %v, want a SyntaxError", c.expr, err)
			}
			if se.Offset+1 != c.column || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Check(%q) = %v (column %d), want %q at column %d", c.expr, err, se.Offset+1, c.msg, c.column)
			}
		})
	}
}

func TestExprResolveErrors(t *testing.T) {
	for _, c := range []struct{ expr, msg string }{
		{"rx-cores - all", "resolves to no CPU"},
		{"rx-cores[1]", "[1] of a set of 1 CPUs"},
		{"node7", "no node node7"},
	} {
		if _, err := Expr(c.expr).Resolve(twoNodes); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Resolve(%q) = %v, want %q", c.expr, err, c.msg)
		}
	}
	if _, err := Expr("all").Resolve(nil); err == nil || !strings.Contains(err.Error(), "no host facts") {
		t.Errorf("Resolve without facts = %v", err)
	}
	if got, err := Expr("0-1").Resolve(nil); err != nil || got.String() != "0-1" {
		t.Errorf("a plain list needs no facts: %v, %v", got, err)
	}
}

func TestExprNames(t *testing.T) {
	got, err := Expr("all - (rx-cores + nic-node) - rx-cores").Names()
	if err != nil || strings.Join(got, " ") != "all rx-cores nic-node" {
		t.Errorf("Names = %v, %v", got, err)
	}
	if IsSymbolic("0-3") || !IsSymbolic("all") {
		t.Error("IsSymbolic")
	}
}
