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

// CriticalImage is one image (manifest digest) with CRITICAL findings it
// was not notified of yet: vulnerabilities, and its scan's own (secrets,
// image checks).
type CriticalImage struct {
	Digest     string
	References []string
	ScanID     int64
	// Findings are the new CRITICAL findings: vulnerabilities one per
	// advisory and package, then the others.
	Findings []finding.Finding
}

// notifyLock serializes the search for new findings across processes.
const notifyLock = 0x6b656e73616e // "kensan"

// maxNotifyFindings bounds the (image, finding) pairs one search takes;
// the rest wait for the next.
const maxNotifyFindings = 2000

// QueueCriticalNotifications finds the images whose latest scan has a
// CRITICAL finding the image was not notified of (a vulnerability, by
// advisory ID, or one of the scan's own, by fingerprint), records
// those findings as notified and queues, in the same transaction, one
// message per image built by message. It returns the number queued; 0
// also when another process is searching at the moment.
func (s *Store) QueueCriticalNotifications(ctx context.Context, message func(CriticalImage) ([]byte, error)) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", notifyLock).Scan(&locked); err != nil || !locked {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.manifest_id, m.digest, (array_agg(sc.set_hash))[1], a.advisory_id,
				array_agg(DISTINCT i.reference ORDER BY i.reference), max(i.scan_id)
			FROM images i JOIN manifests m ON m.id = i.manifest_id JOIN scans sc ON sc.id = i.scan_id
			JOIN set_advisories a ON a.set_hash = sc.set_hash AND a.severity = 'CRITICAL'
			WHERE NOT EXISTS (SELECT 1 FROM notified_findings nf WHERE nf.manifest_id = i.manifest_id AND nf.finding_id = a.advisory_id)
			GROUP BY i.manifest_id, m.digest, a.advisory_id
			ORDER BY i.manifest_id, a.advisory_id LIMIT $1`, maxNotifyFindings)
		if err != nil {
			return fmt.Errorf("new critical findings: %w", err)
		}
		type pending struct {
			mid     int64
			im      CriticalImage
			setHash []byte
			ids     map[string]bool // new CRITICAL advisories
			others  []finding.Finding
			fps     []string // fingerprints of others
		}
		var order []*pending
		byManifest := map[int64]*pending{}
		get := func(mid int64, digest string, refs []string, sid int64) *pending {
			p := byManifest[mid]
			if p == nil {
				p = &pending{mid: mid, im: CriticalImage{Digest: digest, References: refs, ScanID: sid}, ids: map[string]bool{}}
				byManifest[mid] = p
				order = append(order, p)
			}
			return p
		}
		for rows.Next() {
			var mid, sid int64
			var digest, adv string
			var set []byte
			var refs []string
			if err := rows.Scan(&mid, &digest, &set, &adv, &refs, &sid); err != nil {
				rows.Close()
				return fmt.Errorf("new critical findings: %w", err)
			}
			p := get(mid, digest, refs, sid)
			p.setHash = set
			p.ids[adv] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("new critical findings: %w", err)
		}
		// The CRITICAL findings of the scans' own reports (secrets,
		// image checks), by fingerprint.
		rows, err = tx.Query(ctx, `SELECT i.manifest_id, m.digest, c.fingerprint, (array_agg(c.finding))[1],
				array_agg(DISTINCT i.reference ORDER BY i.reference), max(i.scan_id)
			FROM images i JOIN manifests m ON m.id = i.manifest_id JOIN scan_criticals c ON c.scan_id = i.scan_id
			WHERE NOT EXISTS (SELECT 1 FROM notified_findings nf WHERE nf.manifest_id = i.manifest_id AND nf.finding_id = c.fingerprint)
			GROUP BY i.manifest_id, m.digest, c.fingerprint
			ORDER BY i.manifest_id, c.fingerprint LIMIT $1`, maxNotifyFindings)
		if err != nil {
			return fmt.Errorf("new critical findings: %w", err)
		}
		for rows.Next() {
			var mid, sid int64
			var digest, fp string
			var fb []byte
			var refs []string
			if err := rows.Scan(&mid, &digest, &fp, &fb, &refs, &sid); err != nil {
				rows.Close()
				return fmt.Errorf("new critical findings: %w", err)
			}
			var f finding.Finding
			if err := json.Unmarshal(fb, &f); err != nil {
				rows.Close()
				return fmt.Errorf("critical finding of %s: %w", digest, err)
			}
			p := get(mid, digest, refs, sid)
			p.others = append(p.others, f)
			p.fps = append(p.fps, fp)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("new critical findings: %w", err)
		}
		for _, p := range order {
			if len(p.ids) > 0 {
				var vb []byte
				if err := tx.QueryRow(ctx, "SELECT vulns FROM package_sets WHERE hash = $1", p.setHash).Scan(&vb); err != nil {
					return fmt.Errorf("package set of %s: %w", p.im.Digest, err)
				}
				var v Vulns
				if err := json.Unmarshal(vb, &v); err != nil {
					return fmt.Errorf("package set of %s: %w", p.im.Digest, err)
				}
				for _, f := range v.Findings {
					if p.ids[f.ID] && f.Severity == finding.SeverityCritical {
						p.im.Findings = append(p.im.Findings, f)
					}
				}
			}
			p.im.Findings = append(p.im.Findings, p.others...)
			ids := make([]string, 0, len(p.ids)+len(p.fps))
			for id := range p.ids {
				ids = append(ids, id)
			}
			ids = append(ids, p.fps...)
			if _, err := tx.Exec(ctx, `INSERT INTO notified_findings (manifest_id, finding_id) SELECT $1, unnest($2::text[])
				ON CONFLICT DO NOTHING`, p.mid, ids); err != nil {
				return fmt.Errorf("record notified findings of %s: %w", p.im.Digest, err)
			}
			msg, err := message(p.im)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO notifications (payload) VALUES ($1)", msg); err != nil {
				return fmt.Errorf("queue notification of %s: %w", p.im.Digest, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Notification is one outbound message to deliver.
type Notification struct {
	ID       int64
	Payload  []byte
	Attempts int // including this one
}

// NextNotification takes the oldest message due for delivery, leased for
// lease (a process that dies while delivering leaves it to another after
// that); nil when none is due.
func (s *Store) NextNotification(ctx context.Context, lease time.Duration) (*Notification, error) {
	n := &Notification{}
	err := s.pool.QueryRow(ctx, `UPDATE notifications SET attempts = attempts + 1, next_attempt = now() + $1::interval
		WHERE id = (SELECT id FROM notifications WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt <= now()
			ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id, payload, attempts`, lease.String()).Scan(&n.ID, &n.Payload, &n.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next notification: %w", err)
	}
	return n, nil
}

// NotificationDelivered marks a message delivered.
func (s *Store) NotificationDelivered(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, "UPDATE notifications SET delivered_at = now(), error = NULL WHERE id = $1", id); err != nil {
		return fmt.Errorf("notification %d: %w", id, err)
	}
	return nil
}

// NotificationFailed records a failed delivery: retried after backoff,
// or, with giveUp, not again.
func (s *Store) NotificationFailed(ctx context.Context, id int64, msg string, backoff time.Duration, giveUp bool) error {
	_, err := s.pool.Exec(ctx, `UPDATE notifications SET error = $2, next_attempt = now() + $3::interval,
			failed_at = CASE WHEN $4 THEN now() END WHERE id = $1`, id, msg, backoff.String(), giveUp)
	if err != nil {
		return fmt.Errorf("notification %d: %w", id, err)
	}
	return nil
}

// NotificationCounts counts outbound messages by state: pending,
// delivered, failed (given up).
func (s *Store) NotificationCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	var p, d, f int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
		count(*) FILTER (WHERE delivered_at IS NOT NULL), count(*) FILTER (WHERE failed_at IS NOT NULL) FROM notifications`).Scan(&p, &d, &f)
	if err != nil {
		return nil, fmt.Errorf("notification counts: %w", err)
	}
	out["pending"], out["delivered"], out["failed"] = p, d, f
	return out, nil
}
