package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/wgbench/wgbench/internal/strictyaml"
)

// decoder turns a yaml.Node tree into Go values, driven by the yaml struct
// tags of the target, and remembers which node each key path came from so
// later checks can point at it.
type decoder struct {
	file string
	errs Errors
	// origin marks the nodes that came from a --set override, with the
	// override as written; errors at them name the override, not the file.
	origin map[*yaml.Node]string
	// nodes maps each decoded key path ("series[1].tuning.pin") to its node.
	nodes map[string]*yaml.Node
	// bad holds the key paths that already have an error, so validation
	// does not report the zero value left behind a second time.
	bad map[string]bool
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:   file,
		origin: map[*yaml.Node]string{},
		nodes:  map[string]*yaml.Node{},
		bad:    map[string]bool{},
	}
}

// errorAt records a decoding error at node n (nil: the whole file) and
// marks path as bad.
func (d *decoder) errorAt(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.report(n, path, format, args...)
}

// report records an error at node n (nil: the whole file).
func (d *decoder) report(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if o, ok := d.origin[n]; ok {
		e.File = o
	} else if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs.Add(e)
}

// present reports whether path was written with a non-null value.
func (d *decoder) present(path string) bool {
	return !strictyaml.IsNull(d.nodes[path])
}

// hasError reports whether path or one of its parents has an error.
func (d *decoder) hasError(path string) bool {
	for ; path != ""; path = parentPath(path) {
		if d.bad[path] {
			return true
		}
	}
	return false
}

// at returns the node of path or, when path was not written, of its
// nearest written ancestor; nil means the whole file.
func (d *decoder) at(path string) *yaml.Node {
	for path != "" {
		if n, ok := d.nodes[path]; ok {
			return n
		}
		path = parentPath(path)
	}
	return nil
}

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// parseDocument parses data as exactly one YAML document whose root is a
// mapping. It returns nil after recording an error when it is not.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	doc := strictyaml.Doc{File: d.file, Noun: "a scenario file", Empty: "a scenario needs at least name and series"}
	top, perr := doc.Parse(data)
	if perr != nil {
		d.errs.Add(perr)
		return nil
	}
	budget := maxNodes
	root := d.expand(top, "", map[*yaml.Node]bool{}, &budget)
	if budget <= 0 {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorAt(root, "", "a scenario is a mapping of keys (%s), got %s",
			strings.Join(fieldNames(reflect.TypeFor[Scenario]()), ", "), strictyaml.Describe(root))
		return nil
	}
	return root
}

// unmarshalerType is yaml.Unmarshaler, implemented by the value types.
var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode stores the value at n into v, recording errors under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.nodes[path] = n
	if strictyaml.IsNull(n) {
		switch v.Kind() {
		case reflect.Struct, reflect.Slice, reflect.Pointer:
			return // an empty section is an absent one
		}
		d.errorAt(n, path, "missing value; expected %s", expected(v.Type()))
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			var ve *valueError
			if errors.As(err, &ve) {
				d.nodes[path+ve.suffix] = ve.node
				d.errorAt(ve.node, path+ve.suffix, "%s", ve.msg)
			} else {
				d.errorAt(n, path, "%s", err.Error())
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		if !isScalar(n) {
			d.errorAt(n, path, "expected %s, got %s", expected(v.Type()), strictyaml.Describe(n))
			return
		}
		if !utf8.ValidString(n.Value) {
			d.errorAt(n, path, "text is not valid UTF-8; write it in UTF-8")
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.errorAt(n, path, "expected %s, got %s", expected(v.Type()), strictyaml.Describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			d.errorAt(n, path, "expected %s, got %s", expected(v.Type()), strictyaml.Describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorAt(n, path, "expected %s, got %s", expected(v.Type()), strictyaml.Describe(n))
			return
		}
		v.SetBool(b)
	default:
		// Only reachable if the schema gains a field of a new kind.
		d.errorAt(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

// mapping decodes a mapping node into the struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.errorAt(n, path, "expected a mapping with keys %s, got %s", strings.Join(fieldNames(t), ", "), strictyaml.Describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorAt(k, path, "a key must be a plain name, got %s", strictyaml.Describe(k))
			continue
		}
		kpath := strictyaml.JoinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorAt(k, kpath, "duplicate key; first given at line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		f := fieldIndex(t, k.Value)
		if f < 0 {
			if msg := roleKeyError(k.Value); msg != "" && t == reflect.TypeFor[Tuning]() {
				d.errorAt(k, kpath, "%s", msg)
				continue
			}
			names := fieldNames(t)
			d.errorAt(k, kpath, "unknown key; allowed keys: %s%s", strings.Join(names, ", "), strictyaml.DidYouMean(k.Value, names))
			continue
		}
		d.decode(val, v.Field(f), kpath)
	}
}

// maxNodes bounds the size of a document once its aliases are expanded.
const maxNodes = 100000

// expand returns a copy of the tree at n in which every alias is replaced
// by a copy of the node it names and every "<<" merge key by the keys it
// brings in (keys written in the mapping itself win, as YAML says). After
// it, no two places of the tree share a node, so an override changes one
// place only and decoding needs no alias logic. path is the key path of n
// for errors; budget counts the nodes still allowed; visiting holds the
// nodes being expanded, to stop cycles.
func (d *decoder) expand(n *yaml.Node, path string, visiting map[*yaml.Node]bool, budget *int) *yaml.Node {
	if *budget--; *budget == 0 {
		d.errorAt(n, path, "the document is too large once its aliases are expanded (over %d nodes)", maxNodes)
	}
	if *budget <= 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || visiting[n.Alias] {
			d.errorAt(n, path, "alias *%s refers to a node that contains it", n.Value)
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		return d.expand(n.Alias, path, visiting, budget)
	}
	visiting[n] = true
	defer delete(visiting, n)
	c := *n
	c.Anchor, c.Alias, c.Content = "", nil, nil
	if o, ok := d.origin[n]; ok {
		d.origin[&c] = o
	}
	if n.Kind != yaml.MappingNode {
		for i, ch := range n.Content {
			c.Content = append(c.Content, d.expand(ch, fmt.Sprintf("%s[%d]", path, i), visiting, budget))
		}
		return &c
	}
	var merged []*yaml.Node
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(d.expand(v, path, visiting, budget), path)...)
			continue
		}
		own[k.Value] = true
		kpath := strictyaml.JoinPath(path, k.Value)
		c.Content = append(c.Content, d.expand(k, kpath, visiting, budget), d.expand(v, kpath, visiting, budget))
	}
	for i := 0; i+1 < len(merged); i += 2 {
		if k := merged[i]; !own[k.Value] {
			own[k.Value] = true
			c.Content = append(c.Content, k, merged[i+1])
		}
	}
	return &c
}

// mergeSources returns the key and value nodes a "<<" merge brings in from
// v, an expanded mapping or list of mappings, earlier sources first.
func (d *decoder) mergeSources(v *yaml.Node, path string) []*yaml.Node {
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	var out []*yaml.Node
	for _, src := range srcs {
		if src.Kind != yaml.MappingNode {
			d.errorAt(src, path, "a << merge needs a mapping or a list of mappings, got %s", strictyaml.Describe(src))
			continue
		}
		out = append(out, src.Content...)
	}
	return out
}

// sequence decodes a sequence node into the slice v. A single scalar is a
// list of one when the elements are scalars.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	items := n.Content
	if n.Kind != yaml.SequenceNode {
		if n.Kind != yaml.ScalarNode || v.Type().Elem().Kind() == reflect.Struct {
			d.errorAt(n, path, "expected %s, got %s", expected(v.Type()), strictyaml.Describe(n))
			return
		}
		items = []*yaml.Node{n}
	}
	if len(items) == 0 {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// expected names what a value of type t looks like, for error messages.
func expected(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return "a duration such as 10s, 500ms or 1m"
	case reflect.TypeFor[Bitrate]():
		return "a bitrate such as 1G, 500M or 10000"
	case reflect.TypeFor[CPUList]():
		return "a CPU list such as [0, 1, 2] or \"0-3,8\""
	}
	switch t.Kind() {
	case reflect.Struct:
		return "a mapping with keys " + strings.Join(fieldNames(t), ", ")
	case reflect.Slice:
		return "a list of " + plural(expected(t.Elem()))
	case reflect.Pointer:
		return expected(t.Elem())
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a string"
}

// plural turns "an integer" into "integers" for list descriptions.
func plural(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "an "), "a ")
	if w, rest, ok := strings.Cut(s, " "); ok {
		return w + "s " + rest
	}
	return s + "s"
}

// fieldNames lists the yaml names of struct type t, in field order.
func fieldNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// fieldIndex returns the index of the field of t whose yaml name is name,
// or -1.
func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i
		}
	}
	return -1
}

// yamlName is the yaml key of f, "" for unexported or skipped fields.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}
