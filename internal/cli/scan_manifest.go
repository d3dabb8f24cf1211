package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/manifest"
	rtrules "github.com/kensa-sec/kensa/internal/rules/runtime"
)

// targetManifest is a compose file, Kubernetes/Knative manifest, a folder
// of them, or "-" (a manifest stream on standard input, e.g. helm template).
const targetManifest targetKind = "manifest"

// manifestExts are the file name endings a folder scan considers.
var manifestExts = []string{".yaml", ".yml"}

// maxManifestFiles bounds how many manifest files a folder scan reads.
const maxManifestFiles = 2000

// skipDirs are folders a manifest search never enters.
var skipDirs = map[string]bool{"node_modules": true, "vendor": true, "testdata": true}

// manifestFiles lists the compose and Kubernetes/Knative files in dir and
// its subfolders up to two levels down (k8s/, deploy/base/...), skipping
// hidden and dependency folders, sorted. Files that are not manifests
// (other YAML, Helm templates that are not YAML) are left out.
func manifestFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // an unreadable subfolder is not a manifest
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()] || strings.Count(rel, string(filepath.Separator)) >= 2) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !hasManifestExt(d.Name()) {
			return nil
		}
		if manifest.SniffFile(p) != "" {
			out = append(out, p)
			if len(out) > maxManifestFiles {
				return fmt.Errorf("%s: more than %d manifest files: scan a narrower folder", dir, maxManifestFiles)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func hasManifestExt(name string) bool {
	for _, e := range manifestExts {
		if strings.HasSuffix(strings.ToLower(name), e) {
			return true
		}
	}
	return false
}

// scanManifests checks manifest files (paths as found; shown relative to
// base when base is a folder holding them) and, for "-", standard input.
// All files form one scan, so calls between Cloud Run services in
// different files are checked.
func scanManifests(ctx context.Context, o *scanOptions, target, base string, files []string) (*finding.Report, error) {
	p, err := loadPolicy(o, o.targetDir)
	if err != nil {
		return nil, err
	}
	opts := rtrules.Options{}
	if list := p.TrustedRegistries(); len(list) > 0 {
		opts.IsTrusted, opts.TrustedRegistries = p.Trusted, list
	}
	rep := finding.NewReport(target, string(targetManifest))
	if base != "" || o.ProfileImage != "" {
		pf, note, err := folderProfile(ctx, o, base)
		if err != nil {
			return nil, err
		}
		opts.ProfileFor = pf
		if note != "" {
			rep.Notes = append(rep.Notes, note)
		}
	}
	chk := rtrules.New(opts)
	objects := 0
	for _, f := range files {
		display := f
		if base != "" {
			if rel, err := filepath.Rel(base, f); err == nil && !strings.HasPrefix(rel, "..") {
				display = filepath.ToSlash(rel)
			}
		}
		var st *manifest.Stats
		mopts := manifest.Options{WorkingDir: filepath.Dir(f)}
		check := func(w *manifest.Workload) error { chk.Check(w); return nil }
		if f == "-" {
			in := o.stdin
			if in == nil {
				in = os.Stdin
			}
			mopts.WorkingDir = ""
			st, err = manifest.Load(ctx, "<stdin>", in, mopts, check)
		} else {
			var fh *os.File
			fh, err = os.Open(f)
			if err != nil {
				return nil, &InputError{Err: fmt.Errorf("manifest %s: %w", f, err)}
			}
			st, err = manifest.Load(ctx, display, fh, mopts, check)
			fh.Close()
		}
		if err != nil {
			var me *manifest.Error
			if errors.As(err, &me) {
				return nil, &InputError{Err: err}
			}
			return nil, fmt.Errorf("manifest %s: %w", display, err)
		}
		objects += st.Objects
		rep.Notes = append(rep.Notes, st.Notes...)
		rep.Notes = append(rep.Notes, st.SkipNotes()...)
	}
	rep.Findings = keepScanners(o, chk.Finish())
	if !o.Quiet {
		rep.Notes = append(rep.Notes, fmt.Sprintf("manifests: %d files, %d objects checked", len(files), objects))
	}
	return rep, nil
}

// scanFolderManifests adds the manifests of a build-context folder to its
// Dockerfile report, so `kensa scan .` checks how the image is run too.
func scanFolderManifests(ctx context.Context, o *scanOptions, rep *finding.Report, dir string) error {
	files, err := manifestFiles(dir)
	if err != nil {
		return &InputError{Err: err}
	}
	if len(files) == 0 {
		return nil
	}
	mrep, err := scanManifests(ctx, o, dir, dir, files)
	if err != nil {
		return err
	}
	rep.TargetKind += "+manifest"
	rep.Findings = append(rep.Findings, mrep.Findings...)
	rep.Notes = append(rep.Notes, mrep.Notes...)
	return nil
}

// folderProfile derives the hardened profile of the one image archive or
// OCI layout in dir (as `kensa harden` does), so the manifests next to it
// are compared with what the image needs (KS-RT-025/026). A container
// matches when its image's repository name equals one of the archive's
// names or the archive's file name.
//
// --profile-image IMAGE names the image instead (an archive, layout or
// registry reference); its reference's repository name matches too.
func folderProfile(ctx context.Context, o *scanOptions, dir string) (func(string) *rtrules.Profile, string, error) {
	var imgs []string
	if o.ProfileImage != "" {
		imgs = []string{o.ProfileImage}
	} else if dir != "" {
		imgs = builtImages(dir)
	}
	if len(imgs) != 1 {
		return nil, "", nil
	}
	ho := &scanOptions{Quiet: true, MaxFile: o.MaxFile, Platform: o.Platform, Insecure: o.Insecure}
	hp, err := hardenProfile(ctx, ho, imgs[0], io.Discard)
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return nil, "", &InputError{Err: fmt.Errorf("profile image %s: %w", imgs[0], err)}
		}
		return nil, "", fmt.Errorf("profile image %s: %w", imgs[0], err)
	}
	keys := map[string]bool{imageKey(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(imgs[0]), ".tar"), ".docker")): true}
	keys[imageKey(strings.TrimSuffix(filepath.Base(imgs[0]), ".oci"))] = true
	keys[imageKey(hp.Image)] = true
	keys[imageKey(imgs[0])] = true
	p := &rtrules.Profile{Image: hp.Image, UID: hp.UID, GID: hp.GID, ImageUser: hp.FromConfig}
	for _, w := range hp.Writable {
		p.Writable = append(p.Writable, w.Path)
	}
	for _, c := range hp.CapAdd {
		p.CapAdd = append(p.CapAdd, c.Name)
	}
	for _, pt := range hp.Ports {
		p.Ports = append(p.Ports, pt.Port)
	}
	note := fmt.Sprintf("manifests compared with the hardened profile of %s (%s): user %s, writable %s", imgs[0], hp.Image, hp.User(), strings.Join(p.Writable, " "))
	return func(image string) *rtrules.Profile {
		if keys[imageKey(image)] {
			return p
		}
		return nil
	}, note, nil
}

// imageKey is an image reference's repository base name, lower-cased
// ("registry.example/team/web:1.2@sha256:..." → "web").
func imageKey(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	ref, _, _ = strings.Cut(ref, ":")
	return strings.ToLower(ref)
}
