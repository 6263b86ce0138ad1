package strictyaml

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	doc := Doc{File: "f.yaml", Noun: "a thing file", Empty: "a thing has keys"}
	tests := []struct {
		name string
		yaml string
		want string // the error, "" for none
		kind yaml.Kind
	}{
		{name: "mapping", yaml: "a: 1\n", kind: yaml.MappingNode},
		{name: "list root kept", yaml: "- 1\n", kind: yaml.SequenceNode},
		{name: "alias root kept as written", yaml: "&x a\n", kind: yaml.ScalarNode},
		{name: "empty", yaml: "", want: "f.yaml: the file is empty; a thing has keys"},
		{name: "only a comment", yaml: "# nothing\n", want: "f.yaml: the file is empty; a thing has keys"},
		{name: "two documents", yaml: "a: 1\n---\nb: 2\n", want: "f.yaml:2:1: a second YAML document starts here; a thing file holds one document"},
		{name: "scanner error keeps its line", yaml: "a: 1\nb: \"x\n", want: "f.yaml:2: YAML syntax: found unexpected end of stream"},
		// yaml.v3 says line 2 (0-based) for the parser's errors.
		{name: "parser error one-based", yaml: "a:\n  - 1\n b: 2\n", want: "f.yaml:3: YAML syntax: did not find expected key"},
		{name: "line clamped to the last", yaml: "a: [", want: "f.yaml:1: YAML syntax: did not find expected node content"},
		{name: "syntax error in the second document", yaml: "a: 1\n---\n[\n", want: "f.yaml:3: YAML syntax: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := doc.Parse([]byte(tt.yaml))
			if tt.want != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.want)
				}
				if root != nil {
					t.Errorf("a root came with the error")
				}
				if err.Error() != tt.want {
					t.Errorf("error %q, want %q", err.Error(), tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if root.Kind != tt.kind {
				t.Errorf("root kind %v, want %v", root.Kind, tt.kind)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	var list []*Error
	for i := MaxErrors + 3; i > 0; i-- {
		list = append(list, &Error{File: "f", Line: i, Msg: "m"})
	}
	err := Earliest(list)
	es, ok := err.(*Errors)
	if !ok || len(es.List) != MaxErrors || es.Omitted != 3 {
		t.Fatalf("Earliest = %#v, want %d errors and 3 omitted", err, MaxErrors)
	}
	if es.List[0].Line != 1 || es.List[MaxErrors-1].Line != MaxErrors {
		t.Errorf("kept lines %d..%d, want the earliest 1..%d", es.List[0].Line, es.List[MaxErrors-1].Line, MaxErrors)
	}
	if Earliest(nil) != nil {
		t.Error("Earliest(nil) is not nil")
	}
	var e Errors
	e.Add(&Error{File: "f", Line: 2, Col: 1, Path: "a.b", Msg: "second"})
	e.Add(&Error{File: "f", Msg: "whole file"})
	e.Add(&Error{File: "f", Line: 2, Msg: "no column"})
	want := "f: whole file\nf:2: no column\nf:2:1: a.b: second"
	if got := e.Err().Error(); got != want {
		t.Errorf("Err() =\n%s\nwant\n%s", got, want)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"{a: 1}", "a mapping"},
		{"[1]", "a list"},
		{"~", "nothing"},
		{"12", "12"},
		{"true", "true"},
		{"x", `"x"`},
		{"'0123456789012345678901234567890123456789x'", `"0123456789012345678901234567890123456..."`},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
			t.Fatal(err)
		}
		if got := Describe(n.Content[0]); got != tt.want {
			t.Errorf("Describe(%s) = %s, want %s", tt.yaml, got, tt.want)
		}
	}
}
