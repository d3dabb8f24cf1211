//go:build !unix

package layerfs

import (
	"context"
	"io"
	"sync/atomic"
)

// layerMap is not used where memory maps are not: every layer streams.
type layerMap struct{}

func mapBlob(io.Reader) *layerMap { return nil }

func walkMapped(context.Context, Blob, WalkOptions, *atomic.Int64, *layerMap) (*LayerFacts, error) {
	panic("unreachable")
}
