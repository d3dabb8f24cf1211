package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/kensa-sec/kensa/internal/bytesize"
	"github.com/kensa-sec/kensa/internal/finding"
)

// htmlWriter renders one self-contained HTML page: the summary, the
// layers' sizes and waste as an inline SVG chart, and the findings grouped
// by file or layer (as the table is) with a client-side search and
// severity/kind filter. Styles and script are inline and a
// Content-Security-Policy forbids every fetch, so the file opens the same
// offline, attached to a CI run or mailed.
type htmlWriter struct{ opts Options }

//go:embed html/report.html.tmpl
var htmlTemplateText string

//go:embed html/report.css
var htmlCSS string

//go:embed html/report.js
var htmlJS string

// htmlTemplate is parsed on first use, not at every kensa start.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"bytes": bytesize.Format,
		"short": shortDigest,
		"trunc": truncate,
		"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
		"lower": strings.ToLower,
	}).Parse(htmlTemplateText))
})

type htmlData struct {
	R          *finding.Report
	Tool       string
	Created    string
	Counts     []htmlCount
	Shown      int
	Groups     []htmlGroup
	Chart      *htmlChart
	Kinds      []string
	CSS        template.CSS
	JS         template.JS
	Suppressed bool
}

type htmlCount struct {
	Name string
	N    int
}

type htmlGroup struct {
	ID    string
	Title string
	// Layer is the layer's summary for layer groups.
	Layer *finding.LayerInfo
	Rows  []htmlRow
}

type htmlRow struct {
	N          int
	F          finding.Finding
	Where      string // path:line (or in-image path)
	Dockerfile string // Dockerfile:line an image finding was traced to
	Search     string // lower-cased text the search box matches
}

// htmlChart is the layer chart, laid out here so the template only
// places numbers.
type htmlChart struct {
	Width, Height int
	Bars          []htmlBar
}

type htmlBar struct {
	Y, W, WasteW, WasteX int
	Label, Size, Tip     string
}

const (
	chartBarMax = 520 // px of the largest layer
	chartRow    = 26
	chartLabel  = 150
)

func (h *htmlWriter) Write(w io.Writer, r *finding.Report) error {
	d := htmlData{R: r, Tool: h.opts.ToolVersion, CSS: template.CSS(htmlCSS), JS: template.JS(htmlJS), Suppressed: h.opts.ShowSuppressed}
	if !h.opts.Created.IsZero() {
		d.Created = h.opts.created().Format("2006-01-02 15:04:05 UTC")
	}
	for _, s := range finding.AllSeverities() {
		d.Counts = append(d.Counts, htmlCount{s.String(), r.Summary.BySeverity[s.String()]})
	}
	fs := visibleFindings(r, h.opts.ShowSuppressed)
	d.Shown = len(fs)
	kinds := map[string]bool{}
	byKey := map[string]*htmlGroup{}
	var keys []string
	for i, f := range fs {
		kinds[string(f.Kind)] = true
		key, title := groupKey(f)
		g, ok := byKey[key]
		if !ok {
			g = &htmlGroup{ID: fmt.Sprintf("g%d", len(keys)+1), Title: title}
			if l := f.Location.LayerIndex; l != nil && r.Image != nil {
				for j := range r.Image.Layers {
					if r.Image.Layers[j].Index == *l {
						g.Layer = &r.Image.Layers[j]
					}
				}
			}
			byKey[key] = g
			keys = append(keys, key)
		}
		g.Rows = append(g.Rows, htmlRowFor(i+1, f))
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Groups = append(d.Groups, *byKey[k])
	}
	d.Kinds = sortedIDs(kinds)
	d.Chart = layerChart(r.Image)
	if err := htmlTemplate().Execute(w, d); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

func htmlRowFor(n int, f finding.Finding) htmlRow {
	l := f.Location
	row := htmlRow{N: n, F: f, Where: l.Path}
	if l.Line > 0 {
		row.Where += fmt.Sprintf(":%d", l.Line)
		if l.EndLine > l.Line {
			row.Where += fmt.Sprintf("-%d", l.EndLine)
		}
	}
	if l.Dockerfile != "" {
		row.Dockerfile = l.Dockerfile
		if l.DockerfileLine > 0 {
			row.Dockerfile += fmt.Sprintf(":%d", l.DockerfileLine)
		}
	}
	parts := []string{f.ID, f.Title, f.Message, f.Fix, row.Where, row.Dockerfile, l.Step, string(f.Kind)}
	if p := f.Package; p != nil {
		parts = append(parts, p.Name, p.Version, p.FixedVersion)
	}
	parts = append(parts, f.Aliases...)
	row.Search = strings.ToLower(strings.Join(parts, " "))
	return row
}

// layerChart draws one bar per layer, its wasted bytes (deleted or
// overwritten by later layers) overlaid from the right.
func layerChart(img *finding.ImageInfo) *htmlChart {
	if img == nil || len(img.Layers) == 0 {
		return nil
	}
	var max int64 = 1
	for _, l := range img.Layers {
		if l.Size > max {
			max = l.Size
		}
	}
	c := &htmlChart{Width: chartLabel + chartBarMax + 200, Height: len(img.Layers)*chartRow + 8}
	for i, l := range img.Layers {
		w := int(float64(l.Size) / float64(max) * chartBarMax)
		if l.Size > 0 && w < 1 {
			w = 1
		}
		ww := int(float64(min(l.WastedBytes, l.Size)) / float64(max) * chartBarMax)
		if l.WastedBytes > 0 && ww < 1 {
			ww = 1
		}
		b := htmlBar{Y: 4 + i*chartRow, W: w, WasteW: ww, WasteX: chartLabel + w - ww,
			Label: fmt.Sprintf("layer %d", l.Index), Size: bytesize.Format(l.Size),
			Tip: strings.TrimSpace(shortDigest(l.Digest) + " " + truncate(l.Step, 120))}
		if l.WastedBytes > 0 {
			b.Size += ", wasted " + bytesize.Format(l.WastedBytes)
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}
