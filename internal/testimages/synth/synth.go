// Package synth generates small container images that share base layers
// the way a registry's images do (many applications on a few bases), and
// pushes them to a registry, for kensa server's tests and load benchmark.
// A base is a Debian 12 root with an os-release and a dpkg status
// database; an application adds one layer with its own files.
package synth

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Package is one dpkg package of a base.
type Package struct {
	Name, Source, Version string
}

// CommonPackages are in every base.
var CommonPackages = []Package{
	{"zlib1g", "zlib", "1:1.2.13.dfsg-1"},
	{"libc6", "glibc", "2.36-9+deb12u7"},
	{"perl-base", "perl", "5.36.0-7+deb12u1"},
}

// BasePackages returns base b's packages: the common ones, one of its own
// ("base<b>-tools") and extra filler packages ("lib<b>-<i>"), as many as a
// real base holds when extra is about 100.
func BasePackages(b, extra int) []Package {
	ps := append(append([]Package(nil), CommonPackages...), Package{fmt.Sprintf("base%d-tools", b), fmt.Sprintf("base%d-tools", b), fmt.Sprintf("1.%d.0-1", b)})
	for i := range extra {
		ps = append(ps, Package{fmt.Sprintf("lib%d-%d", b, i), fmt.Sprintf("src%d-%d", b, i), fmt.Sprintf("%d.%d-1+deb12u1", i, b)})
	}
	return ps
}

// Layer builds an uncompressed layer from path → content.
func Layer(files map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sortStrings(names)
	for _, p := range names {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
					return nil, err
				}
			}
		}
		body := files[p]
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// BaseLayer is base b's root layer, with extra filler packages.
func BaseLayer(b, extra int) (v1.Layer, error) {
	var status strings.Builder
	for _, p := range BasePackages(b, extra) {
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n", p.Name, p.Version)
		if p.Source != p.Name {
			fmt.Fprintf(&status, "Source: %s\n", p.Source)
		}
		status.WriteString("\n")
	}
	return Layer(map[string]string{
		"etc/os-release":      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
		"var/lib/dpkg/status": status.String(),
		"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":           "root:x:0:\nnogroup:x:65534:\n",
		fmt.Sprintf("usr/share/base%d/README", b): fmt.Sprintf("base %d\n", b),
	})
}

// Image builds application a on base b: the base layer plus one layer
// with the application's files. Images of one base share its layer blob.
func Image(base v1.Layer, b, a int) (v1.Image, error) {
	app, err := Layer(map[string]string{
		fmt.Sprintf("app/app%d-%d.txt", b, a): fmt.Sprintf("application %d on base %d\n", a, b),
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: v1.History{CreatedBy: fmt.Sprintf("ADD base%d.tar /", b), Created: v1.Time{Time: time.Unix(0, 0)}}},
		mutate.Addendum{Layer: app, History: v1.History{CreatedBy: fmt.Sprintf("COPY app%d /app", a), Created: v1.Time{Time: time.Unix(0, 0)}}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = "nobody"
	cf.Config.Cmd = []string{"/app/run"}
	return mutate.ConfigFile(img, cf)
}

// Options sizes what Push generates.
type Options struct {
	Bases, Apps int
	// Extra is the number of filler packages per base (BasePackages).
	Extra int
}

// Push generates Bases × Apps images and pushes each to
// <registry>/base<b>/app<a>:1; it returns the references in push order.
func Push(registry string, o Options) ([]string, error) {
	var refs []string
	for b := range o.Bases {
		base, err := BaseLayer(b, o.Extra)
		if err != nil {
			return nil, err
		}
		for a := range o.Apps {
			img, err := Image(base, b, a)
			if err != nil {
				return nil, err
			}
			r := fmt.Sprintf("%s/base%d/app%d:1", registry, b, a)
			ref, err := name.ParseReference(r)
			if err != nil {
				return nil, err
			}
			if err := remote.Write(ref, img); err != nil {
				return nil, fmt.Errorf("push %s: %w", r, err)
			}
			refs = append(refs, r)
		}
	}
	return refs, nil
}

func sortStrings(s []string) { slices.Sort(s) }
