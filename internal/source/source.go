// Package source turns a scan target into an image kensa can walk: a
// docker-archive (docker/podman save, one or many images), an OCI archive,
// an OCI image layout folder, an image in a registry, or an unpacked root
// filesystem presented as one synthetic layer. It reads manifests and
// configs only; layer bytes are streamed later by the layer walk.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kind says what a target turned out to be.
type Kind string

// Target kinds.
const (
	KindDockerArchive Kind = "docker-archive"
	KindOCIArchive    Kind = "oci-archive"
	KindOCILayout     Kind = "oci-layout"
	KindRegistry      Kind = "registry"
	KindRootfs        Kind = "rootfs"
	// KindDockerEngine and KindPodmanEngine (engine.go) are images
	// exported from a local engine.
)

// Options tune how a target is opened.
type Options struct {
	// Image picks one image by name (repo:tag or OCI ref.name) inside an
	// archive or layout holding several.
	Image string
	// Platform ("linux/arm64") picks one manifest of a multi-platform
	// index; empty means the host's platform.
	Platform string
	// Insecure allows plain-HTTP registries and unverified TLS.
	Insecure bool
	// Progress, when non-nil, receives layer download progress for
	// registry images (the CLI passes stderr only when it is a terminal).
	Progress io.Writer
	// Sources orders where a reference is looked up: SourceDocker,
	// SourcePodman (local engine sockets, skipped when absent) and
	// SourceRemote (the registry); empty means DefaultSources.
	Sources []string
	// TempDir holds the (unlinked) export of an engine image while it is
	// scanned; "" means os.TempDir().
	TempDir string
}

// Layer is one layer of an image, not yet read.
type Layer struct {
	Index int
	// Digest is the blob digest (compressed, as in the manifest) and
	// DiffID the digest of the uncompressed tar (from the config). For a
	// rootfs both are empty until walked.
	Digest    string
	DiffID    string
	Size      int64 // blob size in bytes, as stored
	MediaType string
	// Open returns the layer blob as stored: gzip, zstd or plain tar.
	Open func() (io.ReadCloser, error)
	// DigestVerified is true when Open's reader already checks Digest
	// (registry pulls do); otherwise the walk checks it.
	DigestVerified bool
}

// Image is an opened image: its config, its layers and where it came from.
type Image struct {
	// Reference is what the user named (file path, reference, folder).
	Reference string
	Kind      Kind
	// Digest is the manifest digest when there is one, else the config
	// digest (the image ID of a docker-archive).
	Digest   string
	Platform string
	// Names are the image's tags or ref names, when known.
	Names     []string
	Config    *v1.ConfigFile
	RawConfig []byte
	Layers    []Layer
	closers   []io.Closer
	skipped   func() []string
}

// Skipped lists paths a rootfs walk could not read, with the reason
// (available after the layer was read; nil for other kinds).
func (im *Image) Skipped() []string {
	if im.skipped == nil {
		return nil
	}
	return im.skipped()
}

// Close releases files held open by the image.
func (im *Image) Close() error {
	var errs []error
	for _, c := range im.closers {
		errs = append(errs, c.Close())
	}
	im.closers = nil
	return errors.Join(errs...)
}

// Error is a problem with the target itself (not an image, corrupt,
// missing blobs, unknown platform or name): the user's input is at fault.
type Error struct {
	Target string
	Err    error
}

func (e *Error) Error() string { return e.Target + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func inputErr(target string, format string, a ...any) error {
	return &Error{Target: target, Err: fmt.Errorf(format, a...)}
}

// Open opens target: a folder holding an OCI layout, an archive file, or
// (when no such file exists) an image reference, looked up in the local
// engines and the registry in the order of Options.Sources.
func Open(ctx context.Context, target string, o Options) (*Image, error) {
	st, err := os.Stat(target)
	switch {
	case err == nil && st.IsDir():
		return openLayoutDir(target, o)
	case err == nil:
		return openArchive(target, o)
	case errors.Is(err, os.ErrNotExist):
		if LooksLikePath(target) {
			return nil, missingErr(target, nil)
		}
		im, err := openReference(ctx, target, o)
		var se *Error
		if err != nil && ctx.Err() == nil && errors.As(err, &se) {
			return nil, missingErr(target, se.Err)
		}
		return im, err
	default:
		return nil, &Error{Target: target, Err: err}
	}
}

// wantPlatform parses o.Platform, defaulting to the host's.
func wantPlatform(o Options) (*v1.Platform, error) {
	s := o.Platform
	if s == "" {
		s = "linux/" + runtime.GOARCH
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", s, err)
	}
	return p, nil
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
