package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// Vulns is what matching a package set against the vulnerability database
// gave: findings (located by layer digest and index) and notes.
type Vulns struct {
	Findings []finding.Finding `json:"findings"`
	Notes    []string          `json:"notes,omitempty"`
	// DBBuilt is the build time of the database matched against (zero:
	// none).
	DBBuilt time.Time `json:"db_built,omitzero"`
}

// ScanInput is one finished image scan to record.
type ScanInput struct {
	// Reference is what was scanned (registry reference or upload name).
	Reference string
	// Digest is the image's manifest digest.
	Digest string
	// LayerKeys are the layerfs cache keys of the image's layers, in order.
	LayerKeys []string
	// Report is the scan's report; its Packages and OS go into the
	// package set, its other findings stay with the scan.
	Report *finding.Report
	// Vulns are the vulnerability findings of Report.Packages.
	Vulns Vulns
}

// SaveScan records a scan in tx: the manifest and its layers, the package
// set and its vulnerabilities, the scan (report without packages and
// vulnerabilities) and the image reference's latest result. It returns the
// scan's ID.
func SaveScan(ctx context.Context, tx pgx.Tx, in ScanInput) (int64, error) {
	if err := lockSetsShared(ctx, tx); err != nil {
		return 0, err
	}
	setHash, err := putPackageSet(ctx, tx, in.Report.OS, in.Report.Packages, in.Vulns)
	if err != nil {
		return 0, err
	}
	var mid int64
	err = tx.QueryRow(ctx, `INSERT INTO manifests (digest) VALUES ($1)
		ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest RETURNING id`, in.Digest).Scan(&mid)
	if err != nil {
		return 0, fmt.Errorf("save manifest %s: %w", in.Digest, err)
	}
	for i, k := range in.LayerKeys {
		if _, err := tx.Exec(ctx, `INSERT INTO manifest_layers (manifest_id, idx, layer_key) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, mid, i, k); err != nil {
			return 0, fmt.Errorf("save manifest %s layer %d: %w", in.Digest, i, err)
		}
	}
	rep := *in.Report
	rep.Packages, rep.OS = nil, nil
	rep.Summary = finding.Summary{}
	rb, err := json.Marshal(&rep)
	if err != nil {
		return 0, fmt.Errorf("encode report: %w", err)
	}
	var sid int64
	err = tx.QueryRow(ctx, `INSERT INTO scans (manifest_id, reference, set_hash, report) VALUES ($1, $2, $3, $4) RETURNING id`,
		mid, in.Reference, setHash, rb).Scan(&sid)
	if err != nil {
		return 0, fmt.Errorf("save scan of %s: %w", in.Reference, err)
	}
	if err := saveCriticals(ctx, tx, sid, rep.Findings); err != nil {
		return 0, fmt.Errorf("save scan of %s: %w", in.Reference, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO images (reference, manifest_id, scan_id) VALUES ($1, $2, $3)
		ON CONFLICT (reference) DO UPDATE SET manifest_id = excluded.manifest_id, scan_id = excluded.scan_id, updated_at = now()`,
		in.Reference, mid, sid)
	if err != nil {
		return 0, fmt.Errorf("save image %s: %w", in.Reference, err)
	}
	return sid, nil
}

// saveCriticals records the CRITICAL findings among fs (a report's own,
// without its vulnerabilities) for scan sid, for the notifier. Suppressed
// findings (ignore file, VEX, policy) are left out.
func saveCriticals(ctx context.Context, tx pgx.Tx, sid int64, fs []finding.Finding) error {
	for _, f := range fs {
		if f.Severity != finding.SeverityCritical || f.Suppressed != nil || f.Kind == finding.KindVuln {
			continue
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode finding %s: %w", f.ID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scan_criticals (scan_id, fingerprint, finding) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, sid, finding.Fingerprint(f), b); err != nil {
			return fmt.Errorf("record critical finding %s: %w", f.ID, err)
		}
	}
	return nil
}

// putPackageSet stores pkgs (each once) and their set, and returns the
// set's hash: sha256 of the OS and the sorted package hashes. A set
// already stored and matched against the same database (or a newer one)
// is left alone, so the many images on one base cost one lookup.
func putPackageSet(ctx context.Context, tx pgx.Tx, osInfo *inventory.OS, pkgs []inventory.Package, v Vulns) ([]byte, error) {
	type enc struct {
		p inventory.Package
		b []byte
		h [32]byte
	}
	encs := make([]enc, 0, len(pkgs))
	for _, p := range pkgs {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode package %s: %w", p.Key(), err)
		}
		encs = append(encs, enc{p, b, sha256.Sum256(b)})
	}
	order := make([][32]byte, len(encs)) // the report's package order
	for i, e := range encs {
		order[i] = e.h
	}
	slices.SortFunc(encs, func(a, b enc) int { return bytes.Compare(a.h[:], b.h[:]) })
	encs = slices.CompactFunc(encs, func(a, b enc) bool { return a.h == b.h })
	var osb []byte
	if osInfo != nil {
		var err error
		if osb, err = json.Marshal(osInfo); err != nil {
			return nil, fmt.Errorf("encode os: %w", err)
		}
	}
	h := sha256.New()
	h.Write(osb)
	h.Write([]byte{0})
	for _, e := range encs {
		h.Write(e.h[:])
	}
	hash := h.Sum(nil)
	var ids []int64
	var built *time.Time
	err := tx.QueryRow(ctx, "SELECT package_ids, db_built FROM package_sets WHERE hash = $1", hash).Scan(&ids, &built)
	switch {
	case err == nil:
		// Matched against this database or a newer one (another node
		// updated first): keep that result.
		if built != nil && !v.DBBuilt.After(*built) {
			return hash, nil
		}
		return hash, putVulns(ctx, tx, hash, ids, osb, v)
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("package set: %w", err)
	}
	batch := &pgx.Batch{}
	for _, e := range encs {
		eco := baseEcosystem(e.p)
		src := ""
		if e.p.SourceName != "" {
			src = vulndb.NormalizeName(eco, e.p.SourceName)
		}
		// DO NOTHING, not an update: a conflicting update would leave a
		// dead row version behind for every image scanned at once.
		batch.Queue(`INSERT INTO packages (hash, ecosystem, name, source_name, data) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (hash) DO NOTHING RETURNING id`,
			e.h[:], eco, vulndb.NormalizeName(eco, e.p.Name), src, e.b)
	}
	br := tx.SendBatch(ctx, batch)
	var missing [][]byte
	idOf := make(map[[32]byte]int64, len(encs))
	for _, e := range encs {
		var id int64
		err := br.QueryRow().Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			missing = append(missing, e.h[:])
		case err != nil:
			br.Close()
			return nil, fmt.Errorf("save package %s: %w", e.p.Key(), err)
		default:
			idOf[e.h] = id
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("save packages: %w", err)
	}
	if len(missing) > 0 {
		// Stored before (or by a transaction that committed meanwhile:
		// this statement's snapshot sees it).
		rows, err := tx.Query(ctx, "SELECT hash, id FROM packages WHERE hash = ANY($1)", missing)
		if err != nil {
			return nil, fmt.Errorf("save packages: %w", err)
		}
		n := 0
		for rows.Next() {
			var h []byte
			var id int64
			if err := rows.Scan(&h, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("save packages: %w", err)
			}
			if len(h) == 32 {
				idOf[[32]byte(h)] = id
				n++
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("save packages: %w", err)
		}
		if n != len(missing) {
			return nil, fmt.Errorf("save packages: %d of %d stored packages not found", len(missing)-n, len(missing))
		}
	}
	// The set keeps the report's package order, so a report rebuilt from
	// the store lists them as the scan did.
	ids = make([]int64, 0, len(idOf))
	seen := make(map[int64]bool, len(idOf))
	for _, h := range order {
		id := idOf[h]
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return hash, putVulns(ctx, tx, hash, ids, osb, v)
}

// putVulns stores (or replaces) a package set's vulnerabilities and the
// advisory index that finds the set by advisory ID.
func putVulns(ctx context.Context, tx pgx.Tx, hash []byte, ids []int64, osb []byte, v Vulns) error {
	vb, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode vulnerabilities: %w", err)
	}
	var built *time.Time
	if !v.DBBuilt.IsZero() {
		built = &v.DBBuilt
	}
	_, err = tx.Exec(ctx, `INSERT INTO package_sets (hash, package_ids, os, vulns, db_built) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hash) DO UPDATE SET vulns = excluded.vulns, db_built = excluded.db_built, matched_at = now()`, hash, ids, osb, vb, built)
	if err != nil {
		return fmt.Errorf("save package set: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM set_advisories WHERE set_hash = $1", hash); err != nil {
		return fmt.Errorf("save package set advisories: %w", err)
	}
	worst := map[string]finding.Severity{}
	for _, f := range v.Findings {
		if s, ok := worst[f.ID]; !ok || f.Severity > s {
			worst[f.ID] = f.Severity
		}
	}
	for id, sev := range worst {
		if _, err := tx.Exec(ctx, "INSERT INTO set_advisories (set_hash, advisory_id, severity) VALUES ($1, $2, $3)", hash, id, sev.String()); err != nil {
			return fmt.Errorf("save package set advisories: %w", err)
		}
	}
	return nil
}

// baseEcosystem is the OSV ecosystem without release that a package is
// looked up in.
func baseEcosystem(p inventory.Package) string {
	eco, _, _ := strings.Cut(p.Ecosystem, ":")
	if eco == "" {
		eco = map[string]string{
			"deb": "Debian", "apk": "Alpine", "npm": "npm", "pypi": "PyPI", "golang": "Go",
			"maven": "Maven", "gem": "RubyGems", "cargo": "crates.io", "composer": "Packagist", "nuget": "NuGet",
		}[p.Type]
	}
	return eco
}

// Report assembles scan id's report as the CLI writes it: the stored
// report with its package set's OS, packages and vulnerabilities, every
// vulnerability traced to its layer and history step.
func (s *Store) Report(ctx context.Context, id int64) (*finding.Report, error) {
	var rb, setHash []byte
	err := s.pool.QueryRow(ctx, "SELECT report, set_hash FROM scans WHERE id = $1", id).Scan(&rb, &setHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scan %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %d: %w", id, err)
	}
	rep := &finding.Report{}
	if err := json.Unmarshal(rb, rep); err != nil {
		return nil, fmt.Errorf("scan %d: stored report: %w", id, err)
	}
	if setHash != nil {
		set, err := loadSet(ctx, s.pool, setHash)
		if err != nil {
			return nil, fmt.Errorf("scan %d: %w", id, err)
		}
		rep.OS = set.OS
		rep.Packages = set.Packages
		rep.Findings = append(rep.Findings, set.Vulns.Findings...)
		rep.Notes = append(rep.Notes, set.Vulns.Notes...)
	}
	locate(rep)
	return rep, nil
}

// locate sets every package's and vulnerability's layer index and step
// from the image's layers, by layer digest.
func locate(rep *finding.Report) {
	if rep.Image == nil {
		return
	}
	byDigest := map[string]finding.LayerInfo{}
	for _, l := range rep.Image.Layers {
		if _, ok := byDigest[l.Digest]; !ok {
			byDigest[l.Digest] = l
		}
	}
	for i := range rep.Packages {
		if l, ok := byDigest[rep.Packages[i].LayerDigest]; ok {
			rep.Packages[i].Layer = l.Index
		}
	}
	for i := range rep.Findings {
		loc := &rep.Findings[i].Location
		if l, ok := byDigest[loc.Layer]; ok && rep.Findings[i].Kind == finding.KindVuln {
			loc.LayerIndex = finding.IntPtr(l.Index)
			if loc.Step == "" {
				loc.Step = l.Step
			}
		}
	}
}

// PackageSet is a stored package set.
type PackageSet struct {
	Hash     []byte
	OS       *inventory.OS
	Packages []inventory.Package
	Vulns    Vulns
}

// rowQuerier runs queries (a pool or a transaction).
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func loadSet(ctx context.Context, q rowQuerier, hash []byte) (*PackageSet, error) {
	var osb, vb []byte
	var ids []int64
	err := q.QueryRow(ctx, "SELECT package_ids, os, vulns FROM package_sets WHERE hash = $1", hash).Scan(&ids, &osb, &vb)
	if err != nil {
		return nil, fmt.Errorf("package set: %w", err)
	}
	set := &PackageSet{Hash: hash}
	if osb != nil {
		set.OS = &inventory.OS{}
		if err := json.Unmarshal(osb, set.OS); err != nil {
			return nil, fmt.Errorf("package set os: %w", err)
		}
	}
	if err := json.Unmarshal(vb, &set.Vulns); err != nil {
		return nil, fmt.Errorf("package set vulnerabilities: %w", err)
	}
	// In the set's order (the report's), not the ids'.
	rows, err := q.Query(ctx, `SELECT p.data FROM unnest($1::bigint[]) WITH ORDINALITY AS s(id, n)
		JOIN packages p ON p.id = s.id ORDER BY s.n`, ids)
	if err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("packages: %w", err)
		}
		var p inventory.Package
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("stored package: %w", err)
		}
		set.Packages = append(set.Packages, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	return set, nil
}

// Image is one image reference and its latest scan.
type Image struct {
	Reference string         `json:"reference"`
	Digest    string         `json:"digest"`
	ScanID    int64          `json:"scan_id"`
	Scanned   time.Time      `json:"scanned_at"`
	Counts    map[string]int `json:"vulnerabilities,omitempty"`
	Severity  string         `json:"severity,omitempty"` // of the matched advisory (AffectedBy)
}

// Images lists image references with their digests, latest scan and
// vulnerability counts by severity, by reference.
func (s *Store) Images(ctx context.Context, limit, offset int) ([]Image, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.reference, m.digest, i.scan_id, i.updated_at,
			coalesce((SELECT json_object_agg(sev, n) FROM (SELECT severity AS sev, count(*) AS n FROM set_advisories a WHERE a.set_hash = sc.set_hash GROUP BY severity) c), '{}')
		FROM images i JOIN manifests m ON m.id = i.manifest_id JOIN scans sc ON sc.id = i.scan_id
		ORDER BY i.reference LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return collectImages(rows)
}

// AffectedBy lists the image references whose latest scan has a finding
// for advisory id.
func (s *Store) AffectedBy(ctx context.Context, id string) ([]Image, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.reference, m.digest, i.scan_id, i.updated_at, '{}'::json, a.severity
		FROM set_advisories a JOIN scans sc ON sc.set_hash = a.set_hash JOIN images i ON i.scan_id = sc.id
		JOIN manifests m ON m.id = i.manifest_id
		WHERE a.advisory_id = $1 ORDER BY i.reference`, id)
	if err != nil {
		return nil, fmt.Errorf("images affected by %s: %w", id, err)
	}
	return collectImages(rows)
}

func collectImages(rows pgx.Rows) ([]Image, error) {
	defer rows.Close()
	out := []Image{}
	for rows.Next() {
		var im Image
		var counts []byte
		var sev *string
		dest := []any{&im.Reference, &im.Digest, &im.ScanID, &im.Scanned, &counts}
		if len(rows.FieldDescriptions()) > 5 {
			dest = append(dest, &sev)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		if len(counts) > 2 {
			if err := json.Unmarshal(counts, &im.Counts); err != nil {
				return nil, fmt.Errorf("images: %w", err)
			}
		}
		if sev != nil {
			im.Severity = *sev
		}
		out = append(out, im)
	}
	return out, rows.Err()
}
