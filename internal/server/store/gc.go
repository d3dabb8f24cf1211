package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// GCPolicy is the retention policy of GC.
type GCPolicy struct {
	// KeepScans is how many scans of each image reference are kept,
	// newest first (default 10; an image's latest scan is always kept).
	KeepScans int `json:"keep_scans"`
	// MaxAge drops older scans (but an image's latest), failed jobs and
	// finished notifications (0: no age limit; finished notifications
	// then go after 30 days).
	MaxAge time.Duration `json:"max_age"`
	// LayerGrace keeps an unreferenced layer younger than this (default
	// 1h; negative: none): a scan in progress stores its layers before
	// its manifest.
	LayerGrace time.Duration `json:"layer_grace"`
}

func (p GCPolicy) withDefaults() GCPolicy {
	if p.KeepScans < 1 {
		p.KeepScans = 10
	}
	if p.LayerGrace < 0 {
		p.LayerGrace = 0
	} else if p.LayerGrace == 0 {
		p.LayerGrace = time.Hour
	}
	return p
}

// GCResult counts what GC deleted.
type GCResult struct {
	Scans         int64         `json:"scans"`
	Jobs          int64         `json:"jobs"`
	Uploads       int64         `json:"uploads"`
	Notifications int64         `json:"notifications"`
	Manifests     int64         `json:"manifests"`
	PackageSets   int64         `json:"package_sets"`
	Packages      int64         `json:"packages"`
	Layers        int64         `json:"layers"`
	Took          time.Duration `json:"took_ns"`
}

// GC applies the retention policy: it drops scans beyond the newest
// KeepScans of each image reference and scans older than MaxAge (never an
// image's latest), the jobs whose results went with them, old failed jobs
// and finished notifications, orphaned uploads, and then what no kept
// scan references any more: manifests, package sets, packages, and layers
// no manifest references. Scans saved meanwhile wait for the second part
// (it holds package_sets exclusive against their shared lock), so none
// loses a package or a manifest it is being saved with.
func (s *Store) GC(ctx context.Context, p GCPolicy) (GCResult, error) {
	p = p.withDefaults()
	t0 := time.Now()
	var res GCResult
	var age *string
	if p.MaxAge > 0 {
		a := p.MaxAge.String()
		age = &a
	}
	notifAge := (30 * 24 * time.Hour).String()
	if age != nil {
		notifAge = *age
	}
	exec := func(tx pgx.Tx, n *int64, what, sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("gc %s: %w", what, err)
		}
		*n += tag.RowsAffected()
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := exec(tx, &res.Scans, "scans", `DELETE FROM scans s USING (
				SELECT id, row_number() OVER (PARTITION BY reference ORDER BY id DESC) AS rn FROM scans) r
			WHERE s.id = r.id AND NOT EXISTS (SELECT 1 FROM images i WHERE i.scan_id = s.id)
				AND (r.rn > $1 OR ($2::interval IS NOT NULL AND s.created_at < now() - $2::interval))`, p.KeepScans, age); err != nil {
			return err
		}
		if err := exec(tx, &res.Jobs, "jobs", `DELETE FROM jobs WHERE state = 'done' AND scan_id IS NULL`); err != nil {
			return err
		}
		if err := exec(tx, &res.Jobs, "jobs", `DELETE FROM jobs j USING (
				SELECT id, row_number() OVER (PARTITION BY reference ORDER BY id DESC) AS rn FROM jobs WHERE state = 'failed') r
			WHERE j.id = r.id AND (r.rn > $1 OR ($2::interval IS NOT NULL AND j.finished_at < now() - $2::interval))`, p.KeepScans, age); err != nil {
			return err
		}
		if err := exec(tx, &res.Uploads, "uploads", `DELETE FROM uploads u WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.upload_id = u.id)`); err != nil {
			return err
		}
		return exec(tx, &res.Notifications, "notifications", `DELETE FROM notifications
			WHERE coalesce(delivered_at, failed_at) < now() - $1::interval`, notifAge)
	})
	if err != nil {
		return res, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE package_sets IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("gc: lock package sets: %w", err)
		}
		if err := exec(tx, &res.Manifests, "manifests", `DELETE FROM manifests m
			WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.manifest_id = m.id) AND NOT EXISTS (SELECT 1 FROM images i WHERE i.manifest_id = m.id)`); err != nil {
			return err
		}
		if err := exec(tx, &res.PackageSets, "package sets", `DELETE FROM package_sets p WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.set_hash = p.hash)`); err != nil {
			return err
		}
		if err := exec(tx, &res.Packages, "packages", `WITH used AS (SELECT DISTINCT unnest(package_ids) AS id FROM package_sets)
			DELETE FROM packages p WHERE NOT EXISTS (SELECT 1 FROM used WHERE used.id = p.id)`); err != nil {
			return err
		}
		return exec(tx, &res.Layers, "layers", `DELETE FROM layers l WHERE NOT EXISTS (SELECT 1 FROM manifest_layers ml WHERE ml.layer_key = l.key)
			AND l.created_at < now() - $1::interval`, p.LayerGrace.String())
	})
	res.Took = time.Since(t0)
	return res, err
}
