package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openArchive opens a docker-archive or an OCI archive file.
func openArchive(p string, o Options) (*Image, error) {
	s, err := newTarStore(p)
	if err != nil {
		return nil, &Error{Target: p, Err: err}
	}
	return openTarStore(s, p, o)
}

// OpenArchiveReader opens an image archive held in ra (size bytes); name
// is used in messages. The caller keeps ra open while the image is used.
func OpenArchiveReader(name string, ra io.ReaderAt, size int64, o Options) (*Image, error) {
	s, err := newTarStoreAt(ra, size)
	if err != nil {
		return nil, &Error{Target: name, Err: err}
	}
	return openTarStore(s, name, o)
}

func openTarStore(s *tarStore, p string, o Options) (*Image, error) {
	var err error
	var im *Image
	switch {
	case s.has("manifest.json"):
		im, err = openDockerArchive(s, p, o)
	case s.has("index.json"):
		im, err = openOCI(s, p, KindOCIArchive, o)
	default:
		err = inputErr(p, "not an image archive: it holds neither manifest.json (docker-archive) nor index.json (OCI archive)")
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	im.closers = append(im.closers, s)
	return im, nil
}

// openLayoutDir opens an OCI image layout folder.
func openLayoutDir(dir string, o Options) (*Image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &Error{Target: dir, Err: err}
	}
	s := dirStore{root: root}
	if !s.has("index.json") {
		root.Close()
		return nil, inputErr(dir, "not an OCI image layout: no index.json")
	}
	im, err := openOCI(s, dir, KindOCILayout, o)
	if err != nil {
		root.Close()
		return nil, err
	}
	im.closers = append(im.closers, root)
	return im, nil
}

// dockerManifestEntry is one image of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

func openDockerArchive(s *tarStore, p string, o Options) (*Image, error) {
	raw, err := readSmall(s, "manifest.json")
	if err != nil {
		return nil, inputErr(p, "docker-archive: %v", err)
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, inputErr(p, "docker-archive manifest.json is malformed: %v", err)
	}
	if len(entries) == 0 {
		return nil, inputErr(p, "docker-archive manifest.json lists no images")
	}
	var all []string
	for _, e := range entries {
		all = append(all, e.RepoTags...)
	}
	var pick *dockerManifestEntry
	switch {
	case o.Image != "":
		for i := range entries {
			for _, t := range entries[i].RepoTags {
				if sameImageName(t, o.Image) {
					pick = &entries[i]
				}
			}
		}
		if pick == nil {
			return nil, inputErr(p, "no image named %q in the archive; it holds: %s", o.Image, joinNames(all))
		}
	case len(entries) > 1:
		return nil, inputErr(p, "the archive holds %d images; pick one with --image NAME: %s", len(entries), joinNames(all))
	default:
		pick = &entries[0]
	}
	cfgRaw, err := readSmall(s, pick.Config)
	if err != nil {
		return nil, inputErr(p, "docker-archive config: %v", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, inputErr(p, "docker-archive config %s is malformed: %v", pick.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(pick.Layers) {
		return nil, inputErr(p, "docker-archive: manifest lists %d layers but the config has %d diff_ids", len(pick.Layers), len(cfg.RootFS.DiffIDs))
	}
	sum := sha256.Sum256(cfgRaw)
	im := &Image{
		Reference: p, Kind: KindDockerArchive, Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Names: pick.RepoTags, Config: cfg, RawConfig: cfgRaw, Platform: configPlatform(cfg),
	}
	for i, lp := range pick.Layers {
		_, size, err := s.open(lp)
		if err != nil {
			return nil, inputErr(p, "docker-archive: layer %d (%s) is missing from the archive", i, lp)
		}
		diffID := cfg.RootFS.DiffIDs[i].String()
		l := Layer{Index: i, DiffID: diffID, Size: size, Open: storeOpener(s, lp)}
		// docker save >= 25 stores layers as OCI blobs named by digest;
		// older archives store <id>/layer.tar, uncompressed.
		if d, ok := blobPathDigest(lp); ok {
			l.Digest = d
		} else {
			l.Digest, l.DigestVerified = diffID, true
		}
		im.Layers = append(im.Layers, l)
	}
	return im, nil
}

// storeOpener opens one member of s.
func storeOpener(s blobStore, member string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, _, err := s.open(member)
		return rc, err
	}
}

// blobPathDigest turns "blobs/sha256/<hex>" into "sha256:<hex>".
func blobPathDigest(p string) (string, bool) {
	parts := strings.Split(cleanMember(p), "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return "", false
	}
	h, err := v1.NewHash(parts[1] + ":" + parts[2])
	if err != nil {
		return "", false
	}
	return h.String(), true
}

// sameImageName compares image names loosely: "app:1" equals
// "docker.io/library/app:1" and "localhost/app:1" (podman's prefix).
func sameImageName(a, b string) bool {
	if a == b {
		return true
	}
	na, errA := name.ParseReference(a)
	nb, errB := name.ParseReference(b)
	if errA == nil && errB == nil && na.Name() == nb.Name() {
		return true
	}
	strip := func(s string) string { return strings.TrimPrefix(s, "localhost/") }
	return strip(a) == strip(b)
}

func configPlatform(cfg *v1.ConfigFile) string {
	if cfg == nil || cfg.OS == "" {
		return ""
	}
	p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	return p.String()
}

// verifyBlob checks that b hashes to the digest d.
func verifyBlob(b []byte, d v1.Hash) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %q", d.Algorithm)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != d.Hex {
		return fmt.Errorf("content digest is sha256:%s, not %s", got, d)
	}
	return nil
}
