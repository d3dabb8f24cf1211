package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/testimages"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/html-report.png from the leaky test image's report")

// TestHTMLSelfContained: the page loads nothing: no external script,
// style, image or font, a CSP that forbids fetches, and report text is
// escaped, never markup.
func TestHTMLSelfContained(t *testing.T) {
	r := fixtureReport()
	r.Findings[0].Message = `<script>alert("x")</script> & <img src=x onerror=alert(1)>`
	r.Finalize()
	page := string(render(t, "html", Options{}, r))
	for _, bad := range []string{"<link", "@import", "url(", "<img", "<iframe", "<object", "<embed", `alert("x")</script>`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Attribute values never hold a raw quote or '<' (escaped), so a
	// resource attribute outside a value starts right after a tag name
	// or a closed value.
	if m := regexp.MustCompile(`<\w+(\s+[\w-]+(="[^"]*")?)*\s+(src|srcset|poster)=`).FindString(page); m != "" {
		t.Errorf("page loads a resource: %.200s", m)
	}
	if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"`) {
		t.Error("no Content-Security-Policy forbidding fetches")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("message not escaped")
	}
	if n := strings.Count(page, "<script>"); n != 1 {
		t.Errorf("%d inline scripts, want 1", n)
	}
	// Every finding is a row, grouped by file or layer; one SVG bar per layer.
	if n := strings.Count(page, `<tr class="finding`); n != len(r.Findings) {
		t.Errorf("%d rows, want %d", n, len(r.Findings))
	}
	if !strings.Contains(page, `<svg id="layer-chart"`) || strings.Count(page, `<g class="bar">`) != len(r.Image.Layers) {
		t.Error("layer chart missing or wrong bar count")
	}
}

// chromium renders file with headless Chromium and returns what it
// printed (the DOM after scripts ran, with --dump-dom).
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (scripts/setup.sh installs Debian's chromium package): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func writePage(t *testing.T, page []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, page, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var visibleRow = regexp.MustCompile(`<tr class="finding[^"]*" id="(f\d+)" data-id="([^"]+)"[^>]*?>`)

// shownRows lists the data-id of every finding row the script left
// visible in a dumped DOM.
func shownRows(dom string) []string {
	var out []string
	for _, m := range visibleRow.FindAllStringSubmatch(dom, -1) {
		if !strings.Contains(m[0], " hidden") {
			out = append(out, m[2])
		}
	}
	return out
}

// TestHTMLInChromium renders the report in a real browser: the filter
// script runs, every finding row exists with its ID, and the search and
// severity filter (set through the URL fragment) hide the right rows.
func TestHTMLInChromium(t *testing.T) {
	r := fixtureReport()
	page := writePage(t, render(t, "html", Options{}, r))
	dom := string(chromium(t, "--dump-dom", "file://"+page))
	if !strings.Contains(dom, `data-filter-ready="1"`) {
		t.Fatalf("filter script did not run:\n%.2000s", dom)
	}
	var all []string
	for _, f := range r.Findings {
		all = append(all, f.ID)
	}
	got := shownRows(dom)
	slices.Sort(got)
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Errorf("rows %q, want %q", got, all)
	}
	want := fmt.Sprintf("%d of %d findings shown", len(all), len(all))
	if !strings.Contains(dom, want) {
		t.Errorf("DOM lacks %q", want)
	}
	for _, c := range []struct {
		fragment string
		want     []string
	}{
		{"severity=CRITICAL", []string{"KS-IM-005", "KS-SE-aws-access-key-id"}},
		{"q=openssl", []string{"CVE-2024-0001"}},
		{"kind=vuln&severity=MEDIUM", []string{"GO-2021-0113"}},
		{"q=no-such-thing", nil},
	} {
		dom := string(chromium(t, "--dump-dom", "file://"+page+"#"+c.fragment))
		got := shownRows(dom)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("#%s: rows %q, want %q", c.fragment, got, c.want)
		}
		if !strings.Contains(dom, fmt.Sprintf(`data-shown="%d"`, len(c.want))) {
			t.Errorf("#%s: body data-shown is not %d", c.fragment, len(c.want))
		}
	}
	// With nothing shown every group is hidden.
	dom = string(chromium(t, "--dump-dom", "file://"+page+"#q=no-such-thing"))
	groups := regexp.MustCompile(`<section class="group" id="g\d+"[^>]*>`).FindAllString(dom, -1)
	for _, g := range groups {
		if !strings.Contains(g, "hidden") {
			t.Errorf("group %s still shown with no rows", g)
		}
	}
	if len(groups) == 0 {
		t.Error("no groups in the DOM")
	}
}

// TestHTMLScreenshot renders a real image's report (the leaky test image,
// with its Dockerfile) and takes a screenshot; -update-screenshot stores
// it as docs/html-report.png.
func TestHTMLScreenshot(t *testing.T) {
	ctx := context.Background()
	src, err := source.Open(ctx, testimages.Path(t, testimages.Leaky, testimages.FormDocker), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	df, err := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	if err != nil {
		t.Fatal(err)
	}
	res, err := imagescan.Scan(ctx, src, "leaky.docker.tar", imagescan.Options{Scanners: imagescan.Scanners{Misconfig: true, Secret: true}, Dockerfile: df})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	for i := range rep.Findings {
		if l := &rep.Findings[i].Location; l.Dockerfile != "" {
			l.Dockerfile = "testdata/images/leaky/Dockerfile"
		}
	}
	rep.Finalize()
	page := writePage(t, render(t, "html", Options{}, rep))
	dom := string(chromium(t, "--dump-dom", "file://"+page))
	rows := shownRows(dom)
	if len(rows) != len(rep.Findings) || !strings.Contains(dom, `data-id="KS-IM-005"`) {
		t.Errorf("leaky: %d rows shown of %d findings", len(rows), len(rep.Findings))
	}
	if !strings.Contains(dom, "testdata/images/leaky/Dockerfile:7") {
		t.Error("the deleted-secret finding does not show its Dockerfile line")
	}
	if n := strings.Count(dom, `<g class="bar">`); n != len(rep.Image.Layers) {
		t.Errorf("%d chart bars, want %d layers", n, len(rep.Image.Layers))
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	chromium(t, "--screenshot="+shot, "--window-size=1280,1400", "--hide-scrollbars", "file://"+page)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1280 || sz.Y != 1400 {
		t.Errorf("screenshot is %v, want 1280x1400", sz)
	}
	// A blank page would be one colour: the rendered report has many.
	colours := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d colours: blank?", len(colours))
	}
	if *updateScreenshot {
		if err := os.WriteFile("../../docs/html-report.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
