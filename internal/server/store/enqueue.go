package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// EnqueueOnce queues a scan of an image reference unless one is already
// queued, or, for a reference by digest (which names fixed content),
// running; it returns the job's ID and whether it was queued now.
// Concurrent calls for one reference queue one job.
func (s *Store) EnqueueOnce(ctx context.Context, ref string, maxAttempts int) (id int64, created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('kensa-enqueue' || $1, 0))", ref); err != nil {
			return err
		}
		states := []string{JobQueued}
		if strings.Contains(ref, "@") {
			states = append(states, JobRunning)
		}
		err := tx.QueryRow(ctx, `SELECT id FROM jobs WHERE reference = $1 AND upload_id IS NULL AND state = ANY($2)
			ORDER BY id LIMIT 1`, ref, states).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		created = true
		return tx.QueryRow(ctx, "INSERT INTO jobs (reference, max_attempts, registry) VALUES ($1, $2, $3) RETURNING id", ref, max(maxAttempts, 1), RegistryOf(ref)).Scan(&id)
	})
	if err != nil {
		return 0, false, fmt.Errorf("enqueue %s: %w", ref, err)
	}
	return id, created, nil
}
