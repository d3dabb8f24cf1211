package vulndb

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// fillPercent is how full bbolt packs pages on sequential inserts.
const fillPercent = 0.95

// batchSize is how many advisories one write transaction holds.
const batchSize = 5000

// Builder writes a new database into a temporary file next to its final
// path; Commit renames it into place, so readers never see a half-built
// database and a killed build leaves the previous one intact.
type Builder struct {
	path string
	tmp  string
	bolt *bolt.DB
	tx   *bolt.Tx
	enc  *zstd.Encoder
	n    int // advisories in the current transaction

	index   map[string]map[string][]string // ecosystem → name → IDs
	seen    map[string]struct{}
	sources map[string]Source
	// Skipped counts withdrawn records left out.
	Skipped int
}

// NewBuilder starts a database that Commit will place at path.
func NewBuilder(path string) (*Builder, error) {
	// Commit renames a new file onto path: never onto a device, FIFO or
	// folder (--db /dev/null must not replace /dev/null).
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("database %s: exists and is not a regular file (%s)", path, st.Mode().Type())
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create database folder %s: %w", dir, err)
	}
	removeStale(dir)
	f, err := os.CreateTemp(dir, ".kensa.db.building-*")
	if err != nil {
		return nil, fmt.Errorf("create database file in %s: %w", dir, err)
	}
	tmp := f.Name()
	f.Close()
	b, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: openTimeout, NoSync: true, NoFreelistSync: true})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("create database %s: %w", tmp, err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Close()
		os.Remove(tmp)
		return nil, err
	}
	return &Builder{
		path: path, tmp: tmp, bolt: b, enc: enc,
		index:   map[string]map[string][]string{},
		seen:    map[string]struct{}{},
		sources: map[string]Source{},
	}, nil
}

// Add stores one advisory (withdrawn ones are counted in Skipped and left
// out). A later advisory with the same ID replaces an earlier one.
func (b *Builder) Add(a *Advisory) error {
	if !a.Withdrawn.IsZero() {
		b.Skipped++
		return nil
	}
	a.compact()
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode advisory %s: %w", a.ID, err)
	}
	if b.tx == nil {
		if b.tx, err = b.bolt.Begin(true); err != nil {
			return fmt.Errorf("database %s: %w", b.tmp, err)
		}
	}
	ab, err := b.tx.CreateBucketIfNotExists(bucketAdv)
	if err != nil {
		return err
	}
	// Archives list records in ID order, so most inserts append: pack
	// pages fuller than bbolt's default split point.
	ab.FillPercent = fillPercent
	if err := ab.Put([]byte(a.ID), b.enc.EncodeAll(raw, nil)); err != nil {
		return fmt.Errorf("store advisory %s: %w", a.ID, err)
	}
	b.seen[a.ID] = struct{}{}
	for _, af := range a.Affected {
		eco := af.Package.Ecosystem
		names := b.index[eco]
		if names == nil {
			names = map[string][]string{}
			b.index[eco] = names
		}
		key := NormalizeName(eco, af.Package.Name)
		ids := names[key]
		if len(ids) > 0 && ids[len(ids)-1] == a.ID {
			continue
		}
		if containsString(ids, a.ID) {
			continue
		}
		names[key] = append(ids, a.ID)
	}
	b.n++
	if b.n >= batchSize {
		return b.flush()
	}
	return nil
}

// Has reports whether an advisory with this ID was already added.
func (b *Builder) Has(id string) bool {
	_, ok := b.seen[id]
	return ok
}

func (b *Builder) flush() error {
	if b.tx == nil {
		return nil
	}
	err := b.tx.Commit()
	b.tx, b.n = nil, 0
	if err != nil {
		return fmt.Errorf("database %s: commit: %w", b.tmp, err)
	}
	return nil
}

// SetSource records (or replaces) a source in the new database's metadata.
func (b *Builder) SetSource(s Source) { b.sources[s.Name] = s }

// KeepFrom copies into the new database every advisory of old that drop
// does not reject and that was not already added, and carries over the
// metadata of sources that keep reports as kept. It returns the number of
// advisories copied.
func (b *Builder) KeepFrom(old *DB, drop func(ecosystems []string) bool, keepSource func(name string) bool) (int, error) {
	n := 0
	err := old.ForEach(func(a *Advisory) error {
		if b.Has(a.ID) || drop(a.ecosystems()) {
			return nil
		}
		n++
		return b.Add(a)
	})
	if err != nil {
		return n, fmt.Errorf("copy records from %s: %w", old.Path(), err)
	}
	for name, s := range old.Meta().Sources {
		if _, replaced := b.sources[name]; !replaced && keepSource(name) {
			b.sources[name] = s
		}
	}
	return n, nil
}

// Commit writes the index and metadata, syncs the file and renames it over
// the database path.
func (b *Builder) Commit() (Meta, error) {
	meta := Meta{Schema: SchemaVersion, Built: time.Now().UTC(), Records: len(b.seen), Ecosystems: map[string]int{}, Sources: b.sources}
	if err := b.flush(); err != nil {
		b.Abort()
		return meta, err
	}
	err := b.bolt.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketAdv); err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists(bucketIdx)
		if err != nil {
			return err
		}
		for eco, names := range b.index {
			eb, err := idx.CreateBucketIfNotExists([]byte(eco))
			if err != nil {
				return fmt.Errorf("ecosystem %q: %w", eco, err)
			}
			eb.FillPercent = fillPercent
			distinct := map[string]struct{}{}
			keys := make([]string, 0, len(names))
			for name := range names {
				keys = append(keys, name)
			}
			sort.Strings(keys) // sequential inserts fill pages
			for _, name := range keys {
				ids := names[name]
				if err := eb.Put([]byte(name), []byte(strings.Join(ids, "\n"))); err != nil {
					return fmt.Errorf("ecosystem %q package %q: %w", eco, name, err)
				}
				for _, id := range ids {
					distinct[id] = struct{}{}
				}
			}
			meta.Ecosystems[eco] = len(distinct)
		}
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		return mb.Put(keyMeta, raw)
	})
	if err != nil {
		b.Abort()
		return meta, fmt.Errorf("database %s: write index: %w", b.tmp, err)
	}
	if err := b.bolt.Sync(); err != nil {
		b.Abort()
		return meta, fmt.Errorf("database %s: sync: %w", b.tmp, err)
	}
	if err := b.bolt.Close(); err != nil {
		os.Remove(b.tmp)
		return meta, fmt.Errorf("database %s: close: %w", b.tmp, err)
	}
	if err := os.Chmod(b.tmp, 0o644); err != nil {
		os.Remove(b.tmp)
		return meta, err
	}
	if err := os.Rename(b.tmp, b.path); err != nil {
		os.Remove(b.tmp)
		return meta, fmt.Errorf("move new database into place at %s: %w", b.path, err)
	}
	syncDir(filepath.Dir(b.path))
	return meta, nil
}

// Abort discards the database being built.
func (b *Builder) Abort() {
	if b.tx != nil {
		_ = b.tx.Rollback()
		b.tx = nil
	}
	_ = b.bolt.Close()
	os.Remove(b.tmp)
}

// staleAfter is how long a temporary build file may go untouched before a
// new build treats it as left over by a killed process and removes it.
const staleAfter = 30 * time.Minute

// removeStale deletes temporary files of builds that were killed.
func removeStale(dir string) {
	for _, pat := range []string{".kensa.db.building-*", ".download-*.zip"} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range old {
			if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > staleAfter {
				os.Remove(p)
			}
		}
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
