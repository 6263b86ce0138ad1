package cpuset

import (
	"fmt"
	"strconv"
	"strings"
)

// Symbolic set names an expression may use. Each host resolves them from
// its own facts (see Lookup).
const (
	// NameAll is every online CPU.
	NameAll = "all"
	// NameNICNode is the CPUs of the NUMA node of the NIC that carries
	// the tunnels (the WAN NIC).
	NameNICNode = "nic-node"
	// NameOtherNode is the online CPUs on no node of the NIC: the other
	// node(s).
	NameOtherNode = "other-node"
	// NameRXCores is the cores whose interrupts receive the tunnels'
	// queues of the WAN NIC.
	NameRXCores = "rx-cores"
)

// Names lists the symbolic set names, besides node<N>.
var Names = []string{NameAll, NameNICNode, NameOtherNode, NameRXCores}

// Expr is a CPU set as written, either a plain list ("0-3,8") or an
// expression of symbolic sets that each host resolves from its own facts:
//
//	expr    = operand { op operand }      evaluated left to right
//	op      = "+" (union) | "-" (difference) | "&" (intersection)
//	operand = name | list | "(" expr ")" , optionally followed by "[k]"
//	name    = all | nic-node | other-node | rx-cores | node<N>
//	list    = a kernel CPU list without spaces, such as 0-3,8
//
// "[k]" keeps the k-th CPU (from 0) of its operand, in order. The binary
// "-" must have white space on both sides ("nic-node - rx-cores"), since
// "-" also joins ranges and names. Order is kept: a union appends the
// CPUs of its right side that are new, a difference or intersection
// keeps the order of its left side; names resolve in ascending order.
type Expr string

// IsSymbolic reports whether s is not a plain CPU list: whether it needs
// a host to resolve it.
func IsSymbolic(s string) bool {
	_, err := Parse(s)
	return err != nil
}

// Lookup resolves one symbolic name (NameAll, NameNICNode, …, "node1")
// to its CPUs on a host.
type Lookup func(name string) (Set, error)

// SyntaxError is a malformed expression; Offset is the byte offset in
// the expression where the problem is.
type SyntaxError struct {
	Expr   string
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%q is not a CPU set: %s at column %d; write a list such as 0-3,8 or an expression such as \"nic-node - rx-cores\" (names: %s, node<N>; operators +, -, &, ( ), [k])",
		e.Expr, e.Msg, e.Offset+1, strings.Join(Names, ", "))
}

// Check checks the syntax of s, a plain list or an expression, without
// resolving it.
func Check(s string) error {
	_, err := parseExpr(s)
	return err
}

// Names returns the symbolic names s uses, in order of first use.
func (e Expr) Names() ([]string, error) {
	n, err := parseExpr(string(e))
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(*node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		if n.name != "" && !containsStr(out, n.name) {
			out = append(out, n.name)
		}
		walk(n.left)
		walk(n.right)
	}
	walk(n)
	return out, nil
}

// Resolve evaluates e, looking names up with look (nil is fine for a plain
// list). An expression that resolves to no CPU is an error: a knob given
// an empty set would silently do nothing.
func (e Expr) Resolve(look Lookup) (Set, error) {
	if l, err := Parse(string(e)); err == nil {
		return l, nil
	}
	n, err := parseExpr(string(e))
	if err != nil {
		return nil, err
	}
	s, err := n.eval(look)
	if err != nil {
		return nil, fmt.Errorf("CPU set %q: %w", string(e), err)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("CPU set %q resolves to no CPU here", string(e))
	}
	return s, nil
}

// node is one node of a parsed expression.
type node struct {
	name        string // a symbolic name
	list        Set    // a plain list (when name is "" and op is 0)
	op          byte   // '+', '-', '&' for a binary node
	left, right *node
	index       int // with hasIndex, keep the index-th CPU
	hasIndex    bool
}

func (n *node) eval(look Lookup) (Set, error) {
	var s Set
	switch {
	case n.op != 0:
		l, err := n.left.eval(look)
		if err != nil {
			return nil, err
		}
		r, err := n.right.eval(look)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case '+':
			s = append(slicesClone(l), r.Minus(l)...)
		case '-':
			s = l.Minus(r)
		case '&':
			s = l.Intersect(r)
		}
	case n.name != "":
		if look == nil {
			return nil, fmt.Errorf("%s: no host facts to resolve it", n.name)
		}
		v, err := look(n.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
		s = v.Sorted()
	default:
		s = n.list
	}
	if n.hasIndex {
		if n.index >= len(s) {
			return nil, fmt.Errorf("[%d] of a set of %d CPUs (%s)", n.index, len(s), s.String())
		}
		s = Set{s[n.index]}
	}
	return s, nil
}

func slicesClone(s Set) Set { return append(Set(nil), s...) }

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// token is one lexical token of an expression.
type token struct {
	kind byte // 'n' name, 'l' list, 'i' index "[k]", or the operator/paren itself
	text string
	pos  int
}

// lex splits s into tokens.
func lex(s string) ([]token, error) {
	var out []token
	bad := func(pos int, format string, args ...any) error {
		return &SyntaxError{Expr: s, Offset: pos, Msg: fmt.Sprintf(format, args...)}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '+' || c == '&' || c == '(' || c == ')':
			out = append(out, token{c, string(c), i})
			i++
		case c == '-':
			// A binary minus stands alone: space (or a parenthesis) on
			// both sides.
			prevOK := i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == ')'
			nextOK := i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t' || s[i+1] == '(')
			if !prevOK || !nextOK {
				return nil, bad(i, "a difference \"-\" needs white space on both sides")
			}
			out = append(out, token{'-', "-", i})
			i++
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, bad(i, "\"[\" without \"]\"")
			}
			k, err := strconv.Atoi(strings.TrimSpace(s[i+1 : i+j]))
			if err != nil || k < 0 || k > MaxCPU {
				return nil, bad(i+1, "%q is not an index (0, 1, …)", s[i+1:i+j])
			}
			out = append(out, token{'i', strconv.Itoa(k), i})
			i += j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ',' || s[j] == '-' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			if _, err := Parse(s[i:j]); err != nil {
				return nil, bad(i, "%s", err.Error())
			}
			out = append(out, token{'l', s[i:j], i})
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] == '-' && j+1 < len(s) && s[j+1] >= 'a' && s[j+1] <= 'z') {
				j++
			}
			name := s[i:j]
			if !validName(name) {
				return nil, bad(i, "unknown set %q", name)
			}
			out = append(out, token{'n', name, i})
			i = j
		default:
			return nil, bad(i, "unexpected %q", string(c))
		}
	}
	return out, nil
}

// validName reports whether name is a symbolic set name.
func validName(name string) bool {
	if containsStr(Names, name) {
		return true
	}
	n, ok := strings.CutPrefix(name, "node")
	if !ok || n == "" {
		return false
	}
	v, err := strconv.Atoi(n)
	return err == nil && v >= 0 && v < 1024 && strconv.Itoa(v) == n
}

// parseExpr parses s into an expression tree.
func parseExpr(s string) (*node, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &SyntaxError{Expr: s, Msg: "empty"}
	}
	if l, err := Parse(s); err == nil {
		return &node{list: l}, nil
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{s: s, toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.fail("unexpected %q", p.toks[p.i].text)
	}
	return n, nil
}

type parser struct {
	s    string
	toks []token
	i    int
}

func (p *parser) fail(format string, args ...any) error {
	pos := len(p.s)
	if p.i < len(p.toks) {
		pos = p.toks[p.i].pos
	}
	return &SyntaxError{Expr: p.s, Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expr() (*node, error) {
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	for p.i < len(p.toks) {
		op := p.toks[p.i].kind
		if op != '+' && op != '-' && op != '&' {
			break
		}
		p.i++
		right, err := p.operand()
		if err != nil {
			return nil, err
		}
		left = &node{op: op, left: left, right: right}
	}
	return left, nil
}

func (p *parser) operand() (*node, error) {
	if p.i >= len(p.toks) {
		return nil, p.fail("a set is missing at the end")
	}
	t := p.toks[p.i]
	var n *node
	switch t.kind {
	case 'n':
		n = &node{name: t.text}
		p.i++
	case 'l':
		l, _ := Parse(t.text)
		n = &node{list: l}
		p.i++
	case '(':
		p.i++
		inner, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ')' {
			return nil, p.fail("\"(\" without \")\"")
		}
		p.i++
		n = &node{op: '+', left: inner, right: &node{}}
	default:
		return nil, p.fail("expected a set, got %q", t.text)
	}
	if p.i < len(p.toks) && p.toks[p.i].kind == 'i' {
		k, _ := strconv.Atoi(p.toks[p.i].text)
		n.index, n.hasIndex = k, true
		p.i++
	}
	return n, nil
}
