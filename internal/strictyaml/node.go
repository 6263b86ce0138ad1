package strictyaml

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// Resolve follows alias nodes to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is the YAML null (an empty value, "~", "null")
// or missing (nil). It does not follow aliases.
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Describe describes the YAML value at n for an error message: numbers
// and booleans bare, strings quoted (and cut when long), collections by
// kind ("a mapping", "a list"), aliases followed.
func Describe(n *yaml.Node) string {
	n = Resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float", "!!bool":
			return n.Value
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return strconv.Quote(v)
	}
	return "nothing"
}

// JoinPath appends key to the key path path ("hosts" + "gw1" is
// "hosts.gw1").
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
