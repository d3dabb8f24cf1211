package layerfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// cacheFormat is bumped whenever the walk's output for the same layer
// changes (entry normalization, LayerFacts shape) or its encoding
// (cachecodec.go) does. Format 1 was all JSON; format 4 added
// LayerFacts.Escapes and Digests.
const cacheFormat = 5

// Cache stores LayerFacts on disk under Dir/layers/, one file per layer
// (binary entries plus JSON for the rest, see cachecodec.go), keyed by the layer's DiffID, blob digest, the analyzers' names and
// versions, and the walk options that change results. Writes are atomic
// (temp file + rename); unreadable or corrupt entries count as misses and
// are rewritten.
type Cache struct {
	Dir string
}

// Key returns the cache key for a layer walked with o.
func (c *Cache) Key(diffID, digest string, o WalkOptions) string {
	o = o.withDefaults()
	names := make([]string, 0, len(o.Analyzers))
	for _, a := range o.Analyzers {
		names = append(names, a.Name()+"@"+strconv.Itoa(a.Version()))
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "kensa-layer/%d\n%s\n%s\nmaxfile=%d\n%s\n", cacheFormat, diffID, digest, o.MaxFileSize, strings.Join(names, ","))
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, "layers", key[:2], key+".bin")
}

// Get returns the cached facts for key, if present and sound; diffID is
// checked against the stored facts.
func (c *Cache) Get(key, diffID string) (*LayerFacts, bool) {
	if len(key) < 2 {
		return nil, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	f, err := decodeFacts(b)
	if err != nil || f.DiffID != diffID {
		return nil, false
	}
	return f, true
}

// Put stores f under key atomically.
func (c *Cache) Put(key string, f *LayerFacts) error {
	p := c.path(key)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	b, err := encodeFacts(f)
	if err != nil {
		return fmt.Errorf("layer cache: encode %s: %w", f.DiffID, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("layer cache: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("layer cache: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("layer cache: write: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("layer cache: %w", err)
	}
	return nil
}

// DefaultCacheDir returns the user's cache folder for kensa.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w (use --cache-dir)", err)
	}
	return filepath.Join(d, "kensa"), nil
}
