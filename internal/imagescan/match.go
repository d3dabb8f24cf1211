package imagescan

import (
	"fmt"
	"slices"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/match"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// MatchOptions configures Match.
type MatchOptions struct {
	// IgnoreUnfixed drops vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// VEX statements suppress the findings they mark not_affected/fixed.
	VEX *policy.VEX
	// Now and MaxAge decide whether the report warns that the database
	// is stale; MaxAge 0 never warns.
	Now    time.Time
	MaxAge time.Duration
	// Only, when set, restricts matching to the packages it accepts
	// (--vuln-type os or library); the report keeps every package and
	// gets OnlyNote as a note.
	Only     func(inventory.Package) bool
	OnlyNote string
}

// Match matches rep.Packages (with rep.OS) against db and appends the
// findings to rep, after IgnoreUnfixed and the VEX statements. Image scans
// then trace them to layers with Result.Attribute; SBOM scans call Match
// on their own report.
func Match(db *vulndb.DB, rep *finding.Report, o MatchOptions) error {
	pkgs := rep.Packages
	if o.Only != nil {
		pkgs = slices.DeleteFunc(slices.Clone(pkgs), func(p inventory.Package) bool { return !o.Only(p) })
		if o.OnlyNote != "" {
			rep.Notes = append(rep.Notes, o.OnlyNote)
		}
	}
	res, err := match.Match(db, rep.OS, pkgs, match.Options{IgnoreUnfixed: o.IgnoreUnfixed})
	if err != nil {
		return fmt.Errorf("match vulnerabilities: %w", err)
	}
	vulns := &finding.Report{Target: rep.Target, Image: rep.Image, Findings: res.Findings, Suppressed: res.Suppressed}
	o.VEX.Apply(vulns)
	rep.Findings = append(rep.Findings, vulns.Findings...)
	rep.Suppressed = append(rep.Suppressed, vulns.Suppressed...)
	rep.Notes = append(rep.Notes, res.Notes...)
	if note := db.Meta().StaleNote(o.Now, o.MaxAge); note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	return nil
}
