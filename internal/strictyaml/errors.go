package strictyaml

import (
	"fmt"
	"slices"
	"strings"
)

// MaxErrors caps how many errors an Errors lists; the rest are counted.
const MaxErrors = 20

// Error is one problem found in a file, with where it was found.
type Error struct {
	// File is the file name, or what else the value came from (a
	// scenario's "--set key=value" override).
	File string
	// Line and Col are 1-based; 0 when the error concerns the whole file
	// (Line) or when the YAML parser reported no column (Col).
	Line, Col int
	// Path is the key path of the offending value, e.g.
	// "series[1].tuning.threaded_napi"; empty for file-level errors.
	Path string
	// Msg says what was wrong and what is allowed.
	Msg string
}

// Error formats e as "file:line:col: path: msg", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order.
type Errors struct {
	// List holds the errors, at most MaxErrors.
	List []*Error
	// Omitted counts the errors found beyond List.
	Omitted int
}

// Error prints one error per line.
func (e *Errors) Error() string {
	lines := make([]string, 0, len(e.List)+1)
	for _, x := range e.List {
		lines = append(lines, x.Error())
	}
	if e.Omitted > 0 {
		lines = append(lines, fmt.Sprintf("(and %d more errors)", e.Omitted))
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors of the list, so errors.As(err, &e) with
// e *Error finds the first one.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, x := range e.List {
		out[i] = x
	}
	return out
}

// Add appends err, keeping at most MaxErrors: those found first.
func (e *Errors) Add(err *Error) {
	if len(e.List) >= MaxErrors {
		e.Omitted++
		return
	}
	e.List = append(e.List, err)
}

// Err sorts the errors by line and column (whole-file errors first; errors
// at the same place keep the order they were found in) and returns e, or
// nil when it holds none.
func (e *Errors) Err() error {
	if len(e.List) == 0 {
		return nil
	}
	slices.SortStableFunc(e.List, byPosition)
	return e
}

// Earliest returns the errors of list, sorted as Err sorts them, as an
// *Errors that keeps the first MaxErrors in file order; nil when list is
// empty.
func Earliest(list []*Error) error {
	slices.SortStableFunc(list, byPosition)
	out := &Errors{}
	for _, e := range list {
		out.Add(e)
	}
	return out.Err()
}

func byPosition(a, b *Error) int {
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return a.Col - b.Col
}

// DidYouMean returns " (did you mean x?)" when got, lower-cased, is within
// two edits of one of allowed, else "": the hint every strict decoder adds
// to an unknown key or value.
func DidYouMean(got string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(got), a); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
