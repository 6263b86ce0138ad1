package scenarios

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// marshalerType is yaml.Marshaler, implemented by the value types.
var marshalerType = reflect.TypeFor[yaml.Marshaler]()

// encode builds the YAML node of v, the mirror of decoder.decode: struct
// fields by their yaml tags (omitempty ones left out when empty), lists of
// scalars on one line, and text with control characters double-quoted so
// it reads back unchanged.
func encode(v reflect.Value) (*yaml.Node, error) {
	if v.Type().Implements(marshalerType) {
		out, err := v.Interface().(yaml.Marshaler).MarshalYAML()
		if err != nil {
			return nil, err
		}
		if n, ok := out.(*yaml.Node); ok {
			return n, nil
		}
		return encode(reflect.ValueOf(out))
	}
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := yamlName(f)
			if name == "" || (strings.HasSuffix(f.Tag.Get("yaml"), ",omitempty") && isEmpty(v.Field(i))) {
				continue
			}
			val, err := encode(v.Field(i))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, val)
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for i := range v.Len() {
			e, err := encode(v.Index(i))
			if err != nil {
				return nil, err
			}
			if e.Kind != yaml.ScalarNode {
				n.Style = 0
			}
			n.Content = append(n.Content, e)
		}
		return n, nil
	case reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
		}
		return encode(v.Elem())
	case reflect.String:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
		if strings.IndexFunc(n.Value, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n, nil
	case reflect.Int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}, nil
	case reflect.Float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(v.Float(), 'g', -1, 64)}, nil
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}, nil
	}
	return nil, fmt.Errorf("cannot encode %s", v.Type())
}

// isEmpty reports whether an omitempty field is left out: zero, or an
// empty list.
func isEmpty(v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		return v.Len() == 0
	}
	return v.IsZero()
}
