package handler

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumArgs start Debian's Chromium headless as root with the profile
// given, and none of its own network traffic: the test machine reaches
// nothing but loopback.
func chromiumArgs(profile string, args ...string) []string {
	return append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--window-size=1280,800",
	}, args...)
}

// chromium runs Chromium with a profile, home and cache of its own under
// dir, and returns what it printed on stdout.
func chromium(t *testing.T, binary, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, chromiumArgs(filepath.Join(dir, "profile"), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// successColour and failureColour are the backgrounds of /history's
// result cells (historyPage's style).
func successColour() color.RGBA { return color.RGBA{0xe6, 0xf4, 0xea, 0xff} }
func failureColour() color.RGBA { return color.RGBA{0xfc, 0xe8, 0xe6, 0xff} }

// screenshotColours counts the pixels of a 1280×800 PNG screenshot near
// each colour, and the distinct colours in it.
func screenshotColours(t *testing.T, file string, colours ...color.RGBA) (counts []int, distinct int) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot %s (%d bytes) is not a PNG: %v", file, len(raw), err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
		t.Errorf("screenshot is %v, want 1280×800", b)
	}
	counts = make([]int, len(colours))
	seen := map[color.RGBA]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			seen[c] = true
			for i, want := range colours {
				if near(c, want) {
					counts[i]++
				}
			}
		}
	}
	return counts, len(seen)
}

// near reports whether a and b differ by at most 2 in each channel.
func near(a, b color.RGBA) bool {
	within := func(x, y uint8) bool { return max(x, y)-min(x, y) <= 2 }
	return within(a.R, b.R) && within(a.G, b.G) && within(a.B, b.B)
}

// serveExporter serves the fixture's /probe and /history on 127.0.0.1:0
// and probes each module through it, as Prometheus would.
func serveExporter(t *testing.T, f historyFixture) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/probe", f.handler)
	mux.Handle("/history", f.history)
	srv := httptest.NewServer(mux) // listens on 127.0.0.1:0
	t.Cleanup(srv.Close)
	for _, module := range f.modules {
		resp, err := srv.Client().Get(srv.URL + "/probe?" + probeQuery("127.0.0.1", module, false))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("probe with module %s: status %d", module, resp.StatusCode)
		}
	}
	return srv.URL
}

// TestHistoryPageInChromium: Chromium renders /history of real probes, one
// success and two failures (one of a probe with a good and a dead port):
// unfiltered, the screenshot shows success and failure colours; with
// ?result=failure, only failure colours, and the DOM Chromium built holds
// only the failure rows.
func TestHistoryPageInChromium(t *testing.T) {
	binary, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (.ci/run installs it)")
	}
	base := serveExporter(t, newHistoryModules(t))
	dir, artifacts := t.TempDir(), t.ArtifactDir()

	all, filtered := filepath.Join(artifacts, "history.png"), filepath.Join(artifacts, "history-failures.png")
	chromium(t, binary, dir, "--screenshot="+all, base+"/history?refresh=0")
	chromium(t, binary, dir, "--screenshot="+filtered, base+"/history?result=failure")
	t.Logf("screenshots: %s (all probes), %s (?result=failure)", all, filtered)

	if counts, distinct := screenshotColours(t, all, successColour(), failureColour()); counts[0] < 500 || counts[1] < 500 || distinct < 20 {
		t.Errorf("unfiltered screenshot: %d success pixels, %d failure pixels, %d colours; want both colours and a page", counts[0], counts[1], distinct)
	}
	if counts, distinct := screenshotColours(t, filtered, successColour(), failureColour()); counts[0] != 0 || counts[1] < 500 || distinct < 20 {
		t.Errorf("filtered screenshot: %d success pixels, %d failure pixels, %d colours; want failure colours only", counts[0], counts[1], distinct)
	}

	dom := string(chromium(t, binary, dir, "--dump-dom", base+"/history?result=failure"))
	page := parsePage(t, dom)
	if len(page.rows) != 2 || len(page.probes) != 2 {
		t.Fatalf("filtered DOM has %d rows of %d probes, want the 2 failed endpoints of 2 probes:\n%s", len(page.rows), len(page.probes), dom)
	}
	for i, row := range page.rows {
		if row.result != "failure" || row.class != "endpoint fail" || row.cells[3] != "failure" || row.cells[4] != "connect/refused" {
			t.Errorf("filtered DOM row %d is %+v, want a refused failure", i, row)
		}
	}
	if !strings.Contains(dom, "<option selected=\"\">failure</option>") {
		t.Errorf("filtered DOM does not show the result filter in force")
	}
}
