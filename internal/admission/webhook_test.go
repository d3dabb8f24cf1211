package admission

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/trust"
)

// world is an in-process registry holding signed and attested images.
type world struct {
	host     string
	requests atomic.Int64 // registry requests served
	delay    atomic.Int64 // nanoseconds each registry request waits
	key      *trust.PrivateKey
	pub      *trust.PublicKey
	srv      *httptest.Server
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		if d := time.Duration(w.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		reg.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	w.host = strings.TrimPrefix(w.srv.URL, "http://")
	privPEM, pubPEM, err := trust.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if w.key, err = trust.ParsePrivateKey("release.key", privPEM, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if w.pub, err = trust.ParsePublicKey("release.pub", pubPEM); err != nil {
		t.Fatal(err)
	}
	return w
}

// image pushes a random image; sign and critical (<0: no attestation)
// choose what it carries. It returns the digest reference.
func (w *world) image(t testing.TB, repo string, sign bool, critical int) string {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(w.host + "/" + repo + ":1")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d := tag.Context().Digest(h.String())
	if sign {
		if err := trust.Sign(context.Background(), d, w.key, trust.SignOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if critical >= 0 {
		p := &trust.ScanPredicate{
			Scanner: trust.PredicateScanner{Name: "kensa", Version: "test"}, ScannedAt: time.Now().Add(-time.Minute), Reference: repo,
			Scanners: []string{"misconfig", "secret", "vuln"},
			Summary:  trust.PredicateSummary{Total: critical, BySeverity: map[string]int{"CRITICAL": critical}},
			Policy:   trust.PredicatePolicy{MaxSeverity: "HIGH", Passed: critical == 0},
			Report:   trust.PredicateReport{Digest: "sha256:" + strings.Repeat("a", 64), MediaType: "application/json"},
		}
		if err := trust.Attest(context.Background(), d, w.key, p, trust.Registry{}); err != nil {
			t.Fatal(err)
		}
	}
	return d.String()
}

// policy is the admission policy kensa admit builds: the release key
// trusted, one shared registry client.
func (w *world) policy() *trust.AdmitPolicy {
	reg, err := trust.Registry{}.Shared()
	if err != nil {
		panic(err)
	}
	return &trust.AdmitPolicy{Verify: trust.VerifyOptions{Keys: []*trust.PublicKey{w.pub}, Registry: reg}, MaxAge: time.Hour, MaxSeverity: finding.SeverityHigh}
}

// serveTLS serves h over HTTPS on loopback with a certificate generated
// for 127.0.0.1, and returns the URL and a client that trusts it.
func serveTLS(t testing.TB, h http.Handler) (string, *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kensa-admit.kensa.svc"},
		DNSNames: []string{"kensa-admit.kensa.svc"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, certPath, keyPath)
	t.Cleanup(func() { srv.Close() })
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 64,
	}}
	return "https://" + ln.Addr().String() + "/validate", client
}

// fixture reads testdata/name with {{PLACEHOLDER}}s replaced.
func fixture(t testing.TB, file string, repl map[string]string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range repl {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if strings.Contains(s, "{{") {
		t.Fatalf("%s: placeholder left: %s", file, s)
	}
	return []byte(s)
}

func post(t testing.TB, client *http.Client, url string, body []byte) (int, *Review, string) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(data)
	}
	var r Review
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, data)
	}
	if r.APIVersion != APIVersion || r.Kind != ReviewKind || r.Response == nil {
		t.Fatalf("response is not an AdmissionReview response: %s", data)
	}
	return resp.StatusCode, &r, string(data)
}

func TestWebhookOverHTTPS(t *testing.T) {
	w := newWorld(t)
	clean := w.image(t, "web", true, 0)
	sidecar := w.image(t, "proxy", true, 0)
	initClean := w.image(t, "migrate", true, 0)
	leaky := w.image(t, "leaky", true, 2)
	unsigned := w.image(t, "debug", false, 0)
	url, client := serveTLS(t, NewWebhook(w.policy(), Options{Timeout: 5 * time.Second, CacheTTL: time.Minute}))

	for _, tc := range []struct {
		name, file string
		repl       map[string]string
		uid        string
		allowed    bool
		wantMsg    []string
	}{
		{"pod all clean", "pod-multi.json", map[string]string{"APP": clean, "SIDECAR": sidecar, "INIT": initClean}, "705ab4f5-6393-11e8-b7cc-42010a800002", true, nil},
		{"pod with a leaky init container", "pod-multi.json", map[string]string{"APP": clean, "SIDECAR": sidecar, "INIT": leaky}, "705ab4f5-6393-11e8-b7cc-42010a800002", false,
			[]string{"spec.initContainers[0] (migrate) " + leaky, "findings above HIGH: 2 CRITICAL"}},
		{"pod with a tag-referenced sidecar", "pod-multi.json", map[string]string{"APP": clean, "SIDECAR": w.host + "/proxy:1", "INIT": initClean}, "705ab4f5-6393-11e8-b7cc-42010a800002", true, nil},
		{"unsigned ephemeral debug container", "pod-ephemeral.json", map[string]string{"APP": clean, "DEBUG": unsigned}, "0df28fbd-5f5f-11e8-bc74-36e6bb280816", false,
			[]string{"spec.ephemeralContainers[0] (debugger-8xkqz)", "not signed"}},
		{"deployment template", "deployment.json", map[string]string{"APP": clean, "SIDECAR": leaky, "INIT": initClean}, "e911857d-c318-11e8-bbad-025000000001", false,
			[]string{"spec.template.spec.containers[1] (sidecar)"}},
		{"cronjob", "cronjob.json", map[string]string{"APP": clean}, "c4a1e0f2-6d3b-4b8e-9f7a-2b1c3d4e5f60", true, nil},
		{"delete", "delete.json", map[string]string{"APP": leaky}, "3c1a2b4d-0000-4000-8000-000000000001", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r, raw := post(t, client, url, fixture(t, tc.file, tc.repl))
			if code != http.StatusOK {
				t.Fatalf("HTTP %d: %s", code, raw)
			}
			if r.Response.UID != tc.uid || r.Response.Allowed != tc.allowed {
				t.Fatalf("uid=%s allowed=%v, want %s %v: %s", r.Response.UID, r.Response.Allowed, tc.uid, tc.allowed, raw)
			}
			for _, m := range tc.wantMsg {
				if r.Response.Status == nil || !strings.Contains(r.Response.Status.Message, m) {
					t.Errorf("status message lacks %q: %s", m, raw)
				}
			}
			if !tc.allowed && r.Response.Status.Code != http.StatusForbidden {
				t.Errorf("status code %d, want 403", r.Response.Status.Code)
			}
		})
	}

	// Not an AdmissionReview: HTTP 400, never an answer.
	for _, body := range []string{`{`, `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`} {
		if code, _, raw := post(t, client, url, []byte(body)); code != http.StatusBadRequest {
			t.Errorf("body %s: HTTP %d, want 400: %s", body, code, raw)
		}
	}
	// A malformed pod spec is denied (bad input never wins).
	bad := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"kind":"Pod"},"operation":"CREATE","object":{"kind":"Pod","spec":{"containers":"nope"}}}}`
	if _, r, raw := post(t, client, url, []byte(bad)); r.Response.Allowed || r.Response.UID != "u1" {
		t.Errorf("malformed pod allowed: %s", raw)
	}
}

// TestWebhookCacheByDigest: a digest's decision is served from the cache
// (no registry request); a decision that came from an internal error is
// not cached.
func TestWebhookCacheByDigest(t *testing.T) {
	w := newWorld(t)
	clean := w.image(t, "web", true, 0)
	h := NewWebhook(w.policy(), Options{Timeout: 5 * time.Second, CacheTTL: time.Minute})
	if d := h.Decide(context.Background(), clean); !d.Allowed {
		t.Fatalf("first decision: %+v", d)
	}
	before := w.requests.Load()
	if d := h.Decide(context.Background(), clean); !d.Allowed {
		t.Fatalf("cached decision: %+v", d)
	}
	if n := w.requests.Load() - before; n != 0 {
		t.Errorf("cache hit made %d registry requests", n)
	}
	// Without a cache every decision goes to the registry.
	h0 := NewWebhook(w.policy(), Options{Timeout: 5 * time.Second})
	h0.Decide(context.Background(), clean)
	before = w.requests.Load()
	h0.Decide(context.Background(), clean)
	if w.requests.Load() == before {
		t.Errorf("no cache: no registry request")
	}
}

// TestWebhookFailClosed: a registry that is down or too slow never yields
// "allow" when fail-closed; fail-open allows with a warning; an image that
// fails the policy is denied even fail-open.
func TestWebhookFailClosed(t *testing.T) {
	w := newWorld(t)
	clean := w.image(t, "web", true, 0)
	leaky := w.image(t, "leaky", true, 1)
	review := func(img string) []byte {
		return fixture(t, "cronjob.json", map[string]string{"APP": img})
	}
	slow := func(h *Webhook) *Response {
		w.delay.Store(int64(2 * time.Second))
		defer w.delay.Store(0)
		rev, err := DecodeReview(review(clean))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.o.Timeout)
		defer cancel()
		return h.Review(ctx, rev.Request)
	}
	closed := NewWebhook(w.policy(), Options{Timeout: 200 * time.Millisecond})
	if r := slow(closed); r.Allowed || !strings.Contains(r.Status.Message, "timeout budget of 200ms exhausted") {
		t.Errorf("slow registry, fail-closed: %+v %+v", r, r.Status)
	}
	open := NewWebhook(w.policy(), Options{Timeout: 200 * time.Millisecond, FailOpen: true})
	if r := slow(open); !r.Allowed || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "fail-open") {
		t.Errorf("slow registry, fail-open: %+v", r)
	}
	// Fail-open does not let a policy denial through.
	rev, _ := DecodeReview(review(leaky))
	if r := open.Review(context.Background(), rev.Request); r.Allowed {
		t.Errorf("fail-open allowed a leaky image: %+v", r)
	}
	// Registry gone.
	w.srv.Close()
	rev, _ = DecodeReview(review(clean))
	if r := closed.Review(context.Background(), rev.Request); r.Allowed {
		t.Errorf("registry down, fail-closed: allowed")
	}
	// A panic inside the decision is an internal error, never an allow.
	p := NewWebhook(panicDecider{}, Options{})
	if r := p.Review(context.Background(), rev.Request); r.Allowed || !strings.Contains(r.Status.Message, "internal error") {
		t.Errorf("panic: %+v", r)
	}
}

// panicDecider stands for a bug in the decision code.
type panicDecider struct{}

func (panicDecider) Resolve(context.Context, string) (name.Digest, *trust.Decision) {
	panic("bug")
}
func (panicDecider) CheckDigest(context.Context, string, name.Digest) trust.Decision {
	panic("bug")
}
