package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

func readWebhook(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerParseRegistryEvent reads each registry's sample notification: the
// pushed manifests come out by digest, pulls, other event types and layer
// blobs are ignored with a reason.
func TestServerParseRegistryEvent(t *testing.T) {
	cases := []struct {
		file    string
		source  string
		images  []string
		tags    []string
		ignored []string // substrings of the reasons, in order
	}{
		{"distribution-push.json", SourceDistribution,
			[]string{
				"registry.example.com:5000/team/api:1.4.2@sha256:5f3c8a1d2b0e4f6a7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b",
				"registry.example.com:5000/team/web@sha256:0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
			},
			[]string{"1.4.2", ""},
			[]string{`media type "application/vnd.docker.image.rootfs.diff.tar.gzip" is not an image manifest`, `action "pull" is not a push`}},
		{"harbor-push.json", SourceHarbor,
			[]string{"harbor.example.org/platform/debian:12.8@sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8"},
			[]string{"12.8"}, nil},
		{"harbor-cloudevents-push.json", SourceHarbor,
			[]string{"harbor.example.org/platform/tools@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
			[]string{""}, nil},
		{"harbor-pull.json", SourceHarbor, nil, nil, []string{`event type "PULL_ARTIFACT" is not PUSH_ARTIFACT`}},
		{"dockerhub-push.json", SourceDockerHub, []string{"index.docker.io/acme/billing:2026.11.30"}, []string{"2026.11.30"}, nil},
		{"dockerhub-official.json", SourceDockerHub, []string{"index.docker.io/library/nginx:1.27"}, []string{"1.27"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ev, err := ParseRegistryEvent(readWebhook(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Source != tc.source {
				t.Errorf("source %q, want %q", ev.Source, tc.source)
			}
			var refs, tags []string
			for _, im := range ev.Images {
				refs, tags = append(refs, im.Reference), append(tags, im.Tag)
			}
			if !slices.Equal(refs, tc.images) || !slices.Equal(tags, tc.tags) {
				t.Errorf("images %q tags %q, want %q %q", refs, tags, tc.images, tc.tags)
			}
			if len(ev.Ignored) != len(tc.ignored) {
				t.Fatalf("ignored %+v, want %d", ev.Ignored, len(tc.ignored))
			}
			for i, want := range tc.ignored {
				if !strings.Contains(ev.Ignored[i].Reason, want) {
					t.Errorf("ignored[%d] = %q, want it to say %q", i, ev.Ignored[i].Reason, want)
				}
			}
		})
	}
}

func TestServerParseRegistryEventRejects(t *testing.T) {
	cases := []struct{ body, want string }{
		{"", "empty body"},
		{"{", "invalid JSON"},
		{"[1,2]", "invalid JSON"},
		{`{"hello":"world"}`, "not a Distribution"},
		{`{"events": 5}`, "Distribution notification"},
		{`{"type": "PUSH_ARTIFACT", "event_data": {"resources": {}}}`, "Harbor webhook"},
		{`{"push_data": [], "repository": {}}`, "Docker Hub webhook"},
	}
	for _, tc := range cases {
		_, err := ParseRegistryEvent([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error saying %q", tc.body, err, tc.want)
		}
	}
	// Bad names inside a well-formed notification are ignored, not queued.
	ev, err := ParseRegistryEvent([]byte(`{"events":[
		{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:nothex","repository":"a/b"},"request":{"host":"r.example"}},
		{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","repository":"UPPER/case"},"request":{"host":"r.example"}},
		{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","repository":"a/b"},"request":{"host":"bad host/x"}},
		{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"a/b"},"request":{"host":"r.example"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Images) != 0 || len(ev.Ignored) != 4 {
		t.Errorf("images %+v ignored %+v; want none queued and 4 ignored", ev.Images, ev.Ignored)
	}
	// Too many images in one notification is an error.
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range maxEventImages + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064x","repository":"a/b"},"request":{"host":"r.example"}}`, i)
	}
	b.WriteString("]}")
	if _, err := ParseRegistryEvent([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("%d images: %v, want an error", maxEventImages+1, err)
	}
}

// FuzzParseRegistryEvent: any body gives an error or images whose
// references parse, never a panic.
func FuzzParseRegistryEvent(f *testing.F) {
	ents, err := os.ReadDir(filepath.Join("testdata", "webhooks"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(readWebhook(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseRegistryEvent(body)
		if err != nil {
			if ev != nil {
				t.Fatal("an error with an event")
			}
			return
		}
		if ev.Source == "" || len(ev.Images) > maxEventImages {
			t.Fatalf("event %+v", ev)
		}
		for _, im := range ev.Images {
			if _, err := name.ParseReference(im.Reference, name.StrictValidation); err != nil {
				t.Fatalf("image %q: %v", im.Reference, err)
			}
		}
		for _, ig := range ev.Ignored {
			if ig.Reason == "" {
				t.Fatal("ignored without a reason")
			}
		}
	})
}

// distributionPush is a Distribution notification of one manifest push,
// as registry:2 sends it.
func distributionPush(host, repo, digest, tag string) []byte {
	b, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
		"id": "e2e-1", "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "action": "push",
		"target": map[string]any{
			"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest, "size": 500, "length": 500,
			"repository": repo, "url": "http://" + host + "/v2/" + repo + "/manifests/" + digest, "tag": tag,
		},
		"request": map[string]any{"id": "r-1", "addr": "127.0.0.1:1", "host": host, "method": "PUT", "useragent": "kensa-test"},
		"actor":   map[string]any{}, "source": map[string]any{"addr": host, "instanceID": "test"},
	}}})
	return b
}

// TestServerRegistryWebhookScans pushes an image to the in-process registry and
// posts the Distribution notification of the push: a scan of the image by
// digest is queued, runs and has a report; the same notification again
// finds the scan already done and queues a new one only once; ignored and
// malformed notifications and missing credentials are answered clearly.
func TestServerRegistryWebhookScans(t *testing.T) {
	e := newEnv(t, APIOptions{WebhookSecret: "hub-shared-secret-0123456789"})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 1, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(refs[0])
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	event := distributionPush(e.reg.Host, "base0/app0", desc.Digest.String(), "1")
	post := func(c apiClient, path string, body []byte) (int, WebhookResponse, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.api.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var wr WebhookResponse
		json.Unmarshal(buf.Bytes(), &wr) //nolint:errcheck // errors have another shape
		return resp.StatusCode, wr, buf.String()
	}
	const path = "/v1/webhooks/registry"
	if code, _, body := post(apiClient{}, path, event); code != 401 || !strings.Contains(body, "bearer token") {
		t.Errorf("no token: HTTP %d %s", code, body)
	}
	if code, _, _ := post(e.reads, path, event); code != 403 {
		t.Errorf("read token: HTTP %d, want 403", code)
	}
	if code, _, _ := post(apiClient{}, path+"?secret=wrong", event); code != 401 {
		t.Errorf("wrong secret: HTTP %d, want 401", code)
	}
	code, wr, body := post(e.submit, path, event)
	want := e.reg.Host + "/base0/app0:1@" + desc.Digest.String()
	if code != 202 || wr.Source != SourceDistribution || len(wr.Queued) != 1 || wr.Queued[0].Reference != want || wr.Queued[0].Tag != "1" {
		t.Fatalf("push event: HTTP %d %s; want 202 queuing %s", code, body, want)
	}
	id := wr.Queued[0].JobID
	if code, again, _ := post(e.submit, path, event); code != 202 || again.Queued[0].JobID != id || !again.Queued[0].Existing {
		t.Errorf("same event while queued: HTTP %d %+v; want job %d again, existing", code, again, id)
	}
	stop := e.runWorkers(1, WorkerOptions{})
	jobs := waitJobs(t, e.st, []int64{id}, 30*time.Second)
	stop()
	if j := jobs[id]; j.State != store.JobDone {
		t.Fatalf("webhook job: %s: %s", j.State, j.Error)
	}
	rep := e.report(e.reads, id)
	if rep.Target != want || len(rep.Packages) != 4 || len(vulnIDs(rep)) != 1 {
		t.Errorf("report of %s: target %q, %d packages, vulns %v", want, rep.Target, len(rep.Packages), vulnIDs(rep))
	}
	if code, again, _ := post(e.submit, path, event); code != 202 || again.Queued[0].JobID == id || again.Queued[0].Existing {
		t.Errorf("same event after the scan: HTTP %d %+v; want a new job", code, again)
	}

	// Docker Hub sends no credentials but the URL's secret.
	code, wr, body = post(apiClient{}, path+"?secret=hub-shared-secret-0123456789", readWebhook(t, "dockerhub-push.json"))
	if code != 202 || wr.Source != SourceDockerHub || len(wr.Queued) != 1 || wr.Queued[0].Reference != "index.docker.io/acme/billing:2026.11.30" {
		t.Errorf("Docker Hub event with secret: HTTP %d %s", code, body)
	}
	code, wr, body = post(e.submit, path, readWebhook(t, "harbor-pull.json"))
	if code != 200 || len(wr.Queued) != 0 || len(wr.Ignored) != 1 {
		t.Errorf("pull event: HTTP %d %s; want 200, nothing queued, 1 ignored", code, body)
	}
	if code, _, body := post(e.submit, path, []byte(`{"events": [`)); code != 400 || !strings.Contains(body, "invalid JSON") {
		t.Errorf("malformed event: HTTP %d %s", code, body)
	}
	if code, _, body := post(e.submit, path, []byte(`{"kind":"push"}`)); code != 400 || !strings.Contains(body, "not a Distribution") {
		t.Errorf("unknown event: HTTP %d %s", code, body)
	}
	big := append([]byte(`{"events":[],"pad":"`), bytes.Repeat([]byte("x"), maxWebhookBody)...)
	if code, _, _ := post(e.submit, path, append(big, `"}`...)); code != 413 {
		t.Errorf("oversized event: HTTP %d, want 413", code)
	}
}
