package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// pointPhrase is how tune's checks name a point of a run.
var pointPhrase = regexp.MustCompile(`in series (\S+) at (\d+) tunnels? × (\d+) flows?`)

var number = regexp.MustCompile(`\d+(?:\.\d+)?`)

// groupTuneLines folds one-line checks that differ only in the point they
// name (and its numbers) into one line listing the points, numbers shown
// as ranges: nine "short of CPU in series … at …" lines become one.
// Checks with continuation lines (warnings with their evidence and
// commands) are left alone.
func groupTuneLines(text []byte) []byte {
	lines := strings.Split(string(text), "\n")
	type group struct {
		first  int
		lines  []string
		points map[string][]string
		series []string
	}
	groups := map[string]*group{}
	member := make([]*group, len(lines))
	for i, l := range lines {
		if !pointPhrase.MatchString(l) || (i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ")) {
			continue
		}
		key := number.ReplaceAllString(pointPhrase.ReplaceAllString(l, "{point}"), "#")
		g := groups[key]
		if g == nil {
			g = &group{first: i, points: map[string][]string{}}
			groups[key] = g
		}
		m := pointPhrase.FindStringSubmatch(l)
		label := m[2]
		if m[3] != "1" {
			label += "×" + m[3]
		}
		if _, ok := g.points[m[1]]; !ok {
			g.series = append(g.series, m[1])
		}
		g.points[m[1]] = append(g.points[m[1]], label)
		g.lines = append(g.lines, l)
		member[i] = g
	}
	var out bytes.Buffer
	for i, l := range lines {
		g := member[i]
		switch {
		case g == nil || len(g.lines) == 1:
			out.WriteString(l)
		case g.first == i:
			out.WriteString(mergedLine(g.lines, g.series, g.points))
		default:
			continue // folded into the group's first line
		}
		if i < len(lines)-1 {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// mergedLine renders a group: the first line with its point replaced by
// the list of points and every other number by its range over the group.
func mergedLine(lines, series []string, points map[string][]string) string {
	var at []string
	n := 0
	for _, s := range series {
		at = append(at, s+"@"+strings.Join(points[s], ","))
		n += len(points[s])
	}
	rest := make([][]string, len(lines))
	for i, l := range lines {
		rest[i] = number.FindAllString(pointPhrase.ReplaceAllString(l, ""), -1)
	}
	k := 0
	first := pointPhrase.ReplaceAllString(lines[0], "\x00")
	merged := number.ReplaceAllStringFunc(first, func(v string) string {
		lo, hi := v, v
		lv, _ := strconv.ParseFloat(v, 64)
		hv := lv
		for _, r := range rest[1:] {
			if k < len(r) {
				f, _ := strconv.ParseFloat(r[k], 64)
				if f < lv {
					lv, lo = f, r[k]
				}
				if f > hv {
					hv, hi = f, r[k]
				}
			}
		}
		k++
		if lo == hi {
			return v
		}
		return lo + "–" + hi
	})
	return strings.Replace(merged, "\x00", fmt.Sprintf("at %d points (%s)", n, strings.Join(at, " ")), 1)
}
