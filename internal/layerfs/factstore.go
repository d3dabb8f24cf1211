package layerfs

import (
	"context"
	"fmt"
)

// FactsStore is a shared store of layer facts that several walks (in one
// process or on several machines) consult before reading a layer, so that a
// layer shared by many images is read once. Keys are Cache.Key values: the
// layer's DiffID and blob digest, the analyzers' names and versions and the
// walk options that change results. kensa server keeps them in PostgreSQL
// (internal/server/store); the on-disk Cache is the CLI's.
//
// Claim returns the stored facts for key when present. When they are
// absent it returns release non-nil: the caller holds the layer (no other
// claimant of key proceeds until release is called) and must call
// release with the facts it read, or with nil when the read failed, which
// lets the next claimant read it. Claim blocks while another caller holds
// key.
type FactsStore interface {
	Claim(ctx context.Context, key, diffID string) (f *LayerFacts, release func(f *LayerFacts) error, err error)
}

// MarshalFacts serializes f (entries included) in the layer cache's format
// (see cachecodec.go), for a FactsStore to keep.
func MarshalFacts(f *LayerFacts) ([]byte, error) {
	b, err := encodeFacts(f)
	if err != nil {
		return nil, fmt.Errorf("encode layer %s: %w", f.DiffID, err)
	}
	return b, nil
}

// UnmarshalFacts decodes what MarshalFacts produced; a corrupt or
// truncated input is an error, never a panic.
func UnmarshalFacts(b []byte) (*LayerFacts, error) {
	f, err := decodeFacts(b)
	if err != nil {
		return nil, fmt.Errorf("decode layer facts: %w", err)
	}
	return f, nil
}

// claimStored consults o.Store for blob b: it returns the stored facts, or
// a release func when the caller must read the layer.
func claimStored(ctx context.Context, b Blob, o WalkOptions) (*LayerFacts, func(*LayerFacts) error, error) {
	key := (&Cache{}).Key(b.DiffID, b.Digest, o)
	f, release, err := o.Store.Claim(ctx, key, b.DiffID)
	if err != nil {
		return nil, nil, fmt.Errorf("layer store: %w", err)
	}
	return f, release, nil
}
