package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// sarifWriter writes SARIF 2.1.0 as GitHub code scanning accepts it.
type sarifWriter struct{ opts Options }

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	kensaURI     = "https://github.com/kensa-sec/kensa"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

type sarifLocation struct {
	ID               int                    `json:"id,omitempty"`
	PhysicalLocation *sarifPhysical         `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
	Message          *sarifText             `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name,omitempty"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return "error"
	case finding.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's numeric score (critical > 9.0, high 7.0-8.9,
// medium 4.0-6.9, low 0.1-3.9); "" for INFO/UNKNOWN (shown by level only).
func securitySeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "9.5"
	case finding.SeverityHigh:
		return "8.0"
	case finding.SeverityMedium:
		return "5.5"
	case finding.SeverityLow:
		return "2.0"
	}
	return ""
}

// ruleCategory names the family of a rule ID for SARIF tags.
func ruleCategory(id string, kind finding.Kind) string {
	switch {
	case strings.HasPrefix(id, "KS-DF-"):
		return "dockerfile"
	case strings.HasPrefix(id, "KS-CX-"):
		return "build-context"
	case strings.HasPrefix(id, "KS-IM-"):
		return "image"
	case strings.HasPrefix(id, "KS-SE-"):
		return "secret"
	case kind == finding.KindVuln:
		return "vulnerability"
	}
	return string(kind)
}

// ruleFor builds the descriptor for id: from the catalogue when it is there,
// otherwise from the finding itself (secret detectors, advisories).
func ruleFor(f finding.Finding) sarifRule {
	r, ok := rules.Lookup(f.ID)
	if !ok {
		r = rules.Rule{ID: f.ID, Severity: f.Severity, Kind: f.Kind, Title: f.Title, Help: f.Title, Fix: f.Fix}
		if f.Kind == finding.KindVuln {
			r.Help = f.Title
			if f.Package != nil {
				r.Help = fmt.Sprintf("%s (%s in %s).", strings.TrimSuffix(f.Title, "."), f.ID, f.Package.Name)
			}
			r.Fix = "Upgrade the affected package to a fixed version."
		}
	}
	if r.Title == "" {
		r.Title = r.ID
	}
	if r.Help == "" {
		r.Help = r.Title
	}
	help := r.Help
	md := r.Help
	if r.Fix != "" {
		help += "\n\nFix: " + r.Fix
		md += "\n\n**Fix:** " + r.Fix
	}
	tags := []string{ruleCategory(r.ID, r.Kind)}
	if string(r.Kind) != tags[0] {
		tags = append(tags, string(r.Kind))
	}
	props := map[string]any{"precision": "very-high"}
	if ss := securitySeverity(r.Severity); ss != "" {
		props["security-severity"] = ss
		tags = append([]string{"security"}, tags...)
	}
	props["tags"] = tags
	var helpURI string
	if strings.HasPrefix(r.ID, "KS-") {
		helpURI = kensaURI + "/blob/main/docs/rules.md#" + strings.ToLower(r.ID)
	} else if len(f.References) > 0 && strings.HasPrefix(f.References[0], "http") {
		helpURI = f.References[0]
	}
	return sarifRule{
		ID:                   r.ID,
		Name:                 ruleName(r.Title),
		ShortDescription:     sarifText{Text: r.Title},
		FullDescription:      sarifText{Text: r.Help},
		Help:                 sarifText{Text: help, Markdown: md},
		HelpURI:              helpURI,
		DefaultConfiguration: sarifConfig{Level: sarifLevel(r.Severity)},
		Properties:           props,
	}
}

// ruleName turns a title into a PascalCase identifier, as SARIF's
// reportingDescriptor.name suggests.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// Write renders r as a SARIF log with one run.
func (s *sarifWriter) Write(w io.Writer, r *finding.Report) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "kensa", Version: s.opts.ToolVersion, InformationURI: kensaURI, Rules: []sarifRule{},
		}},
		Results: []sarifResult{},
	}
	index := map[string]int{}
	for _, f := range visibleFindings(r, s.opts.ShowSuppressed) {
		i, ok := index[f.ID]
		if !ok {
			i = len(run.Tool.Driver.Rules)
			index[f.ID] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, ruleFor(f))
		}
		run.Results = append(run.Results, s.result(r, f, i))
	}
	props := map[string]any{"target": r.Target}
	if r.TargetKind != "" {
		props["targetKind"] = r.TargetKind
	}
	if len(r.Notes) > 0 {
		props["notes"] = r.Notes
	}
	run.Properties = props
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write SARIF report: %w", err)
	}
	return nil
}

func (s *sarifWriter) result(r *finding.Report, f finding.Finding, ruleIndex int) sarifResult {
	l := f.Location
	msg := f.Message
	if msg == "" {
		msg = f.Title
	}
	props := map[string]any{"severity": f.Severity.String(), "kind": string(f.Kind)}
	var loc sarifLocation
	switch {
	case l.Dockerfile != "":
		// An image finding traced to the Dockerfile step that made it
		// (a layer, or a config entry such as ENV or USER): point code
		// scanning at that line.
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: s.uri(s.sourcePath(r, l.Dockerfile))}, Region: region(l.DockerfileLine, 0)}
	case l.Layer == "" && l.Path != "" && !inImagePath(r, l.Path):
		// A Dockerfile or build-context file in the repository.
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: s.uri(s.sourcePath(r, l.Path))}, Region: region(l.Line, l.EndLine)}
	default:
		// An image finding with no file in the repository: GitHub needs a
		// physical location, so name the scanned image itself (line 1) and
		// keep the in-image path as a logical location.
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: s.uri(r.Target)}, Region: region(1, 0)}
	}
	if l.Layer != "" || inImagePath(r, l.Path) {
		if l.Path != "" {
			loc.LogicalLocations = []sarifLogicalLocation{{Name: path.Base(l.Path), FullyQualifiedName: l.Path, Kind: "resource"}}
			msg += " (" + l.Path + ")"
		}
		if l.Layer != "" {
			props["layer"] = l.Layer
		}
		if l.LayerIndex != nil {
			props["layerIndex"] = *l.LayerIndex
		}
	}
	if l.Step != "" {
		props["step"] = l.Step
	}
	if p := f.Package; p != nil {
		props["package"] = p.Name
		props["installedVersion"] = p.Version
		if p.FixedVersion != "" {
			props["fixedVersion"] = p.FixedVersion
		}
		if p.PURL != "" {
			props["purl"] = p.PURL
		}
		msg = fmt.Sprintf("%s: %s %s", msg, p.Name, p.Version)
		if p.FixedVersion != "" {
			msg += " (fixed in " + p.FixedVersion + ")"
		}
	}
	if f.Fix != "" {
		msg += "\nFix: " + f.Fix
	}
	res := sarifResult{
		RuleID:              f.ID,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifText{Text: msg},
		Locations:           []sarifLocation{loc},
		PartialFingerprints: map[string]string{"kensaFindingHash/v2": finding.Fingerprint(f)},
		Properties:          props,
	}
	for i, rel := range f.Related {
		rl := sarifLocation{ID: i + 1, Message: &sarifText{Text: relatedText(rel)}}
		if rel.Layer == "" && rel.Path != "" {
			rl.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: s.uri(s.sourcePath(r, rel.Path))}, Region: region(rel.Line, rel.EndLine)}
		} else if rel.Path != "" {
			rl.LogicalLocations = []sarifLogicalLocation{{FullyQualifiedName: rel.Path, Kind: "resource"}}
		}
		if rl.PhysicalLocation == nil && rl.LogicalLocations == nil {
			continue
		}
		res.RelatedLocations = append(res.RelatedLocations, rl)
	}
	if sp := f.Suppressed; sp != nil {
		kind := "external"
		if sp.By == "inline" {
			kind = "inSource"
		}
		res.Suppressions = []sarifSuppression{{Kind: kind, Justification: strings.TrimSpace(sp.Reason + " " + sp.Source)}}
	}
	return res
}

// inImagePath reports whether p is a path inside the scanned image
// rather than a repository file: image targets name files absolutely.
func inImagePath(r *finding.Report, p string) bool {
	switch r.TargetKind {
	case "image", "rootfs", "dockerfile+image":
		return strings.HasPrefix(p, "/")
	}
	return false
}

// sourcePath places a Dockerfile-target path (also the Dockerfile of an
// image built next to it) under the build context.
func (s *sarifWriter) sourcePath(r *finding.Report, p string) string {
	if (r.TargetKind != "dockerfile" && r.TargetKind != "dockerfile+image") || s.opts.SourceRoot == "" || filepath.IsAbs(p) {
		return p
	}
	joined := filepath.Join(s.opts.SourceRoot, p)
	if abs, err := filepath.Abs(joined); err == nil {
		return abs
	}
	return joined
}

func region(start, end int) *sarifRegion {
	if start <= 0 {
		return nil
	}
	r := &sarifRegion{StartLine: start}
	if end > start {
		r.EndLine = end
	}
	return r
}

// uri turns a path into a relative, forward-slash URI reference: relative
// to BaseDir when the path is under it, leading slashes dropped, and each
// segment percent-escaped so "alpine:3.19" is not read as a URI scheme.
func (s *sarifWriter) uri(p string) string {
	if p == "" {
		return "."
	}
	if s.opts.BaseDir != "" && filepath.IsAbs(p) {
		if rel, err := filepath.Rel(s.opts.BaseDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			p = rel
		}
	}
	p = filepath.ToSlash(p)
	p = strings.TrimLeft(p, "/")
	p = strings.TrimPrefix(p, "./")
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		// PathEscape keeps ':'; escape it so no segment reads as a scheme.
		segs[i] = strings.ReplaceAll(url.PathEscape(seg), ":", "%3A")
	}
	out := strings.Join(segs, "/")
	if out == "" {
		return "."
	}
	return out
}
