// Package store is kensa server's PostgreSQL store: versioned schema
// migrations embedded in the binary, layer facts shared by every image that
// holds the layer (a layerfs.FactsStore), packages and package sets stored
// once, scans and their reports, the job queue and API tokens.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open connection pool on kensa's database.
type Store struct {
	pool *pgxpool.Pool
	// layerReads and layerHits count, in this process, layers read by a
	// walk (and stored) and layers served from the store.
	layerReads atomic.Int64
	layerHits  atomic.Int64
}

// Options configures Open.
type Options struct {
	// MaxConns bounds the pool (default 16).
	MaxConns int32
}

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword string) and applies the migrations it lacks.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.MaxConns = 16
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redactURL(url), err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// LayerReads returns how many layers this process read and stored, and how
// many it was served from the store instead.
func (s *Store) LayerReads() (read, hit int64) { return s.layerReads.Load(), s.layerHits.Load() }

// migrationLock is the advisory lock key that serializes migrations of
// several processes starting at once.
const migrationLock = 0x6b656e7361 // "kensa"

// migrate applies every embedded migration newer than the database's
// version, each in its own transaction, under an advisory lock.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	list, err := migrationList()
	if err != nil {
		return err
	}
	if len(list) > 0 && current > list[len(list)-1].version {
		return fmt.Errorf("migrate: database schema version %d is newer than this kensa (%d): upgrade kensa", current, list[len(list)-1].version)
	}
	for _, m := range list {
		if m.version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrationList returns the embedded migrations in version order; a file
// is named NNN_what.sql.
func migrationList() ([]migration, error) {
	ents, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a version number", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// redactURL hides a password in a database URL for error messages.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			if c := strings.Index(u[i+3:at], ":"); c >= 0 {
				return u[:i+3+c+1] + "xxxxx" + u[at:]
			}
		}
	}
	return u
}

// ErrNotFound is returned for an ID or reference the database lacks.
var ErrNotFound = errors.New("not found")
