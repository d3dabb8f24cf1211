package report

import (
	"bufio"
	"fmt"
	"github.com/kensa-sec/kensa/internal/bytesize"
	"io"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
)

// tableWriter renders a human-readable report grouped by file (or image
// layer) and severity.
type tableWriter struct{ opts Options }

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
)

var sevColor = map[finding.Severity]string{
	finding.SeverityCritical: "\x1b[1;31m",
	finding.SeverityHigh:     "\x1b[31m",
	finding.SeverityMedium:   "\x1b[33m",
	finding.SeverityLow:      "\x1b[36m",
	finding.SeverityInfo:     "\x1b[34m",
	finding.SeverityUnknown:  "\x1b[37m",
}

type group struct {
	title    string
	findings []finding.Finding
}

// groupKey places a finding under its file: the Dockerfile or context file,
// or for image findings the layer that holds it.
func groupKey(f finding.Finding) (key, title string) {
	l := f.Location
	if l.Layer != "" {
		idx := ""
		if l.LayerIndex != nil {
			idx = fmt.Sprintf("%d ", *l.LayerIndex)
		}
		key = fmt.Sprintf("1layer %08d %s", layerOrder(l), l.Layer)
		title = fmt.Sprintf("layer %s%s", idx, shortDigest(l.Layer))
		switch f.Origin {
		case finding.OriginBase:
			title += " [base]"
		case finding.OriginOwn:
			title += " [own]"
		}
		if l.Step != "" {
			title += "  " + truncate(l.Step, 80)
		}
		return key, title
	}
	if l.Path == "" {
		return "2", "(no file: image config, history or target)"
	}
	return "0" + l.Path, l.Path
}

func layerOrder(l finding.Location) int {
	if l.LayerIndex != nil {
		return *l.LayerIndex
	}
	return 1 << 20
}

func shortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (t *tableWriter) paint(code, s string) string {
	if !t.opts.Color || code == "" {
		return s
	}
	return code + s + ansiReset
}

// Write renders r as text.
func (t *tableWriter) Write(w io.Writer, r *finding.Report) error {
	bw := bufio.NewWriter(w)
	kind := r.TargetKind
	if kind == "" {
		kind = "target"
	}
	fmt.Fprintf(bw, "%s %s (%s)\n", t.paint(ansiBold, "Target:"), r.Target, kind)
	if img := r.Image; img != nil {
		ref := img.Reference
		if ref == "" {
			ref = r.Target
		}
		fmt.Fprintf(bw, "Image: %s", ref)
		if img.Digest != "" {
			fmt.Fprintf(bw, " @ %s", shortDigest(img.Digest))
		}
		if img.OS != "" {
			fmt.Fprintf(bw, ", %s", img.OS)
		}
		if img.Platform != "" {
			fmt.Fprintf(bw, ", %s", img.Platform)
		}
		fmt.Fprintf(bw, ", %d layers, %s\n", len(img.Layers), bytesize.Format(img.Size))
		if b := img.Base; b != nil {
			fmt.Fprintf(bw, "Base: %s", baseName(b))
			switch {
			case b.Layers == 0:
				fmt.Fprintf(bw, " (no layers, from %s)", b.Source)
			case b.Layers > 0:
				fmt.Fprintf(bw, " (layers 0-%d, from %s)", b.Layers-1, b.Source)
			default:
				fmt.Fprintf(bw, " (from %s; its layers are unknown: --base IMAGE tells them apart)", b.Source)
			}
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "Efficiency: %.1f%% (wasted %s)\n", img.Efficiency*100, bytesize.Format(img.WastedBytes))
	}
	if r.OS != nil && r.Image == nil {
		fmt.Fprintf(bw, "OS: %s %s\n", r.OS.ID, r.OS.VersionID)
	}
	if len(r.Packages) > 0 {
		fmt.Fprintf(bw, "Packages: %d\n", len(r.Packages))
	}

	groups := map[string]*group{}
	for _, f := range visibleFindings(r, t.opts.ShowSuppressed) {
		k, title := groupKey(f)
		g := groups[k]
		if g == nil {
			g = &group{title: title}
			groups[k] = g
		}
		g.findings = append(g.findings, f)
	}
	for _, k := range sortedIDs(groups) {
		g := groups[k]
		sort.SliceStable(g.findings, func(i, j int) bool {
			a, b := g.findings[i], g.findings[j]
			if a.Severity != b.Severity {
				return a.Severity > b.Severity
			}
			return a.Location.Line < b.Location.Line
		})
		fmt.Fprintf(bw, "\n%s\n", t.paint(ansiBold, g.title))
		fmt.Fprintf(bw, "%s\n", strings.Repeat("─", min(len([]rune(g.title)), 80)))
		for _, f := range g.findings {
			t.writeFinding(bw, f)
		}
	}
	if len(groups) == 0 {
		fmt.Fprintf(bw, "\nNo findings.\n")
	}

	fmt.Fprintf(bw, "\n%s\n", t.summary(r))
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "%s %s\n", t.paint(sevColor[finding.SeverityMedium], "Note:"), n)
	}
	return bw.Flush()
}

func (t *tableWriter) writeFinding(w io.Writer, f finding.Finding) {
	sev := fmt.Sprintf("%-8s", f.Severity)
	where := location(f.Location)
	head := fmt.Sprintf("  %s %s", t.paint(sevColor[f.Severity], sev), t.paint(ansiBold, f.ID))
	if where != "" {
		head += "  " + where
	}
	head += "  " + f.Title
	if f.Suppressed != nil {
		head += t.paint(ansiDim, " [suppressed by "+f.Suppressed.By+suppressionDetail(f.Suppressed)+"]")
	}
	fmt.Fprintln(w, head)
	const indent = "           "
	if p := f.Package; p != nil {
		line := fmt.Sprintf("%spackage %s %s", indent, p.Name, p.Version)
		if p.FixedVersion != "" {
			line += " → " + p.FixedVersion
		} else if f.Kind == finding.KindVuln {
			line += " → (no fix yet)"
		}
		fmt.Fprintln(w, line)
	}
	if f.Message != "" {
		fmt.Fprintf(w, "%s%s\n", indent, f.Message)
	}
	if l := f.Location; l.Layer != "" && l.Path != "" {
		if l.Line > 0 {
			fmt.Fprintf(w, "%sfile %s:%d\n", indent, l.Path, l.Line)
		} else {
			fmt.Fprintf(w, "%sfile %s\n", indent, l.Path)
		}
	}
	for _, rel := range f.Related {
		fmt.Fprintf(w, "%salso %s\n", indent, relatedText(rel))
	}
	if f.Fix != "" {
		// Multi-line fixes (manifest snippets) stay under the finding.
		fix := strings.ReplaceAll(strings.TrimRight(f.Fix, "\n"), "\n", "\n"+indent+"     ")
		fmt.Fprintf(w, "%s%s %s\n", indent, t.paint(ansiDim, "fix:"), fix)
	}
}

func suppressionDetail(s *finding.Suppression) string {
	var parts []string
	if s.Source != "" {
		parts = append(parts, s.Source)
	}
	if s.Reason != "" {
		parts = append(parts, s.Reason)
	}
	if s.Expires != "" {
		parts = append(parts, "until "+s.Expires)
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ", ")
}

// location renders where a finding is, for the table: path:line for files,
// Dockerfile:line for image findings traced to a step.
func location(l finding.Location) string {
	switch {
	case l.Layer != "" && l.Dockerfile != "" && l.DockerfileLine > 0:
		return fmt.Sprintf("%s:%d", l.Dockerfile, l.DockerfileLine)
	case l.Layer != "":
		return ""
	case l.Path != "" && l.Line > 0 && l.EndLine > l.Line:
		return fmt.Sprintf("%s:%d-%d", l.Path, l.Line, l.EndLine)
	case l.Path != "" && l.Line > 0:
		return fmt.Sprintf("%s:%d", l.Path, l.Line)
	}
	return ""
}

func relatedText(l finding.Location) string {
	var parts []string
	if l.Layer != "" {
		s := "layer "
		if l.LayerIndex != nil {
			s += fmt.Sprintf("%d ", *l.LayerIndex)
		}
		parts = append(parts, s+shortDigest(l.Layer))
	}
	if l.Path != "" {
		p := l.Path
		if l.Line > 0 {
			p = fmt.Sprintf("%s:%d", p, l.Line)
		}
		parts = append(parts, p)
	}
	if l.Step != "" {
		parts = append(parts, truncate(l.Step, 60))
	}
	return strings.Join(parts, "  ")
}

func (t *tableWriter) summary(r *finding.Report) string {
	var parts []string
	for _, s := range finding.AllSeverities() {
		n := r.Summary.BySeverity[s.String()]
		if s == finding.SeverityUnknown && n == 0 {
			continue
		}
		txt := fmt.Sprintf("%s %d", s, n)
		if n > 0 {
			txt = t.paint(sevColor[s], txt)
		}
		parts = append(parts, txt)
	}
	word := "findings"
	if r.Summary.Total == 1 {
		word = "finding"
	}
	out := fmt.Sprintf("Summary: %d %s (%s)", r.Summary.Total, word, strings.Join(parts, ", "))
	if bo := r.Summary.ByOrigin; bo != nil && r.Image != nil && r.Image.Base != nil {
		out += fmt.Sprintf("\nbase %s: %d findings, own layers: %d", baseName(r.Image.Base), bo[finding.OriginBase], bo[finding.OriginOwn])
		if rest := r.Summary.Total - bo[finding.OriginBase] - bo[finding.OriginOwn]; rest > 0 {
			out += fmt.Sprintf(", image config: %d", rest)
		}
	}
	if r.Summary.Suppressed > 0 {
		out += fmt.Sprintf(", %d suppressed", r.Summary.Suppressed)
		if !t.opts.ShowSuppressed {
			out += " (--show-suppressed to list)"
		}
	}
	return out
}

// baseName names a base image by reference, else digest.
func baseName(b *finding.BaseImage) string {
	if b.Name != "" {
		return b.Name
	}
	return shortDigest(b.Digest)
}
