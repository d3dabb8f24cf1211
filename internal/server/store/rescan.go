package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// PackageName is an ecosystem (without release, "Debian", "npm") and a
// package name as an advisory names it.
type PackageName struct {
	Ecosystem string
	Name      string
}

// SetsNaming returns the hashes of the package sets holding a package
// that names (by name or by source package name) is about.
func (s *Store) SetsNaming(ctx context.Context, names []PackageName) ([][]byte, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ecos := make([]string, len(names))
	ns := make([]string, len(names))
	for i, n := range names {
		ecos[i] = n.Ecosystem
		ns[i] = vulndb.NormalizeName(n.Ecosystem, n.Name)
	}
	rows, err := s.pool.Query(ctx, `WITH q AS (SELECT * FROM unnest($1::text[], $2::text[]) AS q(eco, name)),
			p AS (SELECT array_agg(DISTINCT id) AS ids FROM packages JOIN q ON packages.ecosystem = q.eco
				AND (packages.name = q.name OR packages.source_name = q.name))
		SELECT hash FROM package_sets, p WHERE package_ids && p.ids`, ecos, ns)
	if err != nil {
		return nil, fmt.Errorf("package sets to rescan: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]byte])
}

// Rematch replaces a package set's vulnerabilities with what match
// returns for its stored packages, in one transaction: no layer is read.
func (s *Store) Rematch(ctx context.Context, hash []byte, match func(*PackageSet) (Vulns, error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSetsShared(ctx, tx); err != nil {
			return err
		}
		var ids []int64
		var osb []byte
		if err := tx.QueryRow(ctx, "SELECT package_ids, os FROM package_sets WHERE hash = $1 FOR UPDATE", hash).Scan(&ids, &osb); err != nil {
			return fmt.Errorf("package set: %w", err)
		}
		set, err := loadSet(ctx, tx, hash)
		if err != nil {
			return err
		}
		v, err := match(set)
		if err != nil {
			return err
		}
		return putVulns(ctx, tx, hash, ids, osb, v)
	})
}

// ImagesOfSets counts the image references whose latest scan has one of
// the package sets.
func (s *Store) ImagesOfSets(ctx context.Context, hashes [][]byte) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM images i JOIN scans sc ON sc.id = i.scan_id WHERE sc.set_hash = ANY($1)`, hashes).Scan(&n)
	return n, err
}
