package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/imagescan"
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

// matchVulns opens the database the flags name and matches rep against it
// (imagescan.Match) with --ignore-unfixed, --vex and the policy's database
// age limit. Without a database, a default vuln scanner becomes a loud
// note; an explicitly requested one is an input error.
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
	maxAge := policy.DefaultDBMaxAge
	if p, err := loadPolicy(o, o.targetDir); err == nil && p.Config != nil {
		maxAge = p.Config.DBMaxAge()
	}
	return imagescan.Match(db, rep, imagescan.MatchOptions{
		IgnoreUnfixed: o.IgnoreUnfixed, VEX: vx, Now: o.clock(), MaxAge: maxAge,
		Only: o.Trivy.matchPackage(), OnlyNote: o.Trivy.vulnTypeNote(),
	})
}
