package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout version of the database file. A file written
// with another version is refused; `kensa db update` rebuilds it.
const SchemaVersion = 1

// Bucket and key names inside the bbolt file.
var (
	bucketMeta = []byte("meta")
	bucketAdv  = []byte("adv")
	bucketIdx  = []byte("idx")
	keyMeta    = []byte("meta")
)

// ErrNoDB is returned by Open when no database file exists yet.
var ErrNoDB = errors.New("no vulnerability database: run `kensa db update` or `kensa db import`")

// openTimeout bounds how long Open waits for a file lock held by another
// process, so a scan never hangs behind a stuck writer.
const openTimeout = 5 * time.Second

// Meta describes a database: its schema, when it was built, and where each
// part of its content came from.
type Meta struct {
	Schema int       `json:"schema"`
	Built  time.Time `json:"built"`
	// Records is the number of advisories stored.
	Records int `json:"records"`
	// Ecosystems counts advisories per ecosystem ("Debian:12", "Go", ...).
	Ecosystems map[string]int `json:"ecosystems"`
	// Sources are keyed by source name: an OSV ecosystem archive ("Go",
	// "Debian") or an imported file or folder.
	Sources map[string]Source `json:"sources"`
}

// Source records where some of a database's records came from.
type Source struct {
	Name    string `json:"name"`
	Origin  string `json:"origin"` // URL or local path
	Records int    `json:"records"`
	// Date is the source's own date: Last-Modified of a download, the
	// file's modification time for an import.
	Date time.Time `json:"date,omitzero"`
	// ETag and LastModified are the validators of a download, sent back as
	// If-None-Match / If-Modified-Since by the next update.
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Fetched      time.Time `json:"fetched,omitzero"`
}

// DefaultPath returns the database path inside cacheDir, or inside the
// user's cache dir + "/kensa" when cacheDir is "".
func DefaultPath(cacheDir string) (string, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find cache dir: %w", err)
		}
		cacheDir = filepath.Join(base, "kensa")
	}
	return filepath.Join(cacheDir, "db", "kensa.db"), nil
}

// DB is an open, read-only vulnerability database. It is safe for
// concurrent use.
type DB struct {
	path string
	bolt *bolt.DB
	meta Meta
	dec  *zstd.Decoder

	mu    sync.Mutex
	cache map[string]*Advisory
}

// Open opens the database at path read-only. It fails with ErrNoDB when the
// file does not exist, and with a clear error when the file is not a kensa
// database or has another schema version.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNoDB)
		}
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w (run `kensa db update` to rebuild it)", path, err)
	}
	db := &DB{path: path, bolt: b, cache: map[string]*Advisory{}}
	if err := b.View(func(tx *bolt.Tx) error { return readMeta(tx, &db.meta) }); err != nil {
		b.Close()
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	if db.meta.Schema != SchemaVersion {
		b.Close()
		return nil, fmt.Errorf("vulnerability database %s has schema version %d, this kensa needs %d: run `kensa db update` (or `kensa db import`) to rebuild it", path, db.meta.Schema, SchemaVersion)
	}
	db.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	return db, nil
}

func readMeta(tx *bolt.Tx, m *Meta) error {
	mb := tx.Bucket(bucketMeta)
	if mb == nil {
		return errors.New("not a kensa vulnerability database (no metadata): run `kensa db update` to rebuild it")
	}
	raw := mb.Get(keyMeta)
	if raw == nil {
		return errors.New("metadata missing: run `kensa db update` to rebuild it")
	}
	if err := json.Unmarshal(raw, m); err != nil {
		return fmt.Errorf("metadata unreadable: %w: run `kensa db update` to rebuild it", err)
	}
	return nil
}

// Path returns the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Meta returns the database's metadata.
func (db *DB) Meta() Meta { return db.meta }

// Close releases the file.
func (db *DB) Close() error {
	if db.dec != nil {
		db.dec.Close()
	}
	return db.bolt.Close()
}

// Lookup returns the advisories indexed under ecosystem (exact, such as
// "Debian:12" or "Go") and package name (normalized with NormalizeName).
// The returned advisories are shared: callers must not modify them.
func (db *DB) Lookup(ecosystem, name string) ([]*Advisory, error) {
	var ids []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketIdx)
		if idx == nil {
			return nil
		}
		eb := idx.Bucket([]byte(ecosystem))
		if eb == nil {
			return nil
		}
		if v := eb.Get([]byte(NormalizeName(ecosystem, name))); v != nil {
			ids = strings.Split(string(v), "\n")
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make([]*Advisory, 0, len(ids))
	for _, id := range ids {
		a, err := db.Get(id)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// Get returns the advisory with the given ID, or nil when there is none.
func (db *DB) Get(id string) (*Advisory, error) {
	db.mu.Lock()
	if a, ok := db.cache[id]; ok {
		db.mu.Unlock()
		return a, nil
	}
	db.mu.Unlock()
	var a *Advisory
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAdv)
		if ab == nil {
			return nil
		}
		raw := ab.Get([]byte(id))
		if raw == nil {
			return nil
		}
		var err error
		a, err = db.decode(raw)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: advisory %s: %w", db.path, id, err)
	}
	db.mu.Lock()
	db.cache[id] = a
	db.mu.Unlock()
	return a, nil
}

func (db *DB) decode(raw []byte) (*Advisory, error) {
	plain, err := db.dec.DecodeAll(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	var a Advisory
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &a, nil
}

// ForEach calls fn for every stored advisory, in ID order.
func (db *DB) ForEach(fn func(*Advisory) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAdv)
		if ab == nil {
			return nil
		}
		return ab.ForEach(func(k, v []byte) error {
			a, err := db.decode(v)
			if err != nil {
				return fmt.Errorf("advisory %s: %w", k, err)
			}
			return fn(a)
		})
	})
}

// EcosystemNames returns the ecosystems in m, sorted.
func (m Meta) EcosystemNames() []string {
	out := make([]string, 0, len(m.Ecosystems))
	for e := range m.Ecosystems {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// Age is how long ago the database was built.
func (m Meta) Age(now time.Time) time.Duration { return now.Sub(m.Built) }

// StaleNote warns when the database is older than maxAge at now; "" when
// it is not (or maxAge is 0).
func (m Meta) StaleNote(now time.Time, maxAge time.Duration) string {
	age := m.Age(now)
	if maxAge <= 0 || age <= maxAge {
		return ""
	}
	return fmt.Sprintf("vulnerability database is %s old (built %s, limit %s): run `kensa db update`",
		HumanAge(age), m.Built.Format("2006-01-02"), HumanAge(maxAge))
}

// HumanAge prints a duration in days or hours.
func HumanAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}
