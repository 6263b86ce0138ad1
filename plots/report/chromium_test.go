package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is where CI installs Chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// chromiumFlags make headless Chromium run as root in a container, offline
// and quiet; --log-level=0 makes it print console messages on stderr as
// "INFO:CONSOLE" lines.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--enable-logging=stderr", "--v=0", "--log-level=0",
}

// chromium runs headless Chromium with args on a fresh profile and
// returns its stdout and stderr. Chromium and its helpers run in their own
// process group, which is killed when the call ends.
func chromium(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string) {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	all := append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile)
	cmd := exec.CommandContext(ctx, chromiumPath, append(all, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind
	}
	if ctx.Err() != nil {
		t.Fatalf("chromium %s: no answer within %v; stderr:\n%s", strings.Join(args, " "), timeout, tail(errb.String(), 2000))
	}
	if err != nil {
		t.Fatalf("chromium %s: %v; stderr:\n%s", strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String(), errb.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// probeMessage is what the test hook writes to the console, to prove that
// console messages reach stderr at all.
const probeMessage = "wgbench-console-probe"

// testHook is injected into a copy of the report (never into the report
// itself): once the page and its images have loaded it writes, into the
// DOM, how many images there are and the natural size of each, and logs
// probeMessage.
const testHook = `<script>
window.addEventListener('load', function () {
  var imgs = document.images, sizes = [];
  for (var i = 0; i < imgs.length; i++) {
    sizes.push((imgs[i].complete ? imgs[i].naturalWidth : -1) + 'x' + (imgs[i].complete ? imgs[i].naturalHeight : -1));
  }
  var out = document.createElement('pre');
  out.id = 'wgb-check';
  var v = document.getElementById('verdict');
  out.textContent = 'images=' + imgs.length + ' sizes=' + sizes.join(',') + ' verdict=' + (v ? Math.round(v.getBoundingClientRect().top) : -1) + ' title=' + document.title;
  document.body.appendChild(out);
  console.info('` + probeMessage + `');
});
</script>
`

// consoleLine matches Chromium's log lines of console messages and
// uncaught errors.
var consoleLine = regexp.MustCompile(`(?m)^.*(?:CONSOLE|Uncaught|Content Security Policy).*$`)

// TestReportInChromium loads the fixture's report in headless Chromium:
// the page loads, every image decodes with a non-zero size, nothing is
// logged on the console (no script error, no blocked network load), and a
// screenshot of it renders.
func TestReportInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is missing: install it (apt-get install chromium) to test the report in a browser", chromiumPath)
	}
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	run := loadFixture(t)
	dir := outDir(t)
	figs := fixtureFigures(t, dir, run)
	path, err := Write(dir, run, figs, Extra{
		Findings:    []string{"gw2: core 5 is a black hole"},
		Suggestions: []string{"enable threaded NAPI"},
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantImages := strings.Count(string(page), "<img ")
	if wantImages == 0 {
		t.Fatal("the report has no image to check")
	}

	t.Run("images load, console is quiet", func(t *testing.T) {
		// The copy allows inline script for the hook; the report's own
		// policy (no script, images from data: only) stays otherwise.
		const csp = `default-src 'none';`
		if !bytes.Contains(page, []byte(csp)) {
			t.Fatalf("the report has no %q content security policy", csp)
		}
		check := bytes.Replace(page, []byte(csp), []byte(csp+" script-src 'unsafe-inline';"), 1)
		check = bytes.Replace(check, []byte("</body>"), []byte(testHook+"</body>"), 1)
		checkPath := filepath.Join(dir, "report-check.html")
		if err := os.WriteFile(checkPath, check, 0o644); err != nil {
			t.Fatal(err)
		}
		dom, logs := chromium(t, 30*time.Second, "--dump-dom", "file://"+checkPath)

		m := regexp.MustCompile(`<pre id="wgb-check">images=(\d+) sizes=([^ ]*) verdict=(-?\d+) title=([^<]*)</pre>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the page did not load or the hook did not run; DOM tail:\n%s", tail(dom, 1500))
		}
		if n, _ := strconv.Atoi(m[1]); n != wantImages {
			t.Errorf("browser sees %d images, the report has %d", n, wantImages)
		}
		for i, sz := range strings.Split(m[2], ",") {
			w, h, _ := strings.Cut(sz, "x")
			wi, _ := strconv.Atoi(w)
			hi, _ := strconv.Atoi(h)
			if wi <= 0 || hi <= 0 {
				t.Errorf("image %d has natural size %s: it did not decode", i, sz)
			}
		}
		// The verdict opens the page: right under the title.
		if top, _ := strconv.Atoi(m[3]); top < 0 || top > 150 {
			t.Errorf("the verdict is at %s px from the top, want it right under the title (0..150 px)", m[3])
		}
		if !strings.HasPrefix(m[4], "wgbench report: multi-tunnel") {
			t.Errorf("page title %q", m[4])
		}
		if !strings.Contains(dom, "core 5 is a black hole") {
			t.Error("the findings are not in the DOM")
		}

		sawProbe := false
		for _, line := range consoleLine.FindAllString(logs, -1) {
			if strings.Contains(line, probeMessage) {
				sawProbe = true
				continue
			}
			t.Errorf("console: %s", line)
		}
		if !sawProbe {
			t.Errorf("the hook's console message is not on stderr, so console errors would go unseen; stderr:\n%s", tail(logs, 2000))
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(dir, "report-screenshot.png")
		chromium(t, 30*time.Second, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", "file://"+path)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
			t.Errorf("screenshot is %v, want 1280×2000", b)
		}
		if n := distinctColors(img, 64); n < 8 {
			t.Errorf("screenshot has %d colours: the page looks blank", n)
		}
	})
}

// distinctColors counts the colours of img up to limit, sampling a grid.
func distinctColors(img image.Image, limit int) int {
	seen := map[string]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[fmt.Sprint(r>>8, g>>8, bl>>8)] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
