package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

// Claim implements layerfs.FactsStore: it returns the stored facts of the
// layer, or, when absent, holds a PostgreSQL advisory lock on the layer's
// key (on a connection of its own) until release stores what the walk
// read. Walks of images sharing a layer, in any process on the same
// database, thus read it once; a worker that dies while reading loses its
// connection and with it the lock, and the next claimant reads the layer.
func (s *Store) Claim(ctx context.Context, key, diffID string) (*layerfs.LayerFacts, func(*layerfs.LayerFacts) error, error) {
	f, err := getLayer(ctx, s.pool, key, diffID)
	if err != nil || f != nil {
		if f != nil {
			s.layerHits.Add(1)
		}
		return f, nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("layer %s: %w", diffID, err)
	}
	lock := lockKey(key)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		conn.Release()
		return nil, nil, fmt.Errorf("layer %s: lock: %w", diffID, err)
	}
	unlock := func() {
		// A failed unlock leaves the lock to die with the connection.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lock); err != nil {
			conn.Conn().Close(context.Background()) //nolint:errcheck
		}
		conn.Release()
	}
	// Another walk may have stored it while this one waited.
	f, err = getLayer(ctx, conn, key, diffID)
	if err != nil || f != nil {
		unlock()
		if f != nil {
			s.layerHits.Add(1)
		}
		return f, nil, err
	}
	release := func(f *layerfs.LayerFacts) error {
		defer unlock()
		if f == nil {
			return nil
		}
		b, err := layerfs.MarshalFacts(f)
		if err != nil {
			return err
		}
		_, err = conn.Exec(context.Background(), `INSERT INTO layers (key, diff_id, facts) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET reads = layers.reads + 1, facts = excluded.facts`, key, diffID, b)
		if err != nil {
			return fmt.Errorf("store layer %s: %w", diffID, err)
		}
		s.layerReads.Add(1)
		return nil
	}
	return nil, release, nil
}

// querier is a pool or a connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ querier = (*pgxpool.Pool)(nil)

func getLayer(ctx context.Context, q querier, key, diffID string) (*layerfs.LayerFacts, error) {
	var b []byte
	err := q.QueryRow(ctx, "SELECT facts FROM layers WHERE key = $1", key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", diffID, err)
	}
	f, err := layerfs.UnmarshalFacts(b)
	if err != nil || f.DiffID != diffID {
		// A stored entry that does not decode is read again and replaced.
		return nil, nil
	}
	return f, nil
}

// lockKey maps a layer key to a 64-bit advisory lock key.
func lockKey(key string) int64 {
	h := sha256.Sum256([]byte("kensa-layer-lock\n" + key))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// LayerStats is the layer-dedup view of the database.
type LayerStats struct {
	Layers int64 // distinct layers stored
	Reads  int64 // times any layer was read (Reads == Layers: each read once)
	Refs   int64 // layer references from manifests
}

// LayerStats counts stored layers, their reads and their references.
func (s *Store) LayerStats(ctx context.Context) (LayerStats, error) {
	var st LayerStats
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM layers), (SELECT coalesce(sum(reads), 0) FROM layers),
		(SELECT count(*) FROM manifest_layers)`).Scan(&st.Layers, &st.Reads, &st.Refs)
	if err != nil {
		return st, fmt.Errorf("layer stats: %w", err)
	}
	return st, nil
}
