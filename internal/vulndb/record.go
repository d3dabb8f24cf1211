// Package vulndb is kensa's embedded vulnerability database: OSV-style
// advisories in one bbolt file, indexed by ecosystem and package name, built
// from OSV archives or folders and Alpine secdb feeds, updated atomically.
package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Advisory is the part of an OSV record kensa needs for matching and output.
// Its JSON form follows the OSV schema, so a full OSV record decodes into it.
type Advisory struct {
	ID        string    `json:"id"`
	Modified  time.Time `json:"modified,omitzero"`
	Published time.Time `json:"published,omitzero"`
	Withdrawn time.Time `json:"withdrawn,omitzero"`
	Aliases   []string  `json:"aliases,omitempty"`
	// Upstream names the records this one derives from (OSV 1.6); a
	// single upstream ID is treated like an alias when merging.
	Upstream         []string         `json:"upstream,omitempty"`
	Summary          string           `json:"summary,omitempty"`
	Details          string           `json:"details,omitempty"`
	Severity         []Severity       `json:"severity,omitempty"`
	Affected         []Affected       `json:"affected,omitempty"`
	References       []Reference      `json:"references,omitempty"`
	DatabaseSpecific DatabaseSpecific `json:"database_specific,omitzero"`
}

// Severity is an OSV severity entry: a scoring system and its vector.
type Severity struct {
	Type  string `json:"type"`  // CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu, ...
	Score string `json:"score"` // the vector (or a rating for non-CVSS types)
}

// Affected names one package an advisory affects and the affected versions.
type Affected struct {
	Package           Package          `json:"package"`
	Severity          []Severity       `json:"severity,omitempty"`
	Ranges            []Range          `json:"ranges,omitempty"`
	Versions          []string         `json:"versions,omitempty"`
	EcosystemSpecific DatabaseSpecific `json:"ecosystem_specific,omitzero"`
	DatabaseSpecific  DatabaseSpecific `json:"database_specific,omitzero"`
}

// Package identifies a package within an ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is an OSV version range: a type (ECOSYSTEM, SEMVER, GIT) and events.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about an advisory.
type Reference struct {
	Type string `json:"type,omitempty"`
	URL  string `json:"url"`
}

// DatabaseSpecific keeps the only database/ecosystem-specific field kensa
// reads: a textual severity rating (GHSA "MODERATE", Debian "urgency", ...).
type DatabaseSpecific struct {
	Severity string `json:"severity,omitempty"`
	Urgency  string `json:"urgency,omitempty"`
	// Imports are the affected packages of a module (Go advisories'
	// ecosystem_specific.imports): the vulnerable code is in these
	// packages only.
	Imports []AffectedImport `json:"imports,omitempty"`
}

// AffectedImport is one affected package of a Go advisory and, when known, its
// vulnerable symbols.
type AffectedImport struct {
	Path    string   `json:"path"`
	Symbols []string `json:"symbols,omitempty"`
}

// UnmarshalJSON reads the severity rating while tolerating any other shape of
// database_specific (objects of arbitrary fields, or unusual value types).
func (d *DatabaseSpecific) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil // not an object: nothing kensa needs
	}
	str := func(k string) string {
		var s string
		if v, ok := raw[k]; ok && json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	d.Severity = str("severity")
	d.Urgency = str("urgency")
	var imports []AffectedImport
	if v, ok := raw["imports"]; ok && json.Unmarshal(v, &imports) == nil {
		for _, im := range imports {
			if im.Path != "" {
				d.Imports = append(d.Imports, im)
			}
		}
	}
	return nil
}

// maxRecordSize bounds one OSV record; real records are well under 1 MiB.
const maxRecordSize = 8 << 20

// ParseRecord decodes one OSV JSON record and checks the fields matching
// relies on. name is used in errors (a file or zip entry name).
func ParseRecord(name string, data []byte) (*Advisory, error) {
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("osv record %s: %d bytes, larger than the %d-byte limit", name, len(data), maxRecordSize)
	}
	var a Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("osv record %s: %w", name, err)
	}
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("osv record %s: %w", name, err)
	}
	return &a, nil
}

// validate rejects records kensa cannot index or match.
func (a *Advisory) validate() error {
	if strings.TrimSpace(a.ID) == "" {
		return errors.New("no id")
	}
	if len(a.ID) > 256 || !utf8.ValidString(a.ID) || strings.ContainsAny(a.ID, "\x00\n") {
		return fmt.Errorf("id %.40q is not a valid advisory id", a.ID)
	}
	for i, af := range a.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			// OSV allows affected entries without a package (e.g. GIT-only).
			continue
		}
		if len(af.Package.Name) > 1024 || len(af.Package.Ecosystem) > 256 {
			return fmt.Errorf("affected[%d]: package name or ecosystem too long", i)
		}
	}
	return nil
}

// compact drops fields kensa never reads, to keep the store small: details
// become the summary when there is none (Title), references
// are capped, GIT ranges and packageless entries are removed.
func (a *Advisory) compact() {
	if a.Summary == "" && a.Details != "" {
		a.Summary = Title(a.Details)
	}
	a.Details = ""
	if len(a.References) > maxRefs {
		a.References = a.References[:maxRefs]
	}
	aff := a.Affected[:0]
	for _, af := range a.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			continue
		}
		rs := af.Ranges[:0]
		for _, r := range af.Ranges {
			if r.Type == "ECOSYSTEM" || r.Type == "SEMVER" {
				rs = append(rs, r)
			}
		}
		af.Ranges = rs
		af.DatabaseSpecific = DatabaseSpecific{}
		aff = append(aff, af)
	}
	a.Affected = aff
}

const maxRefs = 16

// ecosystems returns the distinct ecosystems of a's affected packages.
func (a *Advisory) ecosystems() []string {
	var out []string
	for _, af := range a.Affected {
		e := af.Package.Ecosystem
		if e == "" {
			continue
		}
		dup := false
		for _, x := range out {
			if x == e {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// NormalizeName returns the key a package name is indexed and compared by in
// an ecosystem: PyPI names are PEP 503-normalized (lower case, runs of "-",
// "_" and "." become "-"); other ecosystems compare names as written.
func NormalizeName(ecosystem, name string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	if base != "PyPI" {
		return name
	}
	var b strings.Builder
	inSep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			if !inSep {
				b.WriteByte('-')
				inSep = true
			}
			continue
		}
		inSep = false
		b.WriteRune(r)
	}
	return b.String()
}
