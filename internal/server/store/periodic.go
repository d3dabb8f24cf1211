package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/finding"
)

// staleLock serializes the periodic rescan's queueing across processes.
const staleLock = 0x6b656e736173 // "kensas"

// QueueStaleRescans queues a rematch job for up to limit image references
// whose latest scan is older than olderThan, oldest first, skipping those
// with a job queued or running. It returns the number queued; 0 also
// when another process is queueing at the moment.
func (s *Store) QueueStaleRescans(ctx context.Context, olderThan time.Duration, limit, maxAttempts int) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", staleLock).Scan(&locked); err != nil || !locked {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.reference FROM images i JOIN scans sc ON sc.id = i.scan_id
			WHERE sc.created_at < now() - $1::interval
				AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.reference = i.reference AND j.state IN ('queued', 'running'))
			ORDER BY sc.created_at, i.reference LIMIT $2`, olderThan.String(), limit)
		if err != nil {
			return err
		}
		refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		regs := make([]string, len(refs))
		for i, r := range refs {
			regs[i] = RegistryOf(r)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO jobs (reference, registry, kind, max_attempts)
			SELECT r, g, 'rematch', $3 FROM unnest($1::text[], $2::text[]) AS x(r, g)`, refs, regs, max(maxAttempts, 1))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue periodic rescans: %w", err)
	}
	return int(n), nil
}

// StoredImage is an image reference's latest scan as stored.
type StoredImage struct {
	ScanID int64
	// Layers are the scanned image's layers (digest and DiffID).
	Layers []finding.LayerInfo
	// LayerKeys are the layer store keys its manifest references, in
	// order.
	LayerKeys []string
}

// LatestScan returns what the store holds of reference's latest scan.
func (s *Store) LatestScan(ctx context.Context, ref string) (*StoredImage, error) {
	var rb []byte
	var mid int64
	im := &StoredImage{}
	err := s.pool.QueryRow(ctx, `SELECT i.scan_id, sc.report, sc.manifest_id FROM images i JOIN scans sc ON sc.id = i.scan_id
		WHERE i.reference = $1`, ref).Scan(&im.ScanID, &rb, &mid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	var rep struct {
		Image *finding.ImageInfo `json:"image"`
	}
	if err := json.Unmarshal(rb, &rep); err != nil {
		return nil, fmt.Errorf("image %s: stored report: %w", ref, err)
	}
	if rep.Image != nil {
		im.Layers = rep.Image.Layers
	}
	rows, err := s.pool.Query(ctx, "SELECT layer_key FROM manifest_layers WHERE manifest_id = $1 ORDER BY idx", mid)
	if err != nil {
		return nil, fmt.Errorf("image %s: layers: %w", ref, err)
	}
	if im.LayerKeys, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("image %s: layers: %w", ref, err)
	}
	return im, nil
}

// SaveRematch records, in tx, a new scan of the image whose latest scan
// is scanID: the same report and package set, the set re-matched by match
// unless it was already matched against a database built at dbBuilt or
// later (a zero dbBuilt: no database, no re-match). It returns the new
// scan's ID. No layer and no registry is read.
func SaveRematch(ctx context.Context, tx pgx.Tx, scanID int64, dbBuilt time.Time, match func(*PackageSet) (Vulns, error)) (int64, error) {
	if err := lockSetsShared(ctx, tx); err != nil {
		return 0, err
	}
	var setHash []byte
	var ref string
	if err := tx.QueryRow(ctx, "SELECT set_hash, reference FROM scans WHERE id = $1", scanID).Scan(&setHash, &ref); err != nil {
		return 0, fmt.Errorf("scan %d: %w", scanID, err)
	}
	if setHash != nil && !dbBuilt.IsZero() {
		var ids []int64
		var osb []byte
		var built *time.Time
		err := tx.QueryRow(ctx, "SELECT package_ids, os, db_built FROM package_sets WHERE hash = $1 FOR UPDATE", setHash).Scan(&ids, &osb, &built)
		if err != nil {
			return 0, fmt.Errorf("scan %d: package set: %w", scanID, err)
		}
		if built == nil || built.Before(dbBuilt) {
			set, err := loadSet(ctx, tx, setHash)
			if err != nil {
				return 0, fmt.Errorf("scan %d: %w", scanID, err)
			}
			v, err := match(set)
			if err != nil {
				return 0, err
			}
			if err := putVulns(ctx, tx, setHash, ids, osb, v); err != nil {
				return 0, err
			}
		}
	}
	var sid int64
	err := tx.QueryRow(ctx, `INSERT INTO scans (manifest_id, reference, set_hash, report)
		SELECT manifest_id, reference, set_hash, report FROM scans WHERE id = $1 RETURNING id`, scanID).Scan(&sid)
	if err != nil {
		return 0, fmt.Errorf("save rescan of %s: %w", ref, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO scan_criticals (scan_id, fingerprint, finding)
		SELECT $1, fingerprint, finding FROM scan_criticals WHERE scan_id = $2`, sid, scanID); err != nil {
		return 0, fmt.Errorf("save rescan of %s: %w", ref, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE images SET scan_id = $2, updated_at = now() WHERE reference = $1", ref, sid); err != nil {
		return 0, fmt.Errorf("save rescan of %s: %w", ref, err)
	}
	return sid, nil
}

// lockSetsShared takes the lock every writer of package sets and scans
// holds, which retention GC's deletion excludes (GC takes it exclusive):
// a set being saved never loses its packages to a concurrent GC.
func lockSetsShared(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "LOCK TABLE package_sets IN ROW EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock package sets: %w", err)
	}
	return nil
}
