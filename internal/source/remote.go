package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/schollz/progressbar/v3"
)

// openRemote resolves a registry reference with the user's docker config
// and credential helpers (authn.DefaultKeychain).
func openRemote(ctx context.Context, target string, o Options) (*Image, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(target, nopts...)
	if err != nil {
		return nil, inputErr(target, "not a valid image reference: %v", err)
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if o.Insecure {
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
		ropts = append(ropts, remote.WithTransport(tr))
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, remoteErr(target, err)
	}
	names := []string{ref.Name()}
	if isIndex(desc.MediaType) {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, remoteErr(target, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, remoteErr(target, err)
		}
		pick, err := pickPlatform(im.Manifests, target, o)
		if err != nil {
			return nil, err
		}
		dref := ref.Context().Digest(pick.Digest.String())
		if desc, err = remote.Get(dref, ropts...); err != nil {
			return nil, remoteErr(target, err)
		}
	}
	img, err := desc.Image()
	if err != nil {
		return nil, remoteErr(target, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, remoteErr(target, err)
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		return nil, remoteErr(target, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, inputErr(target, "config is malformed: %v", err)
	}
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		var total int64
		for _, l := range m.Layers {
			total += l.Size
		}
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(o.Progress),
			progressbar.OptionSetDescription("pulling layers"), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
	}
	out, err := imageFromManifest(target, KindRegistry, desc.Digest.String(), names, m, cfg, cfgRaw, func(i int, ld v1.Descriptor) (Layer, error) {
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return Layer{}, remoteErr(target, err)
		}
		return Layer{DigestVerified: true, Open: func() (io.ReadCloser, error) {
			rc, err := l.Compressed()
			if err != nil {
				return nil, fmt.Errorf("pull layer %s: %w", ld.Digest, err)
			}
			if bar == nil {
				return rc, nil
			}
			return &multiCloser{Reader: io.TeeReader(rc, bar), closers: []io.Closer{rc}}, nil
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	out.Reference = ref.String()
	return out, nil
}

// remoteErr names the registry failure: authentication, not found, or
// transport.
func remoteErr(target string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return inputErr(target, "registry refused the credentials (HTTP %d); check `docker login` / DOCKER_CONFIG: %v", te.StatusCode, err)
		case http.StatusNotFound:
			return inputErr(target, "not found in the registry: %v", err)
		}
	}
	if ne, ok := explainNetErr(target, err); ok {
		return &Error{Target: target, Err: ne}
	}
	return inputErr(target, "registry: %v", err)
}
