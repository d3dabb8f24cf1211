package trust

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// ciFiles are the CI configuration files ContentTrust reads (globs,
// relative to the project folder).
var ciFiles = []string{
	".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", ".circleci/config.yml",
	"Jenkinsfile", "azure-pipelines.yml", ".travis.yml", "bitbucket-pipelines.yml", ".drone.yml",
	"buildkite.yml", ".buildkite/pipeline.yml", "cloudbuild.yaml", "cloudbuild.yml",
}

// maxCIFile bounds how much of one CI file is read.
const maxCIFile = 1 << 20

// contentTrustOn matches DOCKER_CONTENT_TRUST set to 1 or true, in YAML
// (KEY: "1"), shell (KEY=1, export KEY=1) or Groovy (KEY='1') form.
var contentTrustOn = regexp.MustCompile(`\bDOCKER_CONTENT_TRUST\b\s*[:=]\s*["']?(1|true|TRUE|True)["']?`)

// ContentTrust reports KS-TR-007 for each CI file in dir that turns on
// Docker Content Trust: Notary v1 signing is deprecated and checks nothing
// on registries that no longer run Notary.
func ContentTrust(dir string) ([]finding.Finding, error) {
	var out []finding.Finding
	for _, g := range ciFiles {
		matches, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil {
			return nil, err
		}
		for _, p := range matches {
			fs, err := contentTrustFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
	}
	return out, nil
}

func contentTrustFile(path string) ([]finding.Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCIFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []finding.Finding
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxCIFile)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if t := strings.TrimSpace(text); strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
			continue
		}
		if contentTrustOn.MatchString(text) {
			out = append(out, rules.MustLookup("KS-TR-007").NewFinding(
				"CI sets DOCKER_CONTENT_TRUST: "+strings.TrimSpace(text), finding.Location{Path: path, Line: line}))
		}
	}
	return out, nil
}
