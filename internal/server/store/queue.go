package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// KindRematch is the kind of a periodic rescan job: it re-matches the
// latest scan's stored packages (a scan job's kind is empty).
const KindRematch = "rematch"

// Job is one queued image scan.
type Job struct {
	ID          int64      `json:"id"`
	Reference   string     `json:"reference"`
	Kind        string     `json:"kind,omitempty"`
	Upload      bool       `json:"upload,omitempty"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"max_attempts"`
	Error       string     `json:"error,omitempty"`
	ScanID      int64      `json:"scan_id,omitempty"`
	Created     time.Time  `json:"created_at"`
	Finished    *time.Time `json:"finished_at,omitempty"`
	uploadID    *int64
}

// Enqueue queues a scan of an image reference and returns the job's ID.
func (s *Store) Enqueue(ctx context.Context, ref string, maxAttempts int) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, "INSERT INTO jobs (reference, max_attempts, registry) VALUES ($1, $2, $3) RETURNING id", ref, max(maxAttempts, 1), RegistryOf(ref)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", ref, err)
	}
	return id, nil
}

// EnqueueUpload stores an uploaded image archive and queues its scan.
func (s *Store) EnqueueUpload(ctx context.Context, name string, data []byte, maxAttempts int) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var up int64
		if err := tx.QueryRow(ctx, "INSERT INTO uploads (name, data) VALUES ($1, $2) RETURNING id", name, data).Scan(&up); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "INSERT INTO jobs (reference, upload_id, max_attempts) VALUES ($1, $2, $3) RETURNING id", name, up, max(maxAttempts, 1)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue upload %s: %w", name, err)
	}
	return id, nil
}

const jobColumns = "id, reference, kind, upload_id, state, attempts, max_attempts, coalesce(error, ''), coalesce(scan_id, 0), created_at, finished_at"

func scanJob(row pgx.Row) (*Job, error) {
	j := &Job{}
	err := row.Scan(&j.ID, &j.Reference, &j.Kind, &j.uploadID, &j.State, &j.Attempts, &j.MaxAttempts, &j.Error, &j.ScanID, &j.Created, &j.Finished)
	if err != nil {
		return nil, err
	}
	j.Upload = j.uploadID != nil
	if j.Kind == "scan" {
		j.Kind = ""
	}
	return j, nil
}

// Job returns job id.
func (s *Store) Job(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", id, err)
	}
	return j, nil
}

// Dequeue takes the oldest runnable job for worker: a queued job whose
// backoff has passed, or a running job whose lease expired (its worker
// died). The job is leased to worker until now+lease; the worker extends
// the lease with Heartbeat while it runs. It returns nil when no job is
// ready.
func (s *Store) Dequeue(ctx context.Context, worker string, lease time.Duration) (*Job, error) {
	return s.DequeueWithin(ctx, worker, lease, RegistryLimits{})
}

func (s *Store) dequeueAny(ctx context.Context, worker string, lease time.Duration) (*Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $1,
			lease_until = now() + $2::interval
		WHERE id = (SELECT id FROM jobs
			WHERE (state = 'queued' AND run_after <= now()) OR (state = 'running' AND lease_until < now())
			ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, worker, lease.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dequeue: %w", err)
	}
	return j, nil
}

// Heartbeat extends a running job's lease; it returns false when the job
// is no longer this attempt's (its lease expired and another worker took
// it).
func (s *Store) Heartbeat(ctx context.Context, j *Job, worker string, lease time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET lease_until = now() + $4::interval
		WHERE id = $1 AND state = 'running' AND worker = $2 AND attempts = $3`, j.ID, worker, j.Attempts, lease.String())
	if err != nil {
		return false, fmt.Errorf("job %d: heartbeat: %w", j.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Upload returns the archive a job scans.
func (s *Store) Upload(ctx context.Context, j *Job) ([]byte, error) {
	if j.uploadID == nil {
		return nil, fmt.Errorf("job %d: no upload", j.ID)
	}
	var b []byte
	if err := s.pool.QueryRow(ctx, "SELECT data FROM uploads WHERE id = $1", *j.uploadID).Scan(&b); err != nil {
		return nil, fmt.Errorf("job %d: upload: %w", j.ID, err)
	}
	return b, nil
}

// ErrLeaseLost is returned by Complete and Fail when the job's lease
// passed to another worker: this attempt's result is dropped, so a job's
// result is recorded once.
var ErrLeaseLost = errors.New("job lease lost to another worker")

// Complete records a job's result with save, in one transaction that also
// marks the job done, only if this attempt still holds the job.
func (s *Store) Complete(ctx context.Context, j *Job, worker string, save func(tx pgx.Tx) (scanID int64, err error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT true FROM jobs WHERE id = $1 AND state = 'running' AND worker = $2 AND attempts = $3 FOR UPDATE`,
			j.ID, worker, j.Attempts).Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("job %d: %w", j.ID, ErrLeaseLost)
		}
		if err != nil {
			return fmt.Errorf("job %d: %w", j.ID, err)
		}
		sid, err := save(tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = 'done', scan_id = $2, error = NULL, finished_at = now(), lease_until = NULL WHERE id = $1`, j.ID, sid); err != nil {
			return fmt.Errorf("job %d: %w", j.ID, err)
		}
		if j.uploadID != nil {
			if _, err := tx.Exec(ctx, "DELETE FROM uploads WHERE id = $1", *j.uploadID); err != nil {
				return fmt.Errorf("job %d: drop upload: %w", j.ID, err)
			}
		}
		return nil
	})
}

// Fail records a failed attempt: with permanent (bad input) or when the
// attempts are used up the job fails with msg; otherwise it is queued again
// after backoff.
func (s *Store) Fail(ctx context.Context, j *Job, worker, msg string, permanent bool, backoff time.Duration) error {
	state, runAfter := JobQueued, backoff
	if permanent || j.Attempts >= j.MaxAttempts {
		state = JobFailed
	}
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET state = $4, error = $5, run_after = now() + $6::interval, lease_until = NULL,
			finished_at = CASE WHEN $4 = 'failed' THEN now() END
		WHERE id = $1 AND state = 'running' AND worker = $2 AND attempts = $3`, j.ID, worker, j.Attempts, state, msg, runAfter.String())
	if err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("job %d: %w", j.ID, ErrLeaseLost)
	}
	if state == JobFailed && j.uploadID != nil {
		if _, err := s.pool.Exec(ctx, "DELETE FROM uploads WHERE id = $1", *j.uploadID); err != nil {
			return fmt.Errorf("job %d: drop upload: %w", j.ID, err)
		}
	}
	return nil
}

// JobCounts counts jobs by state.
func (s *Store) JobCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, "SELECT state, count(*) FROM jobs GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{JobQueued: 0, JobRunning: 0, JobDone: 0, JobFailed: 0}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Requeue gives back a job whose attempt was interrupted by something
// other than its image (the database went away): the job is queued again
// at once and the attempt is not counted. It returns ErrLeaseLost when the
// attempt no longer holds the job (its result was committed after all, or
// another worker took it).
func (s *Store) Requeue(ctx context.Context, j *Job, worker string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = now(), lease_until = NULL, worker = NULL
		WHERE id = $1 AND state = 'running' AND worker = $2 AND attempts = $3`, j.ID, worker, j.Attempts)
	if err != nil {
		return fmt.Errorf("job %d: requeue: %w", j.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("job %d: %w", j.ID, ErrLeaseLost)
	}
	return nil
}
