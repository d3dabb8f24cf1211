package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/baseline"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/manifest"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// scanOptions holds every `kensa scan` flag. Scanner wiring files read it.
type scanOptions struct {
	Format         string
	Output         string
	Severity       string // comma-separated list of severities to show
	ExitCode       int
	Config         string
	IgnoreFile     string
	ShowSuppressed bool
	Baseline       string   // --baseline report.json: show and gate only new findings
	Scanners       []string // misconfig, secret, vuln
	Quiet          bool

	// Image sources.
	Image      string   // --image NAME inside a multi-image archive
	ImageSrc   []string // --image-src docker,podman,remote
	Platform   string   // --platform os/arch[/variant]
	Insecure   bool
	Rootfs     string
	Dockerfile string // --dockerfile PATH for attribution
	Base       string // --base IMAGE: the image this one was built on
	// ProfileImage is the image whose hardened profile manifests are
	// compared with (KS-RT-025/026).
	ProfileImage string
	NoCache      bool
	CacheDir     string
	MaxFile      int64 // per-file content cap in bytes

	// Vulnerabilities.
	DBPath        string
	IgnoreUnfixed bool
	VEX           []string

	// Trivy's spellings (--timeout, --vuln-type, --list-all-pkgs, ...).
	Trivy trivyOptions
	// Server and Token make scan a client of kensa server (scan_server.go).
	Server string
	Token  string
	// PolicyDir is --policy: a folder (or file) of Rego policies.
	PolicyDir string

	// Set by runScan / finishScan, not by flags.
	baseline  baseline.Set   // fingerprints of --baseline's findings
	targetDir string         // folder whose kensa.yaml / .kensaignore apply
	policy    *policy.Policy // loaded once by loadPolicy
	// regoPolicies are the compiled --policy rules (nil without it).
	regoPolicies *regoRun
	color        bool             // table colours (terminal, NO_COLOR)
	now          func() time.Time // clock for ignore expiry and SBOM times (tests)
	stdin        io.Reader        // what TARGET "-" reads (the command's stdin)
	// scannersSet is true when --scanners (or KENSA_SCANNERS) was given:
	// an explicitly requested scanner that cannot run is an error, a
	// default one is skipped with a warning.
	scannersSet bool
}

// scannerEnabled reports whether --scanners includes s.
func (o *scanOptions) scannerEnabled(s string) bool {
	for _, x := range o.Scanners {
		if x == s {
			return true
		}
	}
	return false
}

// targetKind is what `kensa scan` decided its argument is.
type targetKind string

const (
	targetDockerfile targetKind = "dockerfile" // a Dockerfile, or a folder with one and its build context
	targetImage      targetKind = "image"      // archive, OCI layout or registry reference
	targetRootfs     targetKind = "rootfs"
	targetSBOM       targetKind = "sbom"
)

func newScanCmd() *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan TARGET",
		Short: "Scan a Dockerfile, build context, image archive, OCI layout, registry image, rootfs, SBOM or runtime manifest",
		Long: `Scan detects what TARGET is and runs every applicable scanner:
  kensa scan .                          Dockerfile + build context in this folder
  kensa scan path/to/Dockerfile         one Dockerfile
  kensa scan app.tar                    docker save / podman save / OCI archive
  kensa scan oci-layout-dir/            OCI image layout
  kensa scan registry.example/app:1.2   image in a registry (docker config auth)
  kensa scan myapp:latest               image in a local Docker/Podman engine, else the registry (--image-src)
  kensa scan --rootfs ./rootfs          unpacked root filesystem
  kensa scan sbom.json                  CycloneDX or SPDX SBOM (vulnerabilities)
  kensa scan compose.yaml               Docker Compose, Kubernetes or Knative/Cloud Run
                                        manifest (a folder of them, or - for stdin:
                                        helm template . | kensa scan -)

Every flag can also be set with a KENSA_<FLAG> environment variable
(e.g. KENSA_SEVERITY=HIGH,CRITICAL, KENSA_EXIT_CODE=1).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			o.scannersSet = cmd.Flags().Changed("scanners")
			if o.Trivy.ListAllPkgs {
				o.Scanners = scannersWithInventory(o.Scanners)
			}
			o.stdin = cmd.InOrStdin()
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return runScan(cmd.Context(), o, target, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table, json, sarif, html, cyclonedx, spdx")
	f.StringVarP(&o.Output, "output", "o", "", "write the report to this file instead of stdout")
	f.StringVarP(&o.Severity, "severity", "s", "", "severities to show, comma-separated (default all: CRITICAL,HIGH,MEDIUM,LOW,INFO,UNKNOWN)")
	f.IntVar(&o.ExitCode, "exit-code", 0, "exit with this code when findings at the shown severities remain")
	f.StringVarP(&o.Config, "config", "c", "", "config file (default kensa.yaml in the target folder, if present)")
	f.StringVar(&o.IgnoreFile, "ignorefile", "", "ignore file (default .kensaignore in the target folder, if present, else a .trivyignore there)")
	f.BoolVar(&o.ShowSuppressed, "show-suppressed", false, "also show findings suppressed by ignores, VEX or the baseline")
	f.StringVar(&o.Baseline, "baseline", "", "a previous JSON report: findings already in it are suppressed, so only new ones are shown and gated")
	f.StringSliceVar(&o.Scanners, "scanners", []string{"misconfig", "secret", "vuln"}, "scanners to run: misconfig, secret, vuln")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	addImageSourceFlags(f, o)
	f.StringVar(&o.Dockerfile, "dockerfile", "", "Dockerfile that built the image, to trace findings to its lines")
	f.StringVar(&o.Base, "base", "", "the image's base image (archive, OCI layout or reference), to tell its findings from the image's own (default: the Dockerfile's FROM, else the org.opencontainers.image.base.name label)")
	f.StringVar(&o.ProfileImage, "profile-image", "", "image (archive, layout or reference) whose hardened profile the scanned manifests are compared with (default: the one image archive in the manifests' folder)")
	f.StringVar(&o.DBPath, "db", "", "vulnerability database file (default <cache-dir>/db/kensa.db)")
	f.BoolVar(&o.IgnoreUnfixed, "ignore-unfixed", false, "hide vulnerabilities that have no fixed version")
	f.StringSliceVar(&o.VEX, "vex", nil, "OpenVEX document(s) whose not_affected/fixed statements suppress findings")
	addTrivyFlags(f, &o.Trivy)
	addServerFlags(f, o)
	f.StringVar(&o.PolicyDir, "policy", "", "folder (or file) of Rego policies whose deny/warn rules add findings (docs/policies.md)")
	return cmd
}

// addImageSourceFlags registers the flags that choose and read an image
// (shared by `scan` and `sbom`).
func addImageSourceFlags(f *pflag.FlagSet, o *scanOptions) {
	f.StringVar(&o.Image, "image", "", "image name to pick inside a multi-image archive")
	f.StringSliceVar(&o.ImageSrc, "image-src", source.DefaultSources, "where an image reference is looked up, in order: docker (Engine API socket, DOCKER_HOST), podman (CONTAINER_HOST or podman's socket), remote (the registry); engines without a socket are skipped")
	f.StringVar(&o.Platform, "platform", "", "platform to pick from a multi-platform index, os/arch[/variant] (default the host's)")
	f.BoolVar(&o.Insecure, "insecure", false, "allow plain-HTTP and unverified-TLS registries")
	f.StringVar(&o.Rootfs, "rootfs", "", "an unpacked root filesystem folder instead of a TARGET")
	f.BoolVar(&o.NoCache, "no-cache", false, "do not read or write the layer cache")
	f.StringVar(&o.CacheDir, "cache-dir", "", "cache folder (default the user cache dir + /kensa)")
	f.Int64Var(&o.MaxFile, "max-file-size", layerfs.DefaultMaxFileSize, "largest file (bytes) an analyzer reads whole (package databases, binaries, archives); larger ones are reported as skipped. Secrets are scanned in files of any size, in pieces")
}

// runScan detects the target, runs the scanners and writes the report.
func runScan(ctx context.Context, o *scanOptions, target string, stdout, stderr io.Writer) error {
	// Fail fast on bad output flags, before scanning.
	if _, _, err := prepareOutput(o); err != nil {
		return err
	}
	if o.Baseline != "" {
		old, err := baseline.ReadReport(o.Baseline)
		if err != nil {
			return &InputError{Err: fmt.Errorf("--baseline: %w", err)}
		}
		o.baseline = baseline.Of(old)
	}
	if o.Server != "" {
		return scanViaServer(ctx, o, target, stdout, stderr)
	}
	rep, err := buildReport(ctx, o, target, stderr)
	if err != nil {
		return err
	}
	return finishScan(o, rep, stdout)
}

// buildReport detects the target and runs the scanners on it, returning
// the report before policy, baseline and severity filter.
func buildReport(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (*finding.Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := o.Trivy.check(); err != nil {
		return nil, err
	}
	if err := source.CheckSources(o.ImageSrc); o.ImageSrc != nil && err != nil {
		return nil, inputErrorf("--image-src: %v", err)
	}
	ctx, cancel := o.Trivy.withTimeout(ctx)
	defer cancel()
	kind, err := detectTarget(o, target)
	if err != nil {
		return nil, err
	}
	// A rootfs is an image's filesystem, not a project: only the working
	// directory's policy files apply (targetDirFor("") == "").
	o.targetDir = targetDirFor(kind, target)
	if _, err := loadPolicy(o, o.targetDir); err != nil {
		return nil, err
	}
	if err := loadRegoPolicies(ctx, o); err != nil {
		return nil, err
	}
	var rep *finding.Report
	switch kind {
	case targetDockerfile:
		rep, err = scanDockerfile(ctx, o, target, stderr)
		if err == nil {
			err = scanBuiltImage(ctx, o, rep, target, stderr)
		}
		if st, serr := os.Stat(target); err == nil && serr == nil && st.IsDir() {
			err = scanFolderManifests(ctx, o, rep, target)
		}
	case targetManifest:
		files, base := []string{target}, ""
		if st, serr := os.Stat(target); target != "-" && serr == nil && st.IsDir() {
			base = target
			if files, err = manifestFiles(target); err != nil {
				return nil, &InputError{Err: err}
			}
		}
		rep, err = scanManifests(ctx, o, target, base, files)
	case targetImage, targetRootfs:
		rep, err = scanImage(ctx, o, kind, target, stderr)
	case targetSBOM:
		rep, err = scanSBOM(ctx, o, target, stderr)
	}
	if err == nil {
		err = ctx.Err() // a step that does not watch ctx ran past --timeout
	}
	if err != nil {
		return nil, o.Trivy.timeoutErr(ctx, target, err)
	}
	return rep, nil
}

// detectTarget decides what target is.
func detectTarget(o *scanOptions, target string) (targetKind, error) {
	if o.Rootfs != "" {
		if target != "" {
			return "", inputErrorf("give either --rootfs DIR or a TARGET, not both")
		}
		st, err := os.Stat(o.Rootfs)
		if err != nil {
			return "", &InputError{Err: fmt.Errorf("rootfs %s: %w", o.Rootfs, err)}
		}
		if !st.IsDir() {
			return "", inputErrorf("rootfs %s: not a folder", o.Rootfs)
		}
		return targetRootfs, nil
	}
	if target == "" {
		return "", inputErrorf("scan needs a TARGET (a Dockerfile, folder, image archive, OCI layout, image reference, SBOM or manifest) or --rootfs DIR")
	}
	if target == "-" {
		return targetManifest, nil
	}
	st, err := os.Stat(target)
	switch {
	case err == nil && st.IsDir():
		if fileExists(filepath.Join(target, "oci-layout")) || fileExists(filepath.Join(target, "index.json")) {
			return targetImage, nil
		}
		if _, ok := findDockerfile(target); ok {
			return targetDockerfile, nil
		}
		if files, err := manifestFiles(target); err == nil && len(files) > 0 {
			return targetManifest, nil
		}
		return "", inputErrorf("%s: folder holds no Dockerfile/Containerfile, OCI image layout, compose file or Kubernetes manifest", target)
	case err == nil:
		return sniffFile(target)
	case errors.Is(err, fs.ErrNotExist):
		if source.LooksLikePath(target) {
			return "", inputErrorf("%s: no such file or folder", target)
		}
		if looksLikeReference(target) {
			return targetImage, nil
		}
		return "", inputErrorf("%s: no such file or folder, and not an image reference", target)
	default:
		return "", &InputError{Err: fmt.Errorf("%s: %w", target, err)}
	}
}

// dockerfileNames are the file names a build looks for in a context folder.
var dockerfileNames = []string{"Dockerfile", "Containerfile", "dockerfile", "containerfile"}

// findDockerfile returns the Dockerfile inside a context folder.
func findDockerfile(dir string) (string, bool) {
	for _, n := range dockerfileNames {
		p := filepath.Join(dir, n)
		if fileExists(p) {
			return p, true
		}
	}
	return "", false
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// sniffFile looks at a file's first bytes to tell an image archive or an SBOM
// from a Dockerfile.
func sniffFile(path string) (targetKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", &InputError{Err: fmt.Errorf("%s: %w", path, err)}
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case n >= 262 && string(head[257:262]) == "ustar":
		return targetImage, nil
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b: // gzip: a compressed archive
		return targetImage, nil
	case n >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd": // zstd
		return targetImage, nil
	}
	if why := notArchive(path, head); why != "" {
		return "", inputErrorf("%s: %s", path, why)
	}
	if trimmed := strings.TrimSpace(string(head)); strings.HasPrefix(trimmed, "{") {
		var probe map[string]json.RawMessage
		full, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(full, &probe) == nil {
			if _, ok := probe["bomFormat"]; ok {
				return targetSBOM, nil
			}
			if _, ok := probe["spdxVersion"]; ok {
				return targetSBOM, nil
			}
		}
	}
	// YAML files are manifests (a broken one gets the YAML error, not
	// "not a Dockerfile"); other names when their content says so.
	if hasManifestExt(path) {
		return targetManifest, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err == nil && manifest.Sniff(f) != "" {
		return targetManifest, nil
	}
	return targetDockerfile, nil
}

// notArchive explains why a file that is not a tar, gzip or zstd stream
// (sniffFile checked those) cannot be scanned as an image: a name that
// promises an archive, or binary content, which is neither a Dockerfile
// nor an SBOM either. It returns "" for text that may be one of those.
func notArchive(path string, head []byte) string {
	lead := head
	if len(lead) > 8 {
		lead = lead[:8]
	}
	why := fmt.Sprintf("not a tar, gzip or zstd stream: it starts with bytes % x", lead)
	if len(head) == 0 {
		why = "not a tar, gzip or zstd stream: the file is empty"
	}
	low := strings.ToLower(path)
	for _, suf := range append(imageArchiveSuffixes, ".oci") {
		if strings.HasSuffix(low, suf) {
			return "not an image archive: " + why
		}
	}
	if base := strings.ToLower(filepath.Base(path)); strings.Contains(base, "dockerfile") || strings.Contains(base, "containerfile") {
		return "" // the Dockerfile parser names the line with the binary data
	}
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(trimPartialRune(head)) {
		return "binary data, neither a Dockerfile or SBOM nor an image archive (" + why + ")"
	}
	return ""
}

// trimPartialRune drops a UTF-8 sequence cut off at the end of a read.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(b); r != utf8.RuneError {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// looksLikeReference reports whether s parses as an image reference with a
// registry, repository path or tag, so a typo'd file name is not sent to
// Docker Hub.
func looksLikeReference(s string) bool {
	if strings.ContainsAny(s, " \t\\") {
		return false
	}
	if _, err := name.ParseReference(s, name.StrictValidation); err == nil {
		return true
	}
	if !strings.ContainsAny(s, ":/@") {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil
}

// imageArchiveSuffixes are the file names scanBuiltImage considers.
var imageArchiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst"}

// builtImages lists the image archives and OCI layouts directly inside dir.
func builtImages(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if fileExists(filepath.Join(p, "oci-layout")) {
				out = append(out, p)
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		for _, suf := range imageArchiveSuffixes {
			if strings.HasSuffix(e.Name(), suf) {
				if k, err := sniffFile(p); err == nil && k == targetImage {
					out = append(out, p)
				}
				break
			}
		}
	}
	return out
}

// scanBuiltImage completes the scan of a build-context folder that also
// holds the image built from it (an image archive or OCI layout next to the
// Dockerfile): the image is scanned too, its findings traced to the
// Dockerfile's lines, and everything lands in one report. With several
// images in the folder it only says how to scan one of them.
func scanBuiltImage(ctx context.Context, o *scanOptions, rep *finding.Report, target string, stderr io.Writer) error {
	st, err := os.Stat(target)
	if err != nil || !st.IsDir() {
		return nil
	}
	imgs := builtImages(target)
	switch len(imgs) {
	case 0:
		return nil
	case 1:
	default:
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s holds %d images (%s): scan one with `kensa scan IMAGE --dockerfile DOCKERFILE` to trace its findings to the Dockerfile",
			target, len(imgs), strings.Join(imgs, ", ")))
		return nil
	}
	img := *o
	if img.Dockerfile == "" {
		img.Dockerfile, _ = findDockerfile(target)
	} else if !filepath.IsAbs(img.Dockerfile) && !fileExists(img.Dockerfile) {
		img.Dockerfile = filepath.Join(target, img.Dockerfile)
	}
	irep, err := scanImage(ctx, &img, targetImage, imgs[0], stderr)
	if err != nil {
		return fmt.Errorf("image %s built from %s: %w", imgs[0], target, err)
	}
	// Name the Dockerfile as the lint findings do: relative to the folder.
	if rel, err := filepath.Rel(target, img.Dockerfile); err == nil {
		relocate := func(l *finding.Location) {
			if l.Dockerfile == img.Dockerfile {
				l.Dockerfile = filepath.ToSlash(rel)
			}
		}
		for i := range irep.Findings {
			relocate(&irep.Findings[i].Location)
			for j := range irep.Findings[i].Related {
				relocate(&irep.Findings[i].Related[j])
			}
		}
	}
	rep.TargetKind = "dockerfile+image"
	rep.Findings = append(rep.Findings, irep.Findings...)
	rep.Suppressed = append(rep.Suppressed, irep.Suppressed...)
	rep.Image, rep.OS, rep.Packages = irep.Image, irep.OS, irep.Packages
	rep.Notes = append(rep.Notes, irep.Notes...)
	return nil
}
