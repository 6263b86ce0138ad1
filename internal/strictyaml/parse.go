package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Doc names a kind of file in the messages of Parse.
type Doc struct {
	// File is the file name errors carry.
	File string
	// Noun names the kind of file in an article: "a scenario file".
	Noun string
	// Empty says what the file should hold, after "the file is empty; ".
	Empty string
}

// Parse parses data as exactly one YAML document and returns its root
// node as written (aliases not followed, kind not checked). When data is
// not one document, it returns the positioned error that says why: the
// file is empty, a second document starts, or the YAML does not parse.
func (d Doc) Parse(data []byte) (root *yaml.Node, perr *Error) {
	defer func() {
		// yaml.v3 is not meant to panic, but user input must never crash us.
		if r := recover(); r != nil {
			root, perr = nil, &Error{File: d.File, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: d.File, Msg: "the file is empty; " + d.Empty}
		}
		return nil, d.syntaxError(err, data)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: d.File, Line: next.Line, Col: next.Column, Msg: "a second YAML document starts here; " + d.Noun + " holds one document"}
	case !errors.Is(err, io.EOF):
		return nil, d.syntaxError(err, data)
	}
	if len(doc.Content) != 1 {
		return nil, &Error{File: d.File, Msg: "the file holds no YAML document"}
	}
	return doc.Content[0], nil
}

// yamlLineRe splits "yaml: line 3: msg".
var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (not its scanner).
// yaml.v3 reports their line 0-based, one less than the line it means.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// syntaxError turns a yaml.v3 parse error in data into "YAML syntax: msg"
// at the line it concerns.
func (d Doc) syntaxError(err error, data []byte) *Error {
	msg := err.Error()
	e := &Error{File: d.File, Msg: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		for _, p := range parserProblems {
			if m[2] == p {
				e.Line++
			}
		}
		// At the end of the input yaml.v3 may name the line after the last.
		lines := bytes.Count(data, []byte("\n"))
		if !bytes.HasSuffix(data, []byte("\n")) {
			lines++
		}
		e.Line = min(e.Line, max(lines, 1))
	}
	e.Msg = "YAML syntax: " + e.Msg
	return e
}
