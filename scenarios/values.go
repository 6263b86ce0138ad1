package scenarios

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/internal/cpuset"
	"github.com/wgbench/wgbench/internal/strictyaml"
)

// valueError is a problem found inside a value at a node other than the one
// the value starts at (an element of a list). Suffix extends the key path.
type valueError struct {
	node   *yaml.Node
	suffix string
	msg    string
}

func (e *valueError) Error() string { return e.suffix + ": " + e.msg }

// plainNumber matches a number written without a unit.
var plainNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// ParseDuration parses a Go duration such as "5s", "250ms", "1m30s".
// Negative durations are rejected.
func ParseDuration(s string) (Duration, error) {
	if plainNumber.MatchString(s) {
		return 0, fmt.Errorf("%s is not a duration (no unit); write e.g. %ss, 500ms, 1m", s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write e.g. 10s, 500ms, 1m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative; a duration is 0 or more", s)
	}
	return Duration(d), nil
}

// String formats d the way ParseDuration reads it, dropping zero trailing
// units: "5s", "250ms", "1m", "1h30m".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML reads a duration scalar such as "5s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if !isScalar(n) {
		return fmt.Errorf("expected a duration such as 10s, 500ms or 1m, got %s", strictyaml.Describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes d as a string such as "5s".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes d as a string such as "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: expected a string such as \"5s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// bitrateRe matches a decimal number, an optional SI multiplier and an
// optional "bps" suffix: "10000", "1G", "2.5M", "100kbps".
var bitrateRe = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kKmMgGtT]?)(bps)?$`)

// bitrateUnits are the decimal multipliers iperf3 accepts, largest first.
var bitrateUnits = []struct {
	suffix string
	mult   uint64
}{{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}}

// ParseBitrate parses a rate in bits per second: a decimal number with an
// optional multiplier k, M, G or T (powers of 1000, either case, as iperf3
// reads them) and an optional "bps" suffix: "10000", "100k", "1.5G",
// "500Mbps".
func ParseBitrate(s string) (Bitrate, error) {
	m := bitrateRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a bitrate; write bits per second, e.g. 1G, 500M, 100k or 10000", s)
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("%q is not a bitrate; write bits per second, e.g. 1G, 500M, 100k or 10000", s)
	}
	if m[2] != "" {
		for _, u := range bitrateUnits {
			if strings.EqualFold(m[2], u.suffix) {
				r.Mul(r, new(big.Rat).SetInt(new(big.Int).SetUint64(u.mult)))
			}
		}
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bits per second", s)
	}
	if !r.Num().IsUint64() {
		return 0, fmt.Errorf("%q is too large a bitrate", s)
	}
	return Bitrate(r.Num().Uint64()), nil
}

// String formats b with the largest multiplier that divides it exactly:
// "1G", "1500M", "100k", "999".
func (b Bitrate) String() string {
	for _, u := range bitrateUnits {
		if b != 0 && uint64(b)%u.mult == 0 {
			return strconv.FormatUint(uint64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(uint64(b), 10)
}

// UnmarshalYAML reads a bitrate scalar such as 1G or 10000.
func (b *Bitrate) UnmarshalYAML(n *yaml.Node) error {
	if !isScalar(n) {
		return fmt.Errorf("expected a bitrate such as 1G, 500M or 10000, got %s", strictyaml.Describe(n))
	}
	v, err := ParseBitrate(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes b as String does ("1G"), which reads back the same.
func (b Bitrate) MarshalYAML() (any, error) { return b.String(), nil }

// String returns l's text: a plain list in list form ("0-3,8"), an
// expression as written.
func (l CPUList) String() string { return string(l) }

// ParseCPUList reads a CPU set as a scenario or a flag writes it: a plain
// list ("0-3,8", kept in list form) or a symbolic expression, whose
// syntax is checked (see cpuset.Expr). Blank text is the empty list.
func ParseCPUList(s string) (CPUList, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	if l, err := cpuset.Parse(s); err == nil {
		return CPUList(l.String()), nil
	}
	if err := cpuset.Check(s); err != nil {
		// Text without a name or an operator is meant as a list: say
		// what is wrong with it as a list.
		if t := strings.ToLower(s); !strings.ContainsAny(t, "abcdefghijklmnopqrstuvwxyz+&()[") {
			_, lerr := cpuset.Parse(s)
			return "", lerr
		}
		return "", err
	}
	return CPUList(strings.TrimSpace(s)), nil
}

// UnmarshalYAML reads a sequence of CPU numbers, a single number, a
// kernel-style string such as "0-3,8" or a symbolic expression such as
// "nic-node - rx-cores".
func (l *CPUList) UnmarshalYAML(n *yaml.Node) error {
	n = strictyaml.Resolve(n)
	switch {
	case n.Kind == yaml.SequenceNode:
		var out cpuset.Set
		seen := map[int]bool{}
		for i, e := range n.Content {
			e = strictyaml.Resolve(e)
			suffix := fmt.Sprintf("[%d]", i)
			var c int
			if e.Kind != yaml.ScalarNode || e.ShortTag() != "!!int" || e.Decode(&c) != nil {
				return &valueError{e, suffix, fmt.Sprintf("expected a CPU number, got %s", strictyaml.Describe(e))}
			}
			if c < 0 || c > cpuset.MaxCPU {
				return &valueError{e, suffix, fmt.Sprintf("CPU %d is out of range; allowed 0..%d", c, cpuset.MaxCPU)}
			}
			if seen[c] {
				return &valueError{e, suffix, fmt.Sprintf("CPU %d is listed twice", c)}
			}
			seen[c] = true
			out = append(out, c)
		}
		*l = CPUList(out.String())
		return nil
	case isScalar(n):
		v, err := ParseCPUList(n.Value)
		if err != nil {
			return err
		}
		*l = v
		return nil
	}
	return fmt.Errorf("expected a CPU list such as [0, 1, 2], \"0-3,8\" or \"nic-node - rx-cores\", got %s", strictyaml.Describe(n))
}

// MarshalYAML writes a plain list as a flow sequence, [0, 1, 2], and an
// expression as a string.
func (l CPUList) MarshalYAML() (any, error) {
	s, ok := l.Literal()
	if !ok {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(l), Style: yaml.DoubleQuotedStyle}, nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Tag: "!!seq"}
	for _, c := range s {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(c)})
	}
	return n, nil
}

// MarshalJSON writes a plain list as an array of CPU numbers, as run
// records always have, and an expression as its text.
func (l CPUList) MarshalJSON() ([]byte, error) {
	if s, ok := l.Literal(); ok {
		return json.Marshal([]int(s))
	}
	return json.Marshal(string(l))
}

// UnmarshalJSON reads a string (a list or an expression) or, as older
// run records wrote it, an array of CPU numbers.
func (l *CPUList) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		v, err := ParseCPUList(str)
		if err != nil {
			return err
		}
		*l = v
		return nil
	}
	var a []int
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("CPU list: want an array of CPU numbers or a string such as \"0-3,8\" or \"nic-node - rx-cores\", got %s", b)
	}
	s, err := cpuset.Parse(cpuset.Set(a).String())
	if err != nil {
		return fmt.Errorf("CPU list %v: %w", a, err)
	}
	*l = CPUList(s.String())
	return nil
}

// isScalar reports whether n is a scalar other than null.
func isScalar(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null"
}
