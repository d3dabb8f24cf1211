package fix

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
)

// planDigest appends @sha256:<digest> to a FROM image (KS-DF-003). A
// `latest`/untagged base pinned by digest also clears its KS-DF-002.
func (fx *fixer) planDigest(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	if in.Cmd != "from" || in.Stage == nil {
		return nil, ""
	}
	ref := in.Stage.Base
	if ref.Scratch || ref.Digest != "" || ref.Unresolved || strings.Contains(ref.Raw, "$") {
		return nil, "the image is a build argument"
	}
	if fx.opts.Resolver == nil {
		if fx.opts.Offline {
			return nil, "--offline: not resolved"
		}
		return nil, "no registry or archive to resolve the digest from"
	}
	r, ok := fx.digests[ref.Raw]
	if !ok {
		r.digest, r.err = fx.opts.Resolver.Digest(fx.ctx, ref.Raw)
		if r.err == nil {
			if _, err := v1.NewHash(r.digest); err != nil {
				r.err = fmt.Errorf("resolver returned %q: %w", r.digest, err)
			}
		}
		fx.digests[ref.Raw] = r
	}
	if r.err != nil {
		return nil, "digest of " + ref.Raw + " not resolved: " + oneLine(r.err.Error())
	}
	x := st.src.locate(in)
	if x == nil || !strings.HasPrefix(x.rest, ref.Raw) || len(x.rest) > len(ref.Raw) && !isBlank(x.rest[len(ref.Raw)]) {
		return nil, "the instruction's text could not be mapped to the source"
	}
	at := x.end(len(ref.Raw))
	return &candidate{target: fd, edits: []edit{{start: at, end: at, text: "@" + r.digest}}, change: "pinned " + ref.Raw + " to " + r.digest, also: []string{"KS-DF-002"}}, ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Registry resolves digests from registries with go-containerregistry,
// authenticating with the docker config and credential helpers.
type Registry struct {
	// Options are extra remote options (transport, platform).
	Options []remote.Option
	// Insecure allows plain HTTP registries.
	Insecure bool
}

// Digest returns the digest of the manifest or index ref names now (what
// `crane digest` prints), so a multi-platform base stays multi-platform.
func (r *Registry) Digest(ctx context.Context, ref string) (string, error) {
	var nopts []name.Option
	if r.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	nr, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return "", fmt.Errorf("%s: not a valid image reference: %w", ref, err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, r.Options...)
	desc, err := remote.Head(nr, opts...)
	if err != nil {
		// Some registries answer HEAD badly; GET is authoritative.
		g, gerr := remote.Get(nr, opts...)
		if gerr != nil {
			return "", fmt.Errorf("%s: %w", ref, gerr)
		}
		return g.Digest.String(), nil
	}
	return desc.Digest.String(), nil
}

// Archives resolves digests from OCI image layouts (folders) and OCI
// archives (tar files holding a layout) whose index.json names images
// with `org.opencontainers.image.ref.name` or `io.containerd.image.name`
// annotations holding full references (as `docker save`'s OCI output,
// containerd and `skopeo copy ... oci:DIR:REF` with a full REF write).
type Archives struct {
	refs map[string]string // normalised reference → digest
}

// OpenArchives reads the index of every path.
func OpenArchives(paths []string) (*Archives, error) {
	a := &Archives{refs: map[string]string{}}
	for _, p := range paths {
		idx, err := readIndex(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, m := range idx.Manifests {
			for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
				if v := m.Annotations[k]; v != "" {
					if n, err := name.ParseReference(v); err == nil && strings.ContainsAny(v, ":/@") {
						a.refs[n.Name()] = m.Digest.String()
					}
				}
			}
		}
	}
	return a, nil
}

// Digest returns the digest the archives record for ref.
func (a *Archives) Digest(_ context.Context, ref string) (string, error) {
	n, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("%s: not a valid image reference: %w", ref, err)
	}
	if d, ok := a.refs[n.Name()]; ok {
		return d, nil
	}
	return "", fmt.Errorf("%s: not in the given archives", ref)
}

// readIndex reads index.json from an OCI layout folder or an OCI archive.
func readIndex(p string) (*v1.IndexManifest, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if st.IsDir() {
		fh, err := os.Open(filepath.Join(p, "index.json"))
		if err != nil {
			return nil, fmt.Errorf("not an OCI layout: %w", err)
		}
		defer fh.Close()
		r = fh
	} else {
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		tr := tar.NewReader(fh)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return nil, errors.New("no index.json: not an OCI archive (a docker-archive records no registry digest)")
			}
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			if strings.TrimPrefix(h.Name, "./") == "index.json" {
				r = tr
				break
			}
		}
	}
	var idx v1.IndexManifest
	if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return &idx, nil
}

// Chain tries resolvers in order and returns the first digest found.
type Chain []Resolver

// Digest asks each resolver in turn.
func (c Chain) Digest(ctx context.Context, ref string) (string, error) {
	var errs []error
	for _, r := range c {
		d, err := r.Digest(ctx, ref)
		if err == nil {
			return d, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return "", errors.New("no resolver")
	}
	return "", errors.Join(errs...)
}
