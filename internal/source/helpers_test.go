package source

import (
	"context"
	"io"
	"io/fs"
	"log"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

type authnConfig = authn.AuthConfig

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// contentRecorder is an analyzer recording every file's content.
type contentRecorder struct {
	mu   sync.Mutex
	seen map[string]string
}

func (r *contentRecorder) Name() string                          { return "record" }
func (r *contentRecorder) Version() int                          { return 1 }
func (r *contentRecorder) Wants(string, int64, fs.FileMode) bool { return true }
func (r *contentRecorder) Analyze(_ context.Context, f *layerfs.File, _ *layerfs.LayerFacts) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	r.seen[f.Path] = string(f.Content)
	return nil
}
