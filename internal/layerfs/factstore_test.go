package layerfs

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// mapStore is a FactsStore in memory that serializes claims per key the
// way the PostgreSQL store does (a lock per key), to test Walk's side of
// the seam; the PostgreSQL store has its own tests against a real server.
type mapStore struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	facts map[string][]byte
}

func (m *mapStore) Claim(_ context.Context, key, diffID string) (*LayerFacts, func(*LayerFacts) error, error) {
	m.mu.Lock()
	l := m.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	m.mu.Lock()
	b, ok := m.facts[key]
	m.mu.Unlock()
	if ok {
		l.Unlock()
		f, err := UnmarshalFacts(b)
		return f, nil, err
	}
	return nil, func(f *LayerFacts) error {
		defer l.Unlock()
		if f == nil {
			return nil
		}
		b, err := MarshalFacts(f)
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.facts[key] = b
		m.mu.Unlock()
		return nil
	}, nil
}

func TestWalkStoreReadsSharedLayerOnce(t *testing.T) {
	base := makeTar(t, tarEntry{name: "etc/os-release", body: "ID=debian\n"}, tarEntry{name: "bin/sh", body: "x"})
	baseGz := gz(t, base)
	var opens atomic.Int64
	counted := func(b Blob) Blob {
		open := b.Open
		b.Open = func() (io.ReadCloser, error) { opens.Add(1); return open() }
		return b
	}
	st := &mapStore{locks: map[string]*sync.Mutex{}, facts: map[string][]byte{}}
	var wg sync.WaitGroup
	results := make([]*Result, 8)
	errs := make([]error, 8)
	for i := range results {
		app := makeTar(t, tarEntry{name: "app/" + string(rune('a'+i)), body: "app"})
		blobs := []Blob{counted(blobOf(0, baseGz, base)), counted(blobOf(1, app, app))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Walk(context.Background(), blobs, WalkOptions{Store: st})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("walk %d: %v", i, err)
		}
		if got := entryMap(results[i].Layers[0]); got["/etc/os-release"].Size != int64(len("ID=debian\n")) {
			t.Errorf("walk %d: base layer entries from the store: %v", i, got)
		}
	}
	// 8 app layers + the base once.
	if got := opens.Load(); got != 9 {
		t.Errorf("layers opened = %d, want 9 (shared base read once)", got)
	}
}

// failingStore refuses every claim.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, string) (*LayerFacts, func(*LayerFacts) error, error) {
	return nil, nil, errors.New("database down")
}

func TestWalkStoreErrorFailsWalk(t *testing.T) {
	l := makeTar(t, tarEntry{name: "a", body: "x"})
	_, err := Walk(context.Background(), []Blob{blobOf(0, l, l)}, WalkOptions{Store: failingStore{}})
	if err == nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	var le *LayerError
	if errors.As(err, &le) {
		t.Errorf("a store failure is not a bad layer: %v", err)
	}
}
