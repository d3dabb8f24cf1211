package imagescan

import (
	"fmt"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
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
}

// Match matches rep.Packages (with rep.OS) against db and appends the
// findings to rep, after IgnoreUnfixed and the VEX statements. Image scans
// then trace them to layers with Result.Attribute; SBOM scans call Match
// on their own report.
func Match(db *vulndb.DB, rep *finding.Report, o MatchOptions) error {
	res, err := match.Match(db, rep.OS, rep.Packages, match.Options{IgnoreUnfixed: o.IgnoreUnfixed})
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
