package scenarios

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// catalogue returns the scenario files shipped in this folder.
func catalogue(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("catalogue has %d files, want at least 5: %v", len(files), files)
	}
	return files
}

// TestCatalogueRoundTrip loads every catalogue file and checks that what
// YAML writes parses back to the same scenario.
func TestCatalogueRoundTrip(t *testing.T) {
	files := append(catalogue(t), filepath.Join("testdata", "minimal.yaml"), filepath.Join("testdata", "anchors.yaml"))
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			s, err := Load(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.YAML()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(f+" (written back)", out, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if diff := cmp.Diff(s, back); diff != "" {
				t.Errorf("round trip (-loaded +written back):\n%s\n%s", diff, out)
			}
		})
	}
}

// setRe finds the --set overrides in a header comment.
var setRe = regexp.MustCompile(`--set (\S+)`)

// header returns the leading comment block of a file.
func header(t *testing.T, f string) string {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// TestCatalogueHeaders checks that every file says which figure it
// reproduces and that its CloudLab-scale command line is valid.
func TestCatalogueHeaders(t *testing.T) {
	for _, f := range catalogue(t) {
		t.Run(f, func(t *testing.T) {
			h := header(t, f)
			if !strings.Contains(h, "Fig.") {
				t.Errorf("header names no figure of the papers:\n%s", h)
			}
			var sets []string
			for _, m := range setRe.FindAllStringSubmatch(h, -1) {
				sets = append(sets, m[1])
			}
			if len(sets) == 0 {
				t.Fatalf("header shows no --set overrides for CloudLab scale:\n%s", h)
			}
			s, err := Load(f, sets)
			if err != nil {
				t.Fatalf("the header's overrides %v do not load: %v", sets, err)
			}
			if s.Testbed.Driver != "ssh" || s.Traffic.Duration < Duration(30*time.Second) {
				t.Errorf("the header's overrides %v do not reach CloudLab scale: driver %s, duration %s",
					sets, s.Testbed.Driver, s.Traffic.Duration)
			}
		})
	}
}

// TestCatalogueFitsSmallMachine checks the local defaults stay small enough
// for a 2-core machine: short measurements and, for the README's main
// scenario, at most three minutes of iperf3 time (warm-ups included) even
// if every series runs.
func TestCatalogueFitsSmallMachine(t *testing.T) {
	for _, f := range catalogue(t) {
		s, err := Load(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Testbed.Driver != "local" || s.Traffic.Duration > Duration(5*time.Second) || s.Repetitions > 2 {
			t.Errorf("%s: driver %s, duration %s, %d repetitions; want local, at most 5s and 2",
				f, s.Testbed.Driver, s.Traffic.Duration, s.Repetitions)
		}
		total := time.Duration(len(s.Expand())*s.Repetitions) * (s.Traffic.Omit + s.Traffic.Duration).Std()
		if f == "multi-tunnel.yaml" && total > 3*time.Minute {
			t.Errorf("%s measures for %s in all; want at most 3m", f, total)
		}
	}
}
