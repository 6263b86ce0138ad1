package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// maxErrors caps how many errors one Parse reports; the rest are counted.
const maxErrors = 20

// Error is one problem found in a scenario, with where it was found.
type Error struct {
	// File is the scenario file name, or "--set key=value" for an error in
	// an override.
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

// Errors is every problem found in one scenario, in file order. Parse and
// Load return it as their error when the scenario is not valid.
type Errors struct {
	// List holds the errors, at most 20.
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

// add appends err, keeping at most maxErrors.
func (e *Errors) add(err *Error) {
	if len(e.List) >= maxErrors {
		e.Omitted++
		return
	}
	e.List = append(e.List, err)
}

// sort orders the errors: whole-file and override errors first, then by
// line and column. Errors at the same place keep the order they were found.
func (e *Errors) sort() {
	sort.SliceStable(e.List, func(i, j int) bool {
		a, b := e.List[i], e.List[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// err returns e as an error, or nil when it holds none.
func (e *Errors) err() error {
	if len(e.List) == 0 {
		return nil
	}
	e.sort()
	return e
}

// DidYouMean returns " (did you mean x?)" when got is within two edits of
// one of allowed, else "": the hint every strict decoder of wgbench's
// files adds to an unknown key or value.
func DidYouMean(got string, allowed []string) string { return suggest(got, allowed) }

// suggest returns a " (did you mean x?)" hint when one of allowed is within
// edit distance 2 of got, and "" otherwise.
func suggest(got string, allowed []string) string {
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
