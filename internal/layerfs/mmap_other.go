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

// mapReader is never made here; walkTar's in-place paths stay unused.
type mapReader struct{}

func (*mapReader) Read([]byte) (int, error) { return 0, io.EOF }

func (*mapReader) peek(int64) []byte { return nil }

func (*mapReader) passedInside(int64) {}

func walkMapped(context.Context, Blob, WalkOptions, *atomic.Int64, *layerMap) (*LayerFacts, func() error, error) {
	panic("unreachable")
}
