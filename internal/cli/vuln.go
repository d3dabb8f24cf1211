package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/match"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// dbPath returns the vulnerability database file: --db, else
// <cache-dir>/db/kensa.db.
func dbPath(dbFlag, cacheDir string) (string, error) {
	if dbFlag != "" {
		return dbFlag, nil
	}
	return vulndb.DefaultPath(cacheDir)
}

// matchVulns matches rep.Packages (with rep.OS) against the vulnerability
// database and appends the findings to rep, after --ignore-unfixed and the
// --vex documents. Image and SBOM scans call it when the vuln scanner is
// enabled; the image engine attributes the findings to Dockerfile steps
// afterwards through Location.LayerIndex.
func matchVulns(ctx context.Context, o *scanOptions, rep *finding.Report, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Read the VEX documents first: a bad --vex is an input error even
	// when the image has no packages.
	vx, err := policy.LoadVEX(o.VEX)
	if err != nil {
		return &InputError{Err: err}
	}
	path, err := dbPath(o.DBPath, o.CacheDir)
	if err != nil {
		return err
	}
	db, err := vulndb.Open(path)
	if err != nil {
		if errors.Is(err, vulndb.ErrNoDB) {
			msg := fmt.Sprintf("no vulnerability database at %s: run `kensa db update` or `kensa db import`", path)
			if o.scannersSet {
				return &InputError{Err: errors.New(msg)}
			}
			// vuln is on by default: without a database the other
			// scanners still run, and the report says loudly that
			// vulnerabilities were not checked.
			note := "vulnerabilities NOT scanned: " + msg
			rep.Notes = append(rep.Notes, note)
			if !o.Quiet {
				fmt.Fprintf(stderr, "kensa: warning: %s\n", note)
			}
			return nil
		}
		return &InputError{Err: err}
	}
	defer db.Close()

	res, err := match.Match(db, rep.OS, rep.Packages, match.Options{IgnoreUnfixed: o.IgnoreUnfixed})
	if err != nil {
		return fmt.Errorf("match vulnerabilities: %w", err)
	}
	vulns := &finding.Report{Target: rep.Target, Image: rep.Image, Findings: res.Findings}
	vx.Apply(vulns)
	rep.Findings = append(rep.Findings, vulns.Findings...)
	rep.Suppressed = append(rep.Suppressed, vulns.Suppressed...)
	rep.Notes = append(rep.Notes, res.Notes...)

	maxAge := policy.DefaultDBMaxAge
	if p, err := loadPolicy(o, o.targetDir); err == nil && p.Config != nil {
		maxAge = p.Config.DBMaxAge()
	}
	if note := dbAgeNote(db.Meta(), o.clock(), maxAge); note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	return nil
}

// dbAgeNote warns when the database is older than maxAge.
func dbAgeNote(m vulndb.Meta, now time.Time, maxAge time.Duration) string {
	age := m.Age(now)
	if maxAge <= 0 || age <= maxAge {
		return ""
	}
	return fmt.Sprintf("vulnerability database is %s old (built %s, limit %s): run `kensa db update`",
		humanAge(age), m.Built.Format("2006-01-02"), humanAge(maxAge))
}

// humanAge prints a duration in days or hours.
func humanAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}
