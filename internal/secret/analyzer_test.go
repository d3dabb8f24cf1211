package secret

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/layerfs"
)

func TestCredentialFile(t *testing.T) {
	key := pemBlock("OPENSSH PRIVATE KEY")
	auth := base64.StdEncoding.EncodeToString([]byte("ci:" + rnd(csAlnum, 20)))
	for _, tc := range []struct {
		path, content string
		want          bool
	}{
		{"/root/.ssh/id_rsa", key, true},
		{"/home/app/.ssh/id_ed25519", key, true},
		{"/etc/ssl/private/server.key", pemBlock("RSA PRIVATE KEY"), true},
		{"/app/tls.pem", pemBlock("CERTIFICATE") + pemBlock("PRIVATE KEY"), true},
		{"/root/.aws/credentials", "[default]\naws_access_key_id = AKIA" + rnd(csB32, 16) + "\naws_secret_access_key = " + rnd(csB64, 40) + "\n", true},
		{"/root/.docker/config.json", `{"auths":{"r.io":{"auth":"` + auth + `"}}}`, true},
		{"/app/.npmrc", "//registry.npmjs.org/:_authToken=npm_" + rnd(csAlnum, 36) + "\n", true},
		{"/root/.pypirc", "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc" + rnd(csURL, 60) + "\n", true},
		{"/root/.git-credentials", "https://bot:" + rnd(csAlnum, 20) + "@github.com\n", true},
		{"/root/.netrc", "machine api.corp.io login bot password " + rnd(csAlnum, 16) + "\n", true},
		{"/root/.kube/config", "apiVersion: v1\nclusters:\n- cluster: {server: https://k8s}\nusers:\n- name: u\n  user:\n    token: " + rnd(csAlnum, 40) + "\n", true},
		{"/root/.pgpass", "db:5432:app:app:" + rnd(csAlnum, 14) + "\n", true},
		// Negatives: names without credential content.
		{"/root/.ssh/id_rsa", "", false},
		{"/root/.ssh/id_rsa.pub", "ssh-ed25519 AAAA" + rnd(csB64, 60), false},
		{"/etc/ssl/certs/ca.pem", pemBlock("CERTIFICATE"), false},
		{"/app/.npmrc", "registry=https://registry.npmjs.org/\n", false},
		{"/app/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", false},
		{"/root/.docker/config.json", `{"auths":{},"credsStore":"desktop"}`, false},
		{"/root/.kube/config", "apiVersion: v1\nclusters: []\nusers: []\n", false},
		{"/app/credentials", "token=abc", false},
	} {
		got := CredentialFile(tc.path, []byte(tc.content)) != ""
		if got != tc.want {
			t.Errorf("CredentialFile(%s, %.30q) = %v, want %v", tc.path, tc.content, got, tc.want)
		}
	}
}

func TestIsNoisePath(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr/lib/python3.11/test/keycert.pem":                                 true,
		"/usr/local/lib/python3.12/test/certdata/keycert.pem":                  true,
		"/usr/lib/python3/dist-packages/requests/tests/test_x.py":              true,
		"/app/node_modules/jsonwebtoken/test/priv.pem":                         true,
		"/usr/local/go/src/crypto/tls/testdata/example-key.pem":                true,
		"/go/pkg/mod/github.com/x/y@v1/testdata/key.pem":                       true,
		"/usr/share/doc/openssl/examples/key.pem":                              true,
		"/app/test/fixtures/key.pem":                                           false, // the app's own files ship
		"/etc/ssl/private/ssl-cert-snakeoil.key":                               false,
		"/usr/lib/python3/dist-packages/requests/sessions.py":                  false,
		"/app/node_modules/.bin/secret-tool":                                   false,
		"/root/.aws/credentials":                                               false,
		"/usr/local/lib/python3.12/site-packages/botocore/data/endpoints.json": false,
	} {
		if got := IsNoisePath(p); got != want {
			t.Errorf("IsNoisePath(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestAnalyzer(t *testing.T) {
	a := Analyzer(Options{})
	if !a.Wants("/app/config.yaml", 100, 0o644) || !a.Wants("/root/.ssh/id_rsa", 100, 0o600) || !a.Wants("/usr/local/bin/app", 1<<20, 0o755) {
		t.Error("analyzer must want text files, credential files and executables")
	}
	if a.Wants("/app/logo.png", 100, 0o644) || a.Wants("/usr/lib/x/libssl.so.3", 100, 0o644) || a.Wants("/models/llm.safetensors", 8<<30, 0o644) || Analyzer(Options{MaxFileSize: 100}).Wants("/app/big", 101, 0o644) ||
		a.Wants("/app/dir", 0, fs.ModeDir|0o755) || a.Wants("/usr/share/doc/x/README", 100, 0o644) {
		t.Error("analyzer wants media, shared libraries, oversized files, dirs or docs")
	}
	tok := "ghp_" + rnd(csAlnum, 36)
	facts := &layerfs.LayerFacts{}
	files := []*layerfs.File{
		{Entry: layerfs.Entry{Path: "/app/.env", Size: 60}, Content: []byte("A=1\nGITHUB_TOKEN=" + tok + "\n")},
		{Entry: layerfs.Entry{Path: "/root/.ssh/id_rsa"}, Content: []byte(pemBlock("RSA PRIVATE KEY"))},
		{Entry: layerfs.Entry{Path: "/usr/lib/python3.11/test/keycert.pem"}, Content: []byte(pemBlock("PRIVATE KEY"))},
		{Entry: layerfs.Entry{Path: "/app/many.txt"}, Content: []byte(strings.Repeat("hf_"+rnd(csLetter, 34)+"\n", MaxMatchesPerFile+5))},
	}
	for _, f := range files {
		if err := a.Analyze(context.Background(), f, facts); err != nil {
			t.Fatal(err)
		}
	}
	count := map[string]int{}
	for _, f := range facts.Findings {
		count[f.ID+" "+f.Location.Path]++
		if strings.Contains(f.Message, tok) {
			t.Errorf("message leaks the token: %s", f.Message)
		}
	}
	want := map[string]int{
		"KS-SE-github-token /app/.env":        1,
		"KS-IM-004 /root/.ssh/id_rsa":         1,
		"KS-SE-private-key /root/.ssh/id_rsa": 1,
		"KS-SE-huggingface /app/many.txt":     MaxMatchesPerFile,
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d findings, want %d (all: %v)", k, count[k], n, count)
		}
	}
	if len(count) != len(want) {
		t.Errorf("unexpected findings: %v", count)
	}
	if len(facts.Skipped) != 1 || facts.Skipped[0].Path != "/app/many.txt" {
		t.Errorf("want the match cap recorded as skipped, got %v", facts.Skipped)
	}
	for _, f := range facts.Findings {
		if f.ID == "KS-SE-github-token" && f.Location.Line != 2 {
			t.Errorf("github token at line %d, want 2", f.Location.Line)
		}
	}
}

func TestRules(t *testing.T) {
	rs := Rules()
	ids := map[string]bool{}
	for _, r := range rs {
		if !strings.HasPrefix(r.ID, "KS-SE-") || r.Title == "" || r.Fix == "" || r.Help == "" || ids[r.ID] {
			t.Errorf("bad or duplicate rule %+v", r)
		}
		ids[r.ID] = true
	}
	for _, want := range []string{"KS-SE-aws-access-key-id", "KS-SE-private-key", "KS-SE-generic-password", "KS-SE-docker-config-auth", "KS-SE-jwt"} {
		if !ids[want] {
			t.Errorf("missing rule %s", want)
		}
	}
}

// TestAnalyzerLargeFiles: files above the walk's stream threshold are
// scanned in pieces with the same findings (rule, line) as a scan of the
// whole file, including a secret across a piece boundary, and a large
// credential file is still judged whole.
func TestAnalyzerLargeFiles(t *testing.T) {
	tok := func() string { return "ghp_" + rnd(csAlnum, 36) }
	var big bytes.Buffer
	big.WriteString("GITHUB_TOKEN=" + tok() + "\n")
	for big.Len() < layerfs.StreamThreshold-20 {
		big.WriteString("filler line of the large file\n")
	}
	big.WriteString("TOKEN=" + tok() + "\n") // across the first piece boundary
	for big.Len() < 5*layerfs.StreamThreshold/2 {
		big.WriteString("filler line of the large file\n")
	}
	big.WriteString("api: " + tok() + "\n")
	pem := pemBlock("RSA PRIVATE KEY") + strings.Repeat("\n", 2*layerfs.StreamThreshold)

	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []struct{ name, body string }{{"app/dump.sql", big.String()}, {"etc/ssl/private/site.key", pem}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	facts, err := layerfs.WalkTar(context.Background(), &layer, 0, layerfs.WalkOptions{Analyzers: []layerfs.Analyzer{Analyzer(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range facts.Findings {
		got = append(got, fmt.Sprintf("%s %s:%d", f.ID, f.Location.Path, f.Location.Line))
	}
	var want []string
	for _, m := range Scan(big.Bytes()) {
		want = append(want, fmt.Sprintf("%s /app/dump.sql:%d", m.RuleID, m.Line))
	}
	want = append(want, "KS-IM-004 /etc/ssl/private/site.key:0", "KS-SE-private-key /etc/ssl/private/site.key:1")
	if len(want) != 5 || !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
