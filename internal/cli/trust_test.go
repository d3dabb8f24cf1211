package cli

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/kensa-sec/kensa/internal/testimages"
	"github.com/kensa-sec/kensa/internal/trust"
	"github.com/kensa-sec/kensa/internal/trust/trusttest"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// trustWorld is an in-process registry with test images pushed to it and
// a cosign key pair on disk.
type trustWorld struct {
	host, key, pub, db, cache string
}

func newTrustWorld(t *testing.T, images map[string]string) *trustWorld {
	t.Helper()
	goOSV, err := filepath.Abs("../vulndb/testdata/osv/Go")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for repo, image := range images {
		paths[repo] = testimages.Path(t, image, testimages.FormDocker)
	}
	dir := isolate(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	w := &trustWorld{host: strings.TrimPrefix(srv.URL, "http://"), key: filepath.Join(dir, "cosign.key"), pub: filepath.Join(dir, "cosign.pub"), cache: filepath.Join(dir, "cache")}
	for repo, p := range paths {
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(w.host + "/" + repo)
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("KENSA_PASSWORD", "correct horse")
	priv, pub, err := trust.GenerateKeyPair([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(w.key, priv, 0o600)
	os.WriteFile(w.pub, pub, 0o644)
	w.db = vulnImportDB(t, goOSV)
	return w
}

func (w *trustWorld) ref(repo string) string { return w.host + "/" + repo }

func (w *trustWorld) attest(t *testing.T, repo string, extra ...string) string {
	t.Helper()
	code, out, errb := run(t, append([]string{"attest", w.ref(repo), "--key", w.key, "--db", w.db, "--cache-dir", w.cache, "-q", "-o", repo + ".json"}, extra...)...)
	if code != 0 {
		t.Fatalf("attest %s: exit %d: %s", repo, code, errb)
	}
	return out
}

// TestAttestAdmitRoundTrip: scan + attest the leaky image (CRITICAL
// secrets) → deny; a clean image → allow; older than max_age → deny; a
// tampered attestation payload → deny.
func TestAttestAdmitRoundTrip(t *testing.T) {
	w := newTrustWorld(t, map[string]string{"leaky:1": testimages.Leaky, "base:1": "debian-base"})
	for _, repo := range []string{"leaky:1", "base:1"} {
		if code, out, errb := run(t, "sign", w.ref(repo), "--key", w.key); code != 0 || !strings.Contains(out, "signed ") {
			t.Fatalf("sign %s: exit %d: %s %s", repo, code, out, errb)
		}
	}
	if out := w.attest(t, "leaky:1"); !strings.Contains(out, "CRITICAL") || !strings.Contains(out, "policy max_severity HIGH FAILED") {
		t.Errorf("attest leaky: %s", out)
	}
	baseOut := w.attest(t, "base:1", "--vuln-predicate")
	if !strings.Contains(baseOut, "policy max_severity HIGH passed") {
		t.Errorf("attest base: %s", baseOut)
	}
	// The attested report digest is the digest of the report written.
	data, _ := os.ReadFile("base:1.json")
	sum := sha256.Sum256(data)
	if want := "report sha256:" + hex.EncodeToString(sum[:]); !strings.Contains(baseOut, want) {
		t.Errorf("attest output %q lacks %s", baseOut, want)
	}

	code, out, errb := run(t, "admit", w.ref("leaky:1"), "--key", w.pub)
	if code != 1 || !strings.Contains(out, "DENY") || !strings.Contains(out, "CRITICAL") {
		t.Errorf("admit leaky: exit %d: %s %s", code, out, errb)
	}
	code, out, errb = run(t, "admit", w.ref("base:1"), "--key", w.pub)
	if code != 0 || !strings.Contains(out, "ALLOW") || !strings.Contains(out, "signed by "+w.pub) {
		t.Errorf("admit base: exit %d: %s %s", code, out, errb)
	}
	// --vuln-predicate added cosign's vuln/v1 statement next to kensa's.
	baseRef := mustRef(t, w.ref("base:1"))
	baseDesc, _ := remote.Head(baseRef)
	baseAtt, _ := trust.AttestationTag(baseRef.Context().Digest(baseDesc.Digest.String()))
	attImg, err := remote.Image(baseAtt)
	if err != nil {
		t.Fatal(err)
	}
	attM, _ := attImg.Manifest()
	if len(attM.Layers) != 2 || attM.Layers[0].Annotations["predicateType"] != trust.PredicateType || attM.Layers[1].Annotations["predicateType"] != trust.VulnPredicateType {
		t.Errorf("attestation layers: %+v", attM.Layers)
	}
	code, out, _ = run(t, "admit", w.ref("base:1"), "--key", w.pub, "--max-age", "1ms")
	if code != 1 || !strings.Contains(out, "attestation is stale") {
		t.Errorf("admit stale: exit %d: %s", code, out)
	}
	// JSON output: one decision each, with the digest.
	code, out, _ = run(t, "admit", w.ref("base:1"), w.ref("leaky:1"), "--key", w.pub, "--format", "json")
	var dec struct {
		Decisions []trust.Decision `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(out), &dec); err != nil || code != 1 || len(dec.Decisions) != 2 || !dec.Decisions[0].Allowed || dec.Decisions[1].Allowed || dec.Decisions[1].Findings[0].ID != "KS-TR-006" {
		t.Errorf("admit json: exit %d err %v: %s", code, err, out)
	}
	// A Kubernetes manifest: each workload image gets its line.
	os.WriteFile("deploy.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers: [{name: init, image: `+w.ref("leaky:1")+`}]
      containers: [{name: web, image: `+w.ref("base:1")+`}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
`), 0o644)
	code, out, _ = run(t, "admit", "-m", "deploy.yaml", "--key", w.pub)
	if code != 1 || !strings.Contains(out, "ALLOW deploy.yaml:Deployment/web spec.template.spec.containers[0]") || !strings.Contains(out, "DENY  deploy.yaml:Deployment/web spec.template.spec.initContainers[0]") {
		t.Errorf("admit manifest: exit %d: %s", code, out)
	}

	// Tamper: rewrite the clean image's attestation so the statement
	// claims another scanner version; the DSSE signature no longer holds.
	ref, _ := name.ParseReference(w.ref("base:1"))
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	attTag, _ := trust.AttestationTag(d)
	att, err := remote.Image(attTag)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := att.Manifest()
	l, _ := att.LayerByDigest(m.Layers[0].Digest)
	rc, _ := l.Compressed()
	raw, _ := io.ReadAll(rc)
	rc.Close()
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(env.Payload)
	forged := strings.Replace(string(body), `"passed":true`, `"passed":true,"note":"x"`, 1)
	forged = strings.Replace(forged, `"name":"kensa"`, `"name":"kensa-forged"`, 1)
	if forged == string(body) {
		t.Fatalf("nothing to forge in %s", body)
	}
	env.Payload = base64.StdEncoding.EncodeToString([]byte(forged))
	tampered, _ := json.Marshal(env)
	img, err := mutate.Append(mutate.MediaType(mutate.ConfigMediaType(emptyImage(t), types.OCIConfigJSON), types.OCIManifestSchema1),
		mutate.Addendum{Layer: static.NewLayer(tampered, types.MediaType(trust.DSSEMediaType)), Annotations: m.Layers[0].Annotations})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(attTag, img); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "admit", w.ref("base:1"), "--key", w.pub)
	if code != 1 || !strings.Contains(out, "no trusted key verifies") {
		t.Errorf("admit tampered: exit %d: %s", code, out)
	}
}

func emptyImage(t *testing.T) v1.Image {
	t.Helper()
	return empty.Image
}

// TestVerifyCommand: kensa verify on a signed, an unsigned and a re-pushed
// image, in table and JSON form, and the Dockerfile base checks.
func TestVerifyCommand(t *testing.T) {
	w := newTrustWorld(t, map[string]string{"app:1": "debian-base", "other:1": "gobin"})
	if code, _, errb := run(t, "sign", w.ref("app:1"), "--key", w.key); code != 0 {
		t.Fatalf("sign: %s", errb)
	}
	code, out, errb := run(t, "verify", w.ref("app:1"), "--key", w.pub)
	if code != 0 || !strings.Contains(out, "TRUSTED (signed by "+w.pub+")") || !strings.Contains(out, "rekor: no transparency-log entry") {
		t.Errorf("verify signed: exit %d: %s %s", code, out, errb)
	}
	code, out, _ = run(t, "verify", w.ref("other:1"), "--key", w.pub, "--format", "json")
	var vo verifyOutput
	if err := json.Unmarshal([]byte(out), &vo); err != nil || code != 1 || len(vo.Findings) != 1 || vo.Findings[0].ID != "KS-TR-001" {
		t.Errorf("verify unsigned: exit %d err %v: %s", code, err, out)
	}
	// Another key: the signature is there but not trusted.
	_, otherPub, _ := trust.GenerateKeyPair(nil)
	os.WriteFile("other.pub", otherPub, 0o644)
	code, out, _ = run(t, "verify", w.ref("app:1"), "--key", "other.pub")
	if code != 1 || !strings.Contains(out, "KS-TR-002") {
		t.Errorf("verify other key: exit %d: %s", code, out)
	}
	// Re-push the tag with other content and copy the old signature over.
	ref, _ := name.ParseReference(w.ref("app:1"))
	oldDesc, _ := remote.Head(ref)
	otherImg, _ := remote.Image(mustRef(t, w.ref("other:1")))
	if err := remote.Write(ref, otherImg); err != nil {
		t.Fatal(err)
	}
	newDesc, _ := remote.Head(ref)
	oldSig, _ := trust.SignatureTag(ref.Context().Digest(oldDesc.Digest.String()))
	newSig, _ := trust.SignatureTag(ref.Context().Digest(newDesc.Digest.String()))
	sigImg, _ := remote.Image(oldSig)
	if err := remote.Write(newSig, sigImg); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "verify", w.ref("app:1"), "--key", w.pub)
	if code != 1 || !strings.Contains(out, "signed digest differs") || !strings.Contains(out, "KS-TR-003") {
		t.Errorf("verify re-pushed: exit %d: %s", code, out)
	}
	// Nothing trusted is bad input.
	if code, _, errb := run(t, "verify", w.ref("app:1")); code != 2 || !strings.Contains(errb, "nothing is trusted") {
		t.Errorf("verify without keys: exit %d: %s", code, errb)
	}
	// Dockerfile bases: a tag-only base, an untrusted registry, and with
	// --verify-base a pinned base without a trusted signature.
	os.WriteFile("kensa.yaml", []byte("trusted_registries: ["+w.host+"]\n"), 0o644)
	os.WriteFile("Dockerfile", []byte("FROM "+w.ref("other:1")+" AS a\nFROM quay.io/evil/base@sha256:"+strings.Repeat("1", 64)+" AS b\nFROM "+w.host+"/other@"+newDesc.Digest.String()+"\nCOPY --from=a / /\n"), 0o644)
	os.MkdirAll(".github/workflows", 0o755)
	os.WriteFile(".github/workflows/ci.yml", []byte("jobs:\n  build:\n    env:\n      DOCKER_CONTENT_TRUST: \"1\"\n    # DOCKER_CONTENT_TRUST=1 (a comment)\n"), 0o644)
	code, out, _ = run(t, "verify", "--dockerfile", "Dockerfile")
	if code != 1 || !strings.Contains(out, "KS-TR-005 Dockerfile:1") || !strings.Contains(out, "KS-TR-004 Dockerfile:2") || strings.Contains(out, "Dockerfile:3") ||
		!strings.Contains(out, "INFO KS-TR-007 .github/workflows/ci.yml:4") || strings.Contains(out, "ci.yml:5") {
		t.Errorf("verify --dockerfile: exit %d: %s", code, out)
	}
	// SARIF carries the same findings with their rule descriptors.
	code, out, _ = run(t, "verify", "--dockerfile", "Dockerfile", "--format", "sarif")
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || code != 1 || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 3 {
		t.Errorf("verify sarif: exit %d err %v: %s", code, err, out)
	}
	code, out, _ = run(t, "verify", "--dockerfile", "Dockerfile", "--verify-base", "--key", w.pub)
	if code != 1 || !strings.Contains(out, "KS-TR-004 Dockerfile:3: base image "+w.host+"/other@"+newDesc.Digest.String()+": not signed") {
		t.Errorf("verify --verify-base: exit %d: %s", code, out)
	}
	// The admission webhook needs TLS.
	if code, _, errb := run(t, "admit", "--serve", "127.0.0.1:0", "--key", w.pub); code != 2 || !strings.Contains(errb, "--tls-cert") {
		t.Errorf("admit --serve without TLS: exit %d: %s", code, errb)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyKeylessBundleOffline: a keyless sigstore bundle file verifies
// against a trusted_root.json built in the test, with no registry at all.
func TestVerifyKeylessBundleOffline(t *testing.T) {
	isolate(t)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("5e", 32)
	const subject = "https://github.com/kensa-sec/app/.github/workflows/release.yml@refs/heads/main"
	const issuer = "https://token.actions.githubusercontent.com"
	b, err := trusttest.Bundle(vs, subject, issuer, trusttest.Statement(digest))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trusttest.TrustedRootJSON(vs)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("app.sigstore.json", b, 0o644)
	os.WriteFile("trusted_root.json", tr, 0o644)
	args := func(image, id string) []string {
		return []string{"verify", "--bundle", "app.sigstore.json", "--offline", image, "--certificate-identity", id, "--certificate-oidc-issuer", issuer, "--trusted-root", "trusted_root.json"}
	}
	// The registry host does not exist: nothing is fetched.
	code, out, errb := run(t, args("registry.invalid/app@"+digest, subject)...)
	if code != 0 || !strings.Contains(out, "TRUSTED (signed by "+subject+")") || !strings.Contains(out, "[keyless] trusted") || !strings.Contains(out, "inclusion verified") {
		t.Errorf("keyless bundle: exit %d: %s %s", code, out, errb)
	}
	code, out, _ = run(t, args("registry.invalid/app@sha256:"+strings.Repeat("77", 32), subject)...)
	if code != 1 || !strings.Contains(out, "signed digest differs") {
		t.Errorf("other digest: exit %d: %s", code, out)
	}
	code, out, _ = run(t, args("registry.invalid/app@"+digest, "https://github.com/attacker/x/.github/workflows/r.yml@refs/heads/main")...)
	if code != 1 || !strings.Contains(out, "KS-TR-002") {
		t.Errorf("other identity: exit %d: %s", code, out)
	}
	if code, _, errb := run(t, args("registry.invalid/app:1", subject)...); code != 2 || !strings.Contains(errb, "give the image by digest") {
		t.Errorf("tag with --bundle: exit %d: %s", code, errb)
	}
}
