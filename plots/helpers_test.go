package plots

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/wgbench/wgbench/results"
)

// loadRun opens a run folder under testdata.
func loadRun(t *testing.T, name string) *results.Run {
	t.Helper()
	_, r, err := results.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("open fixture %s: %v", name, err)
	}
	return r
}

// outDir returns a folder for a test's output: a temporary one, or, when
// WGB_PLOTS_KEEP names a folder, a sub-folder of it that is kept (to look
// at the figures).
func outDir(t *testing.T) string {
	t.Helper()
	keep := os.Getenv("WGB_PLOTS_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	d := filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// svgOf renders p as SVG, checks that it is well-formed XML, and returns
// the text of its <text> elements, one per line.
func svgOf(t *testing.T, p *plot.Plot) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, p, "svg", defaultWidth, defaultHeight, defaultDPI); err != nil {
		t.Fatalf("render svg: %v", err)
	}
	return svgTexts(t, buf.Bytes())
}

// svgTexts parses an SVG document and returns its text content.
func svgTexts(t *testing.T, data []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var out strings.Builder
	inText, sawSVG := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			if v.Name.Local == "svg" {
				sawSVG = true
			}
			inText = v.Name.Local == "text"
		case xml.EndElement:
			if inText {
				out.WriteByte('\n')
			}
			inText = false
		case xml.CharData:
			if inText {
				out.Write(v)
			}
		}
	}
	if !sawSVG {
		t.Fatal("document has no <svg> element")
	}
	return out.String()
}

// pngSize renders p as PNG and returns its decoded size.
func pngSize(t *testing.T, p *plot.Plot) (int, int) {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, p, "png", defaultWidth, defaultHeight, defaultDPI); err != nil {
		t.Fatalf("render png: %v", err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	b := img.Bounds()
	return b.Dx(), b.Dy()
}

// mustContain fails unless s holds every want.
func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q; it has:\n%s", what, w, s)
		}
	}
}

// mustNotContain fails when s holds any of bad.
func mustNotContain(t *testing.T, what, s string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(s, b) {
			t.Errorf("%s has %q, which it should not; it has:\n%s", what, b, s)
		}
	}
}
