package source

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations naming an image inside an OCI index.
const (
	annotRefName    = "org.opencontainers.image.ref.name"
	annotContainerd = "io.containerd.image.name"
)

func blobName(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// readBlob reads a metadata blob and checks its digest.
func readBlob(s blobStore, target string, desc v1.Descriptor, what string) ([]byte, error) {
	b, err := readSmall(s, blobName(desc.Digest))
	if err != nil {
		return nil, inputErr(target, "%s blob %s is missing or unreadable: %v", what, desc.Digest, err)
	}
	if err := verifyBlob(b, desc.Digest); err != nil {
		return nil, inputErr(target, "%s blob %s: %v", what, desc.Digest, err)
	}
	return b, nil
}

func descNames(d v1.Descriptor) []string {
	var out []string
	for _, k := range []string{annotContainerd, annotRefName} {
		if v := d.Annotations[k]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

func isIndex(mt types.MediaType) bool {
	return mt == types.OCIImageIndex || mt == types.DockerManifestList
}

// openOCI opens the image an OCI layout (folder or archive) holds.
func openOCI(s blobStore, target string, kind Kind, o Options) (*Image, error) {
	raw, err := readSmall(s, "index.json")
	if err != nil {
		return nil, inputErr(target, "OCI index.json: %v", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, inputErr(target, "OCI index.json is malformed: %v", err)
	}
	top := idx.Manifests
	var all []string
	for _, d := range top {
		all = append(all, descNames(d)...)
	}
	if o.Image != "" {
		var keep []v1.Descriptor
		for _, d := range top {
			for _, n := range descNames(d) {
				if sameImageName(n, o.Image) || refTagMatches(n, o.Image) {
					keep = append(keep, d)
					break
				}
			}
		}
		if len(keep) == 0 {
			return nil, inputErr(target, "no image named %q in the layout; it holds: %s", o.Image, joinNames(all))
		}
		top = keep
	}
	if len(top) == 0 {
		return nil, inputErr(target, "OCI index.json lists no images")
	}
	var desc v1.Descriptor
	switch {
	case len(top) == 1:
		desc = top[0]
	case allPlatformManifests(top):
		desc, err = pickPlatform(top, target, o)
		if err != nil {
			return nil, err
		}
	default:
		return nil, inputErr(target, "the layout holds %d images; pick one with --image NAME: %s", len(top), joinNames(all))
	}
	names := descNames(desc)
	for depth := 0; isIndex(desc.MediaType); depth++ {
		if depth > 4 {
			return nil, inputErr(target, "OCI indexes nested too deeply")
		}
		b, err := readBlob(s, target, desc, "index")
		if err != nil {
			return nil, err
		}
		sub, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return nil, inputErr(target, "index %s is malformed: %v", desc.Digest, err)
		}
		if desc, err = pickPlatform(sub.Manifests, target, o); err != nil {
			return nil, err
		}
	}
	return openOCIManifest(s, target, kind, desc, names)
}

// refTagMatches lets --image match a bare ref.name tag ("latest") or a
// full name whose tag equals it.
func refTagMatches(refName, want string) bool {
	if strings.ContainsAny(refName, "/:") {
		return false
	}
	_, tag, ok := strings.Cut(want, ":")
	return refName == want || (ok && refName == tag)
}

func allPlatformManifests(ds []v1.Descriptor) bool {
	for _, d := range ds {
		if d.Platform == nil || isIndex(d.MediaType) {
			return false
		}
	}
	return true
}

// pickPlatform chooses the manifest for the wanted platform, skipping
// attestation manifests ("unknown/unknown").
func pickPlatform(ds []v1.Descriptor, target string, o Options) (v1.Descriptor, error) {
	want, err := wantPlatform(o)
	if err != nil {
		return v1.Descriptor{}, &Error{Target: target, Err: err}
	}
	var avail []string
	var real []v1.Descriptor
	for _, d := range ds {
		if d.Platform != nil && (d.Platform.OS == "unknown" || d.Platform.Architecture == "unknown") {
			continue
		}
		real = append(real, d)
		if d.Platform != nil {
			if d.Platform.Satisfies(*want) {
				return d, nil
			}
			avail = append(avail, d.Platform.String())
		}
	}
	if len(real) == 1 && real[0].Platform == nil && o.Platform == "" {
		return real[0], nil
	}
	sort.Strings(avail)
	return v1.Descriptor{}, inputErr(target, "no image for platform %s; available platforms: %s (use --platform)", want, joinNames(avail))
}

func openOCIManifest(s blobStore, target string, kind Kind, desc v1.Descriptor, names []string) (*Image, error) {
	b, err := readBlob(s, target, desc, "manifest")
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, inputErr(target, "manifest %s is malformed: %v", desc.Digest, err)
	}
	cfgRaw, err := readBlob(s, target, m.Config, "config")
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, inputErr(target, "config %s is malformed: %v", m.Config.Digest, err)
	}
	return imageFromManifest(target, kind, desc.Digest.String(), names, m, cfg, cfgRaw, func(i int, l v1.Descriptor) (Layer, error) {
		if !s.has(blobName(l.Digest)) {
			return Layer{}, inputErr(target, "layer %d blob %s is missing", i, l.Digest)
		}
		return Layer{Open: storeOpener(s, blobName(l.Digest))}, nil
	})
}

// imageFromManifest builds an Image from a manifest and config; mk makes
// each layer's opener.
func imageFromManifest(target string, kind Kind, digest string, names []string, m *v1.Manifest, cfg *v1.ConfigFile, cfgRaw []byte, mk func(int, v1.Descriptor) (Layer, error)) (*Image, error) {
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, inputErr(target, "manifest lists %d layers but the config has %d diff_ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	im := &Image{Reference: target, Kind: kind, Digest: digest, Names: names, Config: cfg, RawConfig: cfgRaw, Platform: configPlatform(cfg)}
	for i, ld := range m.Layers {
		if ld.Size < 0 {
			return nil, inputErr(target, "layer %d: negative size", i)
		}
		l, err := mk(i, ld)
		if err != nil {
			return nil, err
		}
		l.Index, l.Digest, l.DiffID, l.Size, l.MediaType = i, ld.Digest.String(), cfg.RootFS.DiffIDs[i].String(), ld.Size, string(ld.MediaType)
		im.Layers = append(im.Layers, l)
	}
	return im, nil
}

var _ = fmt.Sprintf
