package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SignOptions configures Sign.
type SignOptions struct {
	Registry Registry
	// Annotations go into the payload's optional section (cosign sign -a).
	Annotations map[string]any
	// Now stamps the signature time into the optional section; zero means
	// time.Now.
	Now time.Time
}

// Sign signs the manifest digest of d with key and appends the signature
// to d's sha256-<hex>.sig image, in cosign's format: a simple-signing
// payload layer whose dev.cosignproject.cosign/signature annotation holds
// the base64 signature.
func Sign(ctx context.Context, d name.Digest, key *PrivateKey, o SignOptions) error {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return fmt.Errorf("sign %s: %w", d, err)
	}
	optional := map[string]any{}
	for k, v := range o.Annotations {
		optional[k] = v
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	optional["timestamp"] = now.UTC().Unix()
	pl, err := NewPayload(d.Context().Name(), h, optional)
	if err != nil {
		return fmt.Errorf("sign %s: %w", d, err)
	}
	sig, err := key.signer.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return fmt.Errorf("sign %s: %w", d, err)
	}
	tag, err := SignatureTag(d)
	if err != nil {
		return err
	}
	layer := static.NewLayer(pl, types.MediaType(SimpleSigningMediaType))
	return o.Registry.appendLayer(ctx, tag, layer, map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)})
}
