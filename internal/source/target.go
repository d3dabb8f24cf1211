package source

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// fileSuffixes are name endings that mark a file argument (an archive, an
// SBOM, a Dockerfile variant), never an image reference.
var fileSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".json", ".zip", ".yaml", ".yml", ".dockerfile", ".containerfile"}

// LooksLikePath reports whether target can only mean a file or folder:
// it starts with /, ./, ../ or ~, holds a backslash, ends in a file suffix
// (.tar, .tgz, .json, ...), or is named like a Dockerfile. Such a target
// that does not exist is a missing file; it is never sent to a registry.
func LooksLikePath(target string) bool {
	switch {
	case target == "." || target == "..",
		strings.HasPrefix(target, "/"), strings.HasPrefix(target, "./"), strings.HasPrefix(target, "../"),
		strings.HasPrefix(target, "~"), strings.Contains(target, `\`):
		return true
	}
	low := strings.ToLower(target)
	for _, s := range fileSuffixes {
		if strings.HasSuffix(low, s) {
			return true
		}
	}
	base := strings.ToLower(filepath.Base(target))
	return base == "dockerfile" || base == "containerfile" || strings.HasPrefix(base, "dockerfile.") || strings.HasPrefix(base, "containerfile.")
}

// missingErr is the error for a target that is no file or folder: a
// path-like one is only missing; one that could be an image reference
// also says what looking it up as one gave (tried).
func missingErr(target string, tried error) error {
	if tried == nil {
		return inputErr(target, "no such file or folder")
	}
	return inputErr(target, "no such file or folder; tried it as an image reference: %v", tried)
}

// explainNetErr turns a transport failure into a sentence: a host name
// that does not resolve, a refused connection or a timeout, naming the
// host; ok is false for other errors.
func explainNetErr(ref string, err error) (_ error, ok bool) {
	host := ""
	if r, perr := name.ParseReference(ref); perr == nil {
		host = r.Context().RegistryStr()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("registry %s: cannot resolve the host name (offline, or a typo in the reference?): %s", host, dns.Err), true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("registry %s: cannot connect (%s %s): %v", host, op.Op, op.Net, op.Err), true
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return fmt.Errorf("registry %s: timed out", host), true
	}
	return nil, false
}
