package secret

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/lazyre"
	"github.com/kensa-sec/kensa/internal/rules"
)

// CredentialFileRule is the rule ID the analyzer gives credential files
// (found by name and confirmed by content). The image rules keep it for
// files still present in the final filesystem and turn it into KS-IM-005
// when a later layer deleted or replaced the file.
const CredentialFileRule = "KS-IM-004"

// MaxMatchesPerFile bounds the findings one file can produce; the rest is
// recorded as skipped.
const MaxMatchesPerFile = 50

// Options configures the secret analyzer.
type Options struct {
	// MaxFileSize, when positive, is the largest file scanned. By default
	// the analyzer asks for files of any size: files above the walk's
	// StreamThreshold are scanned in pieces (see Stream), so their size
	// costs no memory, and the walk's content cap (--max-file-size) only
	// bounds credential files, which are judged whole.
	MaxFileSize int64
	// ScanNoisePaths also scans documentation and the test folders of
	// language packages (see IsNoisePath), which are skipped by default.
	ScanNoisePaths bool
}

// Analyzer returns the layer analyzer that scans file contents for
// secrets (KS-SE-*) and flags credential files by name (KS-IM-004).
func Analyzer(opts Options) layerfs.Analyzer {
	return &analyzer{opts: opts}
}

type analyzer struct{ opts Options }

func (a *analyzer) Name() string { return "secret" }
func (a *analyzer) Version() int { return 5 }

func (a *analyzer) Wants(p string, size int64, mode fs.FileMode) bool {
	if !mode.IsRegular() || size <= 0 || a.opts.MaxFileSize > 0 && size > a.opts.MaxFileSize {
		return false
	}
	if !a.opts.ScanNoisePaths && IsNoisePath(p) {
		return false
	}
	if credentialFileKind(p) != "" {
		return true
	}
	return !skipExtension(p)
}

func (a *analyzer) Analyze(_ context.Context, f *layerfs.File, out *layerfs.LayerFacts) error {
	p := f.Path
	if !a.opts.ScanNoisePaths && IsNoisePath(p) {
		return nil
	}
	if desc := CredentialFile(p, f.Content); desc != "" {
		r := rules.MustLookup(CredentialFileRule)
		out.Findings = append(out.Findings, r.NewFinding(fmt.Sprintf("credential file %s: %s", p, desc), finding.Location{Path: p}))
	}
	ms := Scan(f.Content)
	report(p, ms[:min(len(ms), MaxMatchesPerFile)], len(ms), out)
	return nil
}

// report records the first matches of the n found in the file at p.
func report(p string, ms []Match, n int, out *layerfs.LayerFacts) {
	if n > len(ms) {
		out.Skipped = append(out.Skipped, layerfs.Skip{Path: p, Reason: fmt.Sprintf("secret: %d matches, only the first %d reported", n, len(ms))})
	}
	for _, m := range ms {
		out.Findings = append(out.Findings, m.Finding(finding.Location{Path: p, Line: m.Line}))
	}
}

// Stream scans files in pieces (see the Stream type), except credential
// files, which are judged on their whole content (CredentialFile).
func (a *analyzer) Stream(f *layerfs.File) layerfs.Sink {
	if credentialFileKind(f.Path) != "" {
		return nil
	}
	return &sink{path: f.Path, st: NewStream(MaxMatchesPerFile)}
}

// sink is the secret analyzer's layerfs.Sink for one file.
type sink struct {
	path string
	st   *Stream
}

func (s *sink) Write(p []byte) { s.st.Write(p) }

func (s *sink) Close(_ context.Context, out *layerfs.LayerFacts) error {
	report(s.path, s.st.Close(), s.st.Count(), out)
	return nil
}

// Finding turns a match into a finding at loc; the message names the
// place and shows only the redacted secret.
func (m Match) Finding(loc finding.Location) finding.Finding {
	where := loc.Path
	if loc.Line > 0 {
		where = fmt.Sprintf("%s:%d", loc.Path, loc.Line)
	}
	msg := fmt.Sprintf("%s %s", m.Title, m.Redacted)
	if where != "" {
		msg += " in " + where
	}
	return finding.Finding{Kind: finding.KindSecret, ID: m.RuleID, Severity: m.Severity, Title: m.Title,
		Message: msg, Location: loc, Fix: m.Fix}
}

// noisePrefixes hold documentation and data that ship example credentials
// (man pages, package docs) rather than real ones.
var noisePrefixes = []string{
	"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/locale/",
	"/usr/share/zoneinfo/", "/usr/share/i18n/", "/usr/share/mime/", "/usr/share/help/",
}

// packageRoots are folders holding installed or third-party software;
// test folders below them carry fixture keys and tokens. /usr/lib and
// friends must be a prefix; the others may appear anywhere in the path.
var (
	installRoots = []string{"/usr/lib/", "/usr/lib64/", "/usr/local/lib/", "/usr/share/", "/usr/libexec/"}
	packageRoots = []string{
		"/site-packages/", "/dist-packages/", "/node_modules/", "/go/pkg/mod/", "/usr/local/go/src/",
		"/gems/", "/vendor/", "/vendored/", "/third_party/", "/.cargo/registry/",
	}
)

var pythonStdlibTest = lazyre.New(`^/usr/(?:local/)?lib/python[0-9.]+/(?:test|unittest/test|lib2to3/tests|idlelib/idle_test)/`)
var goRootSrc = lazyre.New(`^/usr/(?:local/go|lib/go(?:-[0-9.]+)?)/(?:src|test)/`)

var testSegments = map[string]bool{"test": true, "tests": true, "testdata": true, "test_data": true, "__tests__": true, "fixtures": true, "spec": true, "testing": true}

// IsNoisePath reports paths whose secrets are documentation or fixtures of
// installed software, not the image owner's credentials: package docs and
// man pages, Python's and Go's own test suites, test/fixture folders below
// /usr/lib, /usr/local/lib and /usr/share (distribution and vendor
// packages), and test/fixture folders inside language packages anywhere
// (site-packages, node_modules, Go module cache, gems, vendor,
// third_party). An application's own test folder (e.g. /app/test) is NOT
// noise: it ships in the image and is the owner's code.
func IsNoisePath(p string) bool {
	for _, pre := range noisePrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	if pythonStdlibTest().MatchString(p) || goRootSrc().MatchString(p) {
		return true
	}
	for _, root := range installRoots {
		if strings.HasPrefix(p, root) && hasTestSegment(p[len(root):]) {
			return true
		}
	}
	for _, root := range packageRoots {
		i := strings.Index(p, root)
		if i >= 0 && hasTestSegment(p[i+len(root):]) {
			return true
		}
	}
	return false
}

var testFileName = lazyre.New(`^(?:test_.+\.py|.+_test\.(?:py|go)|.+\.(?:test|spec)\.[jt]sx?|(?i:readme|changelog|changes|history)(?:\.(?:md|rst|txt|markdown))?)$`)

// hasTestSegment reports whether a folder of rel is a test folder or
// package metadata (*.dist-info, *.egg-info), or rel names a test file
// (test_x.py, x_test.go, x.spec.js) or a package's README/CHANGELOG.
func hasTestSegment(rel string) bool {
	dirs := strings.Split(rel, "/")
	for _, d := range dirs[:len(dirs)-1] {
		if strings.HasSuffix(d, ".dist-info") || strings.HasSuffix(d, ".egg-info") {
			return true
		}
	}
	if testFileName().MatchString(dirs[len(dirs)-1]) {
		return true
	}
	for _, seg := range dirs[:len(dirs)-1] {
		if testSegments[seg] {
			return true
		}
	}
	return false
}

var skipExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".webp": true, ".bmp": true,
	".ttf": true, ".otf": true, ".woff": true, ".woff2": true, ".eot": true,
	".mp3": true, ".mp4": true, ".ogg": true, ".wav": true, ".avi": true, ".mov": true,
	".gz": true, ".tgz": true, ".xz": true, ".bz2": true, ".zst": true, ".zip": true, ".7z": true,
	".jar": true, ".war": true, ".whl": true, ".deb": true, ".rpm": true,
	".pyc": true, ".pyo": true, ".mo": true, ".a": true, ".o": true, ".so": true, ".class": true,
	// Model weights and numeric arrays: gigabytes of floats, no text.
	".safetensors": true, ".gguf": true, ".onnx": true, ".pt": true, ".pth": true, ".ckpt": true,
	".h5": true, ".tflite": true, ".npy": true, ".npz": true,
}

// skipExtension reports files whose content is compressed, media, model
// weights or compiled objects: a text pattern cannot match inside them meaningfully
// (shared libraries are skipped too: they carry library code, not the
// image owner's credentials; executables without extension are scanned).
func skipExtension(p string) bool {
	base := path.Base(p)
	if i := strings.Index(base, ".so."); i > 0 {
		return true // libfoo.so.1.2
	}
	return skipExt[strings.ToLower(path.Ext(base))]
}

// credentialFileKind names the kind of credential file p is by its name,
// or "" when its name says nothing.
func credentialFileKind(p string) string {
	base := path.Base(p)
	switch base {
	case "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity":
		return "ssh-key"
	case ".npmrc":
		return "npmrc"
	case ".pypirc":
		return "pypirc"
	case ".git-credentials":
		return "git-credentials"
	case ".netrc", "_netrc":
		return "netrc"
	case ".pgpass":
		return "pgpass"
	case ".vault-token":
		return "vault-token"
	case "kubeconfig", "admin.conf":
		return "kubeconfig"
	}
	switch {
	case strings.HasSuffix(p, "/.aws/credentials"):
		return "aws"
	case strings.HasSuffix(p, "/.docker/config.json"), strings.HasSuffix(p, "/containers/auth.json"):
		return "docker"
	case strings.HasSuffix(p, "/.kube/config"), strings.HasSuffix(base, ".kubeconfig"):
		return "kubeconfig"
	}
	switch strings.ToLower(path.Ext(base)) {
	case ".pem", ".key":
		return "pem"
	case ".p12", ".pfx":
		return "pkcs12"
	}
	return ""
}

var (
	reNpmAuth    = lazyre.New(`(?m)(?:_authToken|_auth|_password)\s*=\s*(\S+)`)
	reIniPass    = lazyre.New(`(?mi)^\s*password\s*[=:]\s*(\S+)`)
	reNetrcPass  = lazyre.New(`(?:^|\s)password\s+(\S+)`)
	reGitCred    = lazyre.New(`(?m)^[a-z][a-z0-9+.-]*://[^:@\s/]+:([^@\s]+)@`)
	reAWSCred    = lazyre.New(`(?mi)^\s*aws_(?:secret_access_key|session_token)\s*=\s*(\S+)`)
	reDockerAuth = lazyre.New(`"(?:auth|identitytoken|registrytoken)"\s*:\s*"([^"]+)"`)
	reKubeCred   = lazyre.New(`(?m)^\s*(?:token|client-key-data|password)\s*:\s*["']?([^\s"']+)`)
)

// CredentialFile reports whether the file at p with this content is a
// credential file, and describes it. Names alone do not decide: the
// content must hold a credential that is not a placeholder (an .npmrc
// with only a registry URL, a .pem holding only certificates, or an
// empty docker config are not reported).
func CredentialFile(p string, content []byte) string {
	has := func(re *regexp.Regexp) bool {
		for _, m := range re.FindAllSubmatch(content, 20) {
			if valueIsSet(string(m[1])) {
				return true
			}
		}
		return false
	}
	switch credentialFileKind(p) {
	case "ssh-key":
		if len(findPrivateKey(content)) > 0 {
			return "SSH private key"
		}
	case "pem":
		if len(findPrivateKey(content)) > 0 {
			return "PEM private key"
		}
	case "pkcs12":
		if len(content) > 0 {
			return "PKCS#12 key store (holds a private key)"
		}
	case "npmrc":
		if has(reNpmAuth()) {
			return "npm registry auth token"
		}
	case "pypirc":
		if has(reIniPass()) {
			return "PyPI upload password"
		}
	case "git-credentials":
		if has(reGitCred()) {
			return "Git HTTPS credentials"
		}
	case "netrc":
		if has(reNetrcPass()) {
			return "netrc login password"
		}
	case "pgpass":
		for _, l := range bytes.Split(content, []byte("\n")) {
			l = bytes.TrimSpace(l)
			if f := bytes.Split(l, []byte(":")); len(f) >= 5 && l[0] != '#' && valueIsSet(string(f[4])) {
				return "PostgreSQL password file"
			}
		}
	case "vault-token":
		if valueIsSet(string(bytes.TrimSpace(content))) {
			return "HashiCorp Vault token"
		}
	case "aws":
		if has(reAWSCred()) {
			return "AWS shared credentials"
		}
	case "docker":
		if has(reDockerAuth()) {
			return "registry credentials (auths)"
		}
	case "kubeconfig":
		if bytes.Contains(content, []byte("clusters:")) && has(reKubeCred()) {
			return "kubeconfig with user credentials"
		}
	}
	return ""
}

// Rules returns the metadata of every KS-SE-* rule, for `kensa rules`
// and SARIF rule descriptors.
func Rules() []rules.Rule {
	ds := Detectors()
	out := make([]rules.Rule, 0, len(ds))
	for _, d := range ds {
		out = append(out, rules.Rule{ID: d.ID(), Severity: d.Severity, Kind: finding.KindSecret, Title: d.Title, Help: d.Help, Fix: d.Fix})
	}
	return out
}

var _ layerfs.Streamer = (*analyzer)(nil)
