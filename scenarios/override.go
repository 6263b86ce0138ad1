package scenarios

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/internal/strictyaml"
)

// step is one element of an override key path: a mapping key, or a list
// index when key is "".
type step struct {
	key   string
	index int
}

// stepRe matches one dotted part of a key path: a key and its indices.
var (
	stepRe  = regexp.MustCompile(`^([A-Za-z0-9_]+)((?:\[[0-9]+\])*)$`)
	indexRe = regexp.MustCompile(`\[([0-9]+)\]`)
)

// parseKeyPath splits "series[1].tuning.pin" into steps.
func parseKeyPath(p string) ([]step, error) {
	var steps []step
	for _, part := range strings.Split(p, ".") {
		m := stepRe.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("%q is not a key path; write keys joined by dots with list indices in brackets, e.g. series[1].tuning.pin", p)
		}
		steps = append(steps, step{key: m[1]})
		for _, im := range indexRe.FindAllStringSubmatch(m[2], -1) {
			i, err := strconv.Atoi(im[1])
			if err != nil || i > 1000 {
				return nil, fmt.Errorf("index [%s] is too large", im[1])
			}
			steps = append(steps, step{index: i})
		}
	}
	return steps, nil
}

// applyOverride applies one "key.path=value" to the document root. The
// path is checked against the schema; missing keys and a list element one
// past the end are created. Errors are recorded against the override.
func (d *decoder) applyOverride(root *yaml.Node, raw string) {
	src := "--set " + raw
	fail := func(path, format string, args ...any) {
		d.errs.Add(&Error{File: src, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	keyPath, value, ok := strings.Cut(raw, "=")
	if !ok {
		fail("", "expected key.path=value, e.g. traffic.duration=30s")
		return
	}
	keyPath = strings.TrimSpace(keyPath)
	steps, err := parseKeyPath(keyPath)
	if err != nil {
		fail("", "%v", err)
		return
	}
	// Walk the schema first, so a bad path changes nothing.
	t, path, ok := schemaAt(steps, fail)
	if !ok {
		return
	}
	val, err := overrideValue(value, t)
	if err != nil {
		fail(path, "%v", err)
		return
	}
	d.markOrigin(val, src)
	budget := maxNodes
	if val = d.expand(val, path, map[*yaml.Node]bool{}, &budget); budget <= 0 {
		return
	}
	// Then walk the tree, creating what is missing.
	d.setAt(root, steps, val, src, fail)
}

// failFunc records an error of an override at path.
type failFunc func(path, format string, args ...any)

// schemaAt walks steps through the Scenario schema. It returns the type
// at their end and its path, or tells fail why the path is wrong and
// returns false.
func schemaAt(steps []step, fail failFunc) (reflect.Type, string, bool) {
	t := reflect.TypeFor[Scenario]()
	path := ""
	for _, s := range steps {
		if s.key != "" {
			if t.Kind() == reflect.Slice && !reflect.PointerTo(t).Implements(unmarshalerType) {
				fail(path, "%s is a list; pick an entry, e.g. %s[0].%s", path, path, s.key)
				return nil, "", false
			}
			if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
				fail(path, "%s has no keys below it", path)
				return nil, "", false
			}
			i := fieldIndex(t, s.key)
			if i < 0 {
				names := fieldNames(t)
				fail(strictyaml.JoinPath(path, s.key), "unknown key; allowed keys: %s%s", strings.Join(names, ", "), strictyaml.DidYouMean(s.key, names))
				return nil, "", false
			}
			t = t.Field(i).Type
			if t.Kind() == reflect.Pointer {
				t = t.Elem() // an optional block or value: the same keys
			}
			path = strictyaml.JoinPath(path, s.key)
			continue
		}
		if t.Kind() != reflect.Slice {
			fail(path, "%s is not a list; drop the [%d]", path, s.index)
			return nil, "", false
		}
		t = t.Elem()
		path = fmt.Sprintf("%s[%d]", path, s.index)
	}
	return t, path, true
}

// setAt puts val at steps in the tree at root, creating the mappings and
// lists that are missing (a list element one past the end included).
// What the tree has in the way is told to fail.
func (d *decoder) setAt(root *yaml.Node, steps []step, val *yaml.Node, src string, fail failFunc) {
	parent := root
	path := ""
	for i, s := range steps {
		last := i == len(steps)-1
		var next *yaml.Node
		if last {
			next = val
		} else if steps[i+1].key != "" {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		} else {
			next = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		if s.key != "" {
			path = strictyaml.JoinPath(path, s.key)
			if parent = d.mappingChild(parent, s.key, next, last, src); parent == nil {
				fail(path, "%s is not written as a mapping here; set the whole value instead", parentPath(path))
				return
			}
			continue
		}
		path = fmt.Sprintf("%s[%d]", path, s.index)
		if parent.Kind != yaml.SequenceNode {
			fail(path, "%s is not written as a list here; set the whole value instead", parentPath(path))
			return
		}
		if s.index > len(parent.Content) {
			fail(path, "index %d is past the end; %s has %d entries (use [%d] to add one)",
				s.index, parentPath(path), len(parent.Content), len(parent.Content))
			return
		}
		switch {
		case s.index == len(parent.Content):
			d.origin[next] = src
			parent.Content = append(parent.Content, next)
		case last || strictyaml.IsNull(parent.Content[s.index]):
			parent.Content[s.index] = next
		}
		parent = parent.Content[s.index]
	}
}

// mappingChild returns the value of key in mapping m, giving it value
// fresh when absent or null (or always, when replace is set). It returns
// nil when m is neither a mapping nor null. The tree has no aliases left
// (see expand), so changing a node changes one place only.
func (d *decoder) mappingChild(m *yaml.Node, key string, fresh *yaml.Node, replace bool, src string) *yaml.Node {
	if strictyaml.IsNull(m) && m.Kind != yaml.MappingNode {
		*m = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line, Column: m.Column}
	}
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			if replace || strictyaml.IsNull(m.Content[i+1]) {
				m.Content[i+1] = fresh
			}
			return m.Content[i+1]
		}
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	d.origin[k], d.origin[fresh] = src, src
	m.Content = append(m.Content, k, fresh)
	return fresh
}

// overrideValue parses the value of an override: a YAML flow value (a
// scalar or [a, b]) or, for string keys, the text as written. A CPU
// list is text ("0-3", "nic-node - rx-cores") unless it is a sequence.
func overrideValue(value string, t reflect.Type) (n *yaml.Node, err error) {
	if t.Kind() == reflect.String && !(t == reflect.TypeFor[CPUList]() && strings.HasPrefix(strings.TrimSpace(value), "[")) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot parse %q: %v", value, r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return nil, fmt.Errorf("%q is not a YAML value: %s", value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, nil
	}
	return doc.Content[0], nil
}

// markOrigin records src as the origin of every node in the tree at n.
func (d *decoder) markOrigin(n *yaml.Node, src string) {
	if n == nil || d.origin[n] != "" {
		return
	}
	d.origin[n] = src
	for _, c := range n.Content {
		d.markOrigin(c, src)
	}
}
