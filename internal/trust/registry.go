package trust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry says how to reach registries: extra remote options (a test
// transport, auth) on top of the docker config keychain.
type Registry struct {
	// Options are passed to every go-containerregistry remote call.
	Options []remote.Option
	// Insecure allows plain HTTP registries other than localhost.
	Insecure bool

	puller *remote.Puller
}

// Shared returns r with one registry client for all its calls: the
// authenticated transport of each repository is kept, so later calls skip
// the /v2/ ping and token exchange (the webhook's miss path).
func (r Registry) Shared() (Registry, error) {
	p, err := remote.NewPuller(append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, r.Options...)...)
	if err != nil {
		return r, fmt.Errorf("registry client: %w", err)
	}
	r.puller = p
	return r, nil
}

func (r Registry) opts(ctx context.Context) []remote.Option {
	o := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	o = append(o, r.Options...)
	if r.puller != nil {
		o = append(o, remote.Reuse(r.puller))
	}
	return o
}

// ParseReference parses an image reference the way every trust command
// does, naming the input in the error.
func (r Registry) ParseReference(ref string) (name.Reference, error) {
	var o []name.Option
	if r.Insecure {
		o = append(o, name.Insecure)
	}
	n, err := name.ParseReference(ref, o...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return n, nil
}

// Resolve returns the manifest digest ref points at now (a HEAD request;
// a digest reference is checked to exist).
func (r Registry) Resolve(ctx context.Context, ref name.Reference) (name.Digest, error) {
	desc, err := remote.Head(ref, r.opts(ctx)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("resolve %s: %w", ref, err)
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return name.Digest{}, fmt.Errorf("resolve %s: registry answered with digest %s", ref, desc.Digest)
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// tagFor returns cosign's tag for an artifact of digest: sha256-<hex>.<suffix>.
func tagFor(d name.Digest, suffix string) (name.Tag, error) {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return name.Tag{}, fmt.Errorf("digest %s: %w", d.DigestStr(), err)
	}
	return d.Context().Tag(h.Algorithm + "-" + h.Hex + "." + suffix), nil
}

// SignatureTag returns the tag cosign stores d's signatures under.
func SignatureTag(d name.Digest) (name.Tag, error) { return tagFor(d, "sig") }

// AttestationTag returns the tag cosign stores d's attestations under.
func AttestationTag(d name.Digest) (name.Tag, error) { return tagFor(d, "att") }

// isNotFound reports whether err is a registry's "no such manifest".
func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// artifactImage fetches the image at tag, or returns nil when the tag does
// not exist.
func (r Registry) artifactImage(ctx context.Context, tag name.Tag) (v1.Image, error) {
	img, err := remote.Image(tag, r.opts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("fetch %s: %w", tag, err)
	}
	return img, nil
}

// appendLayer adds one layer with annotations to the artifact image at tag
// (creating it) and pushes it, as cosign does for each new signature or
// attestation.
func (r Registry) appendLayer(ctx context.Context, tag name.Tag, layer v1.Layer, ann map[string]string) error {
	base, err := r.artifactImage(ctx, tag)
	if err != nil {
		return err
	}
	if base == nil {
		base = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: ann})
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	if err := remote.Write(tag, img, r.opts(ctx)...); err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	return nil
}

// artifactLayer is one layer of a signature or attestation image: its
// descriptor (media type, annotations) and content.
type artifactLayer struct {
	Desc    v1.Descriptor
	Content []byte
}

// readLayers returns every layer of img with its content (bounded; the
// registry client checks each blob against its digest).
func readLayers(img v1.Image) ([]artifactLayer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	out := make([]artifactLayer, 0, len(m.Layers))
	for _, d := range m.Layers {
		if d.Size > maxPayload {
			return nil, fmt.Errorf("layer %s: %d bytes, more than %d", d.Digest, d.Size, maxPayload)
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxPayload+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		if int64(len(data)) != d.Size {
			return nil, fmt.Errorf("layer %s: read %d bytes, manifest says %d", d.Digest, len(data), d.Size)
		}
		out = append(out, artifactLayer{Desc: d, Content: data})
	}
	return out, nil
}

// referrers lists the OCI 1.1 referrers of d (the registry's API, or the
// referrers tag schema where the API is missing). A registry that knows
// neither gives an empty list.
func (r Registry) referrers(ctx context.Context, d name.Digest) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(d, r.opts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	return m.Manifests, nil
}

// referrerImage fetches one referrer manifest as an image.
func (r Registry) referrerImage(ctx context.Context, d name.Digest, desc v1.Descriptor) (v1.Image, error) {
	img, err := remote.Image(d.Context().Digest(desc.Digest.String()), r.opts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", desc.Digest, err)
	}
	return img, nil
}
