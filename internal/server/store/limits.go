package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/jackc/pgx/v5"
)

// RegistryOf is the registry host a job on reference pulls from: "" for
// an upload or a reference that does not parse.
func RegistryOf(ref string) string {
	if strings.HasPrefix(ref, "upload:") {
		return ""
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().RegistryStr()
}

// RegistryLimits bound the jobs running at once against one registry
// host, counted over every worker process on the database.
type RegistryLimits struct {
	// PerRegistry maps a registry host (as in references: "ghcr.io",
	// "registry.example:5000", "index.docker.io") to its limit.
	PerRegistry map[string]int
	// Default is the limit of the other registries; 0 or less: none.
	Default int
}

// DequeueWithin is Dequeue that takes a job only while its registry runs
// fewer jobs than lim allows. A claim for a limited registry is made
// under a transaction-scoped advisory lock on the registry, and counts the
// running jobs with live leases after taking it, so concurrent workers in
// any process never exceed the limit.
func (s *Store) DequeueWithin(ctx context.Context, worker string, lease time.Duration, lim RegistryLimits) (*Job, error) {
	if len(lim.PerRegistry) == 0 && lim.Default <= 0 {
		return s.dequeueAny(ctx, worker, lease)
	}
	hosts := make([]string, 0, len(lim.PerRegistry))
	ns := make([]int32, 0, len(lim.PerRegistry))
	for h, n := range lim.PerRegistry {
		hosts, ns = append(hosts, h), append(ns, int32(n))
	}
	var j *Job
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Candidates: ready jobs whose registry looks below its limit
		// (rechecked under the registry's lock below).
		rows, err := tx.Query(ctx, `WITH running AS (SELECT registry, count(*) AS n FROM jobs
				WHERE state = 'running' AND lease_until >= now() AND registry <> '' GROUP BY registry)
			SELECT j.id, j.registry, coalesce(l.n, $3) FROM jobs j
			LEFT JOIN unnest($1::text[], $2::int[]) AS l(host, n) ON l.host = j.registry
			LEFT JOIN running r ON r.registry = j.registry
			WHERE ((j.state = 'queued' AND j.run_after <= now()) OR (j.state = 'running' AND j.lease_until < now()))
				AND (j.registry = '' OR coalesce(l.n, $3) <= 0 OR coalesce(r.n, 0) < coalesce(l.n, $3))
			ORDER BY j.id LIMIT 16 FOR UPDATE OF j SKIP LOCKED`, hosts, ns, int32(lim.Default))
		if err != nil {
			return err
		}
		type cand struct {
			id  int64
			reg string
			n   int
		}
		var cands []cand
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.reg, &c.n); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		full := map[string]bool{}
		for _, c := range cands {
			if c.reg != "" && c.n > 0 {
				if full[c.reg] {
					continue
				}
				var locked bool
				if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtextextended('kensa-registry' || $1, 0))", c.reg).Scan(&locked); err != nil {
					return err
				}
				var running int
				if locked {
					if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE registry = $1 AND state = 'running' AND lease_until >= now()`, c.reg).Scan(&running); err != nil {
						return err
					}
				}
				if !locked || running >= c.n {
					full[c.reg] = true // or being claimed by another worker right now
					continue
				}
			}
			j, err = scanJob(tx.QueryRow(ctx, `UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2,
					lease_until = now() + $3::interval WHERE id = $1 RETURNING `+jobColumns, c.id, worker, lease.String()))
			return err
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dequeue: %w", err)
	}
	return j, nil
}
