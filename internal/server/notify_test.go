package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// receiver is a notification endpoint that records what it is sent and
// refuses the first failFirst requests.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	requests  int
	got       []NotificationMessage
	raw       []string // the bodies
	bad       []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.requests <= rc.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	mac := hmac.New(sha256.New, []byte("notify-secret"))
	mac.Write(b)
	if r.Header.Get("X-Kensa-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || r.Header.Get("Content-Type") != "application/json" {
		rc.bad = append(rc.bad, "bad signature or content type: "+r.Header.Get("X-Kensa-Signature"))
	}
	var m NotificationMessage
	if err := json.Unmarshal(b, &m); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	rc.got = append(rc.got, m)
	rc.raw = append(rc.raw, string(b))
}

func (rc *receiver) messages() ([]NotificationMessage, int, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got), rc.requests, slices.Clone(rc.bad)
}

// waitMessages waits until the receiver holds n messages.
func (rc *receiver) waitMessages(t *testing.T, n int, within time.Duration) []NotificationMessage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, _, _ := rc.messages()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) scanAll(refs ...string) []int64 {
	e.t.Helper()
	var ids []int64
	for _, r := range refs {
		ids = append(ids, e.submit.submit(r))
	}
	stop := e.runWorkers(2, WorkerOptions{})
	jobs := waitJobs(e.t, e.st, ids, 60*time.Second)
	stop()
	for _, j := range jobs {
		if j.State != store.JobDone {
			e.t.Fatalf("job %d (%s): %s: %s", j.ID, j.Reference, j.State, j.Error)
		}
	}
	return ids
}

func digestOf(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

// runNotifier runs a Notifier on e's store, posting to rc, until the test
// ends.
func runNotifier(t *testing.T, e *env, rc *receiver) {
	hook := httptest.NewServer(rc)
	n := NewNotifier(e.st, NotifierOptions{URL: hook.URL, Secret: "notify-secret", Interval: 30 * time.Millisecond, Backoff: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; hook.Close() })
}

// TestServerNotifyOnNewCritical: images with only HIGH findings notify nothing;
// an advisory update giving one image a CRITICAL finding sends exactly one
// message (after a refused first delivery, retried) naming its digest and
// the finding; scanning it again or rescanning without change sends
// nothing; a new image that has the CRITICAL finding on its first scan
// sends one message of its own.
func TestServerNotifyOnNewCritical(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 2, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.scanAll(refs...)
	rc := &receiver{failFirst: 1}
	runNotifier(t, e, rc)

	time.Sleep(300 * time.Millisecond)
	if got, reqs, _ := rc.messages(); len(got) != 0 || reqs != 0 {
		t.Fatalf("before any CRITICAL finding: %d requests, messages %+v", reqs, got)
	}

	buildDB(t, e.vulnDB, testdata("osv-v2"))
	res, err := Rescan(context.Background(), e.st, e.vulnDB, []store.PackageName{{Ecosystem: "Debian", Name: "base1-tools"}})
	if err != nil || res.Images != 1 {
		t.Fatalf("rescan: %+v, %v; want 1 image", res, err)
	}
	const adv = "KENSA-FIXTURE-2026-0002-base1-tools"
	rc.waitMessages(t, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // nothing more comes
	got, reqs, bad := rc.messages()
	if len(got) != 1 || reqs != 2 || len(bad) != 0 {
		t.Fatalf("after the rescan: %d messages in %d requests (%v); want 1 message after 1 refused request", len(got), reqs, bad)
	}
	m := got[0]
	if m.Event != "image.critical_findings" || m.Image.Digest != digestOf(t, refs[1]) || !slices.Equal(m.Image.References, []string{refs[1]}) {
		t.Errorf("message image %+v, event %q; want %s (%s)", m.Image, m.Event, refs[1], digestOf(t, refs[1]))
	}
	if len(m.Findings) != 1 || m.Findings[0].ID != adv || m.Findings[0].Severity != "CRITICAL" || m.Findings[0].Package != "base1-tools" || m.Findings[0].FixedVersion != "1.1.1-1" {
		t.Errorf("message findings %+v, want %s on base1-tools fixed in 1.1.1-1", m.Findings, adv)
	}

	// The same image scanned again, and a rescan that changes nothing.
	e.scanAll(refs[1])
	if _, err := Rescan(context.Background(), e.st, e.vulnDB, []store.PackageName{{Ecosystem: "Debian", Name: "base1-tools"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got, _, _ := rc.messages(); len(got) != 1 {
		t.Fatalf("after a scan and a rescan without new findings: %d messages, want still 1", len(got))
	}

	// A new image on base 1: CRITICAL on its first scan.
	img := synthImage(t, 1, 7)
	newRef := e.reg.Host + "/base1/app7:1"
	r, _ := name.ParseReference(newRef)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	e.scanAll(newRef)
	rc.waitMessages(t, 2, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	got, _, _ = rc.messages()
	if len(got) != 2 || got[1].Image.Digest != digestOf(t, newRef) || len(got[1].Findings) != 1 || got[1].Findings[0].ID != adv {
		t.Fatalf("after the first scan of %s: messages %+v; want a second one for it", newRef, got)
	}
	var pending, delivered int
	queryRow(t, e.dbURL, "SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM notifications", &pending, &delivered)
	if pending != 0 || delivered != 2 {
		t.Errorf("outbox: %d pending, %d delivered; want 0 and 2", pending, delivered)
	}
	resp, err := http.Get(e.api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mb, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(mb), `kensa_notifications{state="delivered"} 2`) || !strings.Contains(string(mb), `kensa_notifications{state="pending"} 0`) {
		t.Errorf("/metrics lacks the notification counts:\n%s", mb)
	}
}

// TestServerNotifySecret: a CRITICAL finding of the scan's own report (a
// GitHub token in a file) is announced once, with its rule, file and
// layer and without the token; scanning the image again announces nothing.
func TestServerNotifySecret(t *testing.T) {
	e := newEnv(t, APIOptions{})
	const token = "ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q"
	img := synthImage(t, 1, 1)
	leak, err := synth.Layer(map[string]string{"app/deploy.env": "GITHUB_TOKEN=" + token + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, leak); err != nil {
		t.Fatal(err)
	}
	ref := e.reg.Host + "/base1/leaky:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	leakDigest, err := leak.Digest()
	if err != nil {
		t.Fatal(err)
	}
	e.scanAll(ref)
	rc := &receiver{}
	runNotifier(t, e, rc)

	got := rc.waitMessages(t, 1, 5*time.Second)
	m := got[0]
	if m.Image.Digest != digestOf(t, ref) || !slices.Equal(m.Image.References, []string{ref}) {
		t.Errorf("message image %+v, want %s (%s)", m.Image, ref, digestOf(t, ref))
	}
	var found bool
	for _, f := range m.Findings {
		if f.ID == "KS-SE-github-token" {
			found = true
			if f.Kind != "secret" || f.Severity != "CRITICAL" || f.Path != "/app/deploy.env" || f.Layer != leakDigest.String() {
				t.Errorf("secret finding %+v, want kind secret, CRITICAL, /app/deploy.env in layer %s", f, leakDigest)
			}
		}
		if f.Severity != "CRITICAL" {
			t.Errorf("non-CRITICAL finding announced: %+v", f)
		}
	}
	if !found {
		t.Fatalf("no KS-SE-github-token in %+v", m.Findings)
	}
	_, _, bad := rc.messages()
	rc.mu.Lock()
	body := rc.raw[0]
	rc.mu.Unlock()
	if strings.Contains(body, token) || strings.Contains(body, token[4:]) || len(bad) != 0 {
		t.Fatalf("the message shows the token or is malformed (%v): %s", bad, body)
	}

	e.scanAll(ref)
	time.Sleep(400 * time.Millisecond)
	if got, _, _ := rc.messages(); len(got) != 1 {
		t.Fatalf("after scanning the image again: %d messages, want still 1", len(got))
	}
}

// TestServerNotifyGivesUp: a receiver that always fails gets MaxAttempts
// attempts, then the message is marked failed with the error.
func TestServerNotifyGivesUp(t *testing.T) {
	e := newEnv(t, APIOptions{})
	buildDB(t, e.vulnDB, testdata("osv-v2"))
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 2, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.scanAll(refs...)
	rc := &receiver{failFirst: 1 << 30}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	n := NewNotifier(e.st, NotifierOptions{URL: hook.URL, Backoff: 10 * time.Millisecond, MaxAttempts: 3})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := n.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		var failed int
		queryRow(t, e.dbURL, "SELECT count(*) FROM notifications WHERE failed_at IS NOT NULL AND error LIKE '%HTTP 503%'", &failed)
		if failed == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	n.Tick(context.Background()) //nolint:errcheck
	if _, reqs, _ := rc.messages(); reqs != 3 {
		t.Errorf("%d delivery attempts, want 3", reqs)
	}
}
