package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// env is one test's server: a fresh database, the API on it, an
// in-process registry and a vulnerability database file.
type env struct {
	t                    *testing.T
	dbURL                string
	st                   *store.Store
	api                  *httptest.Server
	reg                  *testRegistry
	vulnDB               string
	admin, submit, reads apiClient
}

func newEnv(t *testing.T, o APIOptions) *env {
	t.Helper()
	e := &env{t: t, dbURL: newDatabase(t)}
	e.st = openStore(t, e.dbURL)
	e.api = httptest.NewServer(NewAPI(e.st, o))
	t.Cleanup(e.api.Close)
	e.reg = newRegistry(t)
	e.vulnDB = filepath.Join(t.TempDir(), "kensa.db")
	buildDB(t, e.vulnDB, testdata("osv-v1"))
	ctx := context.Background()
	tok := func(scope string) apiClient {
		s, err := e.st.CreateToken(ctx, scope, []string{scope})
		if err != nil {
			t.Fatal(err)
		}
		return apiClient{t: t, base: e.api.URL, token: s}
	}
	e.admin, e.submit, e.reads = tok(store.ScopeAdmin), tok(store.ScopeSubmit), tok(store.ScopeRead)
	return e
}

// runWorkers runs n workers until the returned stop is called.
func (e *env) runWorkers(n int, o WorkerOptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		o := o
		o.ID = fmt.Sprintf("test-worker-%d", i)
		if o.DBPath == "" {
			o.DBPath = e.vulnDB
		}
		o.Poll = 20 * time.Millisecond
		w := NewWorker(e.st, o)
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }() //nolint:errcheck
	}
	return func() { cancel(); wg.Wait() }
}

func (e *env) report(c apiClient, id int64) *finding.Report {
	e.t.Helper()
	rep := &finding.Report{}
	if code := c.do("GET", fmt.Sprintf("/v1/scans/%d/report", id), nil, rep); code != http.StatusOK {
		e.t.Fatalf("report of job %d: HTTP %d", id, code)
	}
	return rep
}

func vulnIDs(rep *finding.Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		if f.Kind == finding.KindVuln {
			ids = append(ids, f.ID+" "+f.Package.Name)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestMigrationsConcurrentAndVersioned(t *testing.T) {
	u := newDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(context.Background(), u, store.Options{})
			if err == nil {
				st.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	st := openStore(t, u)
	if v, err := st.SchemaVersion(context.Background()); err != nil || v != latestSchema {
		t.Fatalf("schema version = %d, %v; want %d", v, err, latestSchema)
	}
}

// TestSharedLayersReadOnce scans 3 bases × 4 apps with 4 workers: every
// layer is read exactly once, the packages and findings of the 12 images
// are stored once per base, and each report holds its base's packages and
// vulnerabilities.
func TestSharedLayersReadOnce(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 3, Apps: 4})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range refs {
		ids = append(ids, e.submit.submit(r))
	}
	stop := e.runWorkers(4, WorkerOptions{})
	jobs := waitJobs(t, e.st, ids, 60*time.Second)
	stop()
	for _, j := range jobs {
		if j.State != store.JobDone || j.Attempts != 1 {
			t.Fatalf("job %d (%s): %s after %d attempts: %s", j.ID, j.Reference, j.State, j.Attempts, j.Error)
		}
	}
	ls, err := e.st.LayerStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 3 base layers + 12 app layers, referenced 24 times, each read once.
	if ls.Layers != 15 || ls.Reads != 15 || ls.Refs != 24 {
		t.Errorf("layer stats = %+v, want 15 layers, 15 reads, 24 refs", ls)
	}
	if read, hit := e.st.LayerReads(); read != 15 || hit != 9 {
		t.Errorf("this process read %d layers and was served %d, want 15 and 9", read, hit)
	}
	var nsets, npkgs int
	queryRow(t, e.dbURL, "SELECT (SELECT count(*) FROM package_sets), (SELECT count(*) FROM packages)", &nsets, &npkgs)
	// One package set per base; packages: 3 common + 1 per base, stored
	// once each (the common ones sit in different layers, so 3 × 4).
	if nsets != 3 || npkgs != 12 {
		t.Errorf("package sets = %d, packages = %d; want 3 and 12", nsets, npkgs)
	}
	rep := e.report(e.reads, ids[5]) // base1/app1
	if rep.Target != refs[5] || rep.Image == nil || len(rep.Image.Layers) != 2 {
		t.Fatalf("report target %q image %+v", rep.Target, rep.Image)
	}
	if len(rep.Packages) != 4 || rep.OS == nil || rep.OS.ID != "debian" {
		t.Errorf("report packages %d, os %+v; want 4 on debian", len(rep.Packages), rep.OS)
	}
	got := vulnIDs(rep)
	if want := []string{"KENSA-FIXTURE-2026-0001-perl perl-base"}; !slices.Equal(got, want) {
		t.Errorf("vulnerabilities %v, want %v", got, want)
	}
	for _, f := range rep.Findings {
		if f.Kind == finding.KindVuln {
			if f.Location.LayerIndex == nil || *f.Location.LayerIndex != 0 || f.Location.Layer != rep.Image.Layers[0].Digest || !strings.Contains(f.Location.Step, "ADD base1.tar") {
				t.Errorf("vulnerability location %+v, want layer 0 (%s) step ADD base1.tar", f.Location, rep.Image.Layers[0].Digest)
			}
		}
	}
	if rep.Summary.Total != len(rep.Findings) {
		t.Errorf("summary total %d, findings %d", rep.Summary.Total, len(rep.Findings))
	}

	var list struct{ Images []store.Image }
	if code := e.reads.do("GET", "/v1/images", nil, &list); code != 200 || len(list.Images) != 12 {
		t.Fatalf("GET /v1/images: HTTP %d, %d images", code, len(list.Images))
	}
	for _, im := range list.Images {
		if !strings.HasPrefix(im.Digest, "sha256:") || im.Counts["HIGH"] != 1 {
			t.Errorf("image %+v: want a digest and 1 HIGH", im)
		}
	}
	var aff struct{ Images []store.Image }
	if code := e.reads.do("GET", "/v1/advisories/KENSA-FIXTURE-2026-0001-perl/images", nil, &aff); code != 200 || len(aff.Images) != 12 {
		t.Errorf("affected: HTTP %d, %d images; want 12", code, len(aff.Images))
	}
}

func TestAuthRefusals(t *testing.T) {
	e := newEnv(t, APIOptions{MaxUpload: 1024})
	body := func() *bytes.Reader { return bytes.NewReader([]byte(`{"image":"` + e.reg.Host + `/x:1"}`)) }
	none := apiClient{t: t, base: e.api.URL}
	bogus := apiClient{t: t, base: e.api.URL, token: "kensa_not-a-real-token-at-all"}
	cases := []struct {
		name   string
		c      apiClient
		method string
		path   string
		body   func() *bytes.Reader
		want   int
	}{
		{"no token submit", none, "POST", "/v1/scans", body, 401},
		{"no token read", none, "GET", "/v1/images", nil, 401},
		{"unknown token", bogus, "GET", "/v1/images", nil, 401},
		{"read token submit", e.reads, "POST", "/v1/scans", body, 403},
		{"read token upload", e.reads, "POST", "/v1/scans/archive", func() *bytes.Reader { return bytes.NewReader([]byte("x")) }, 403},
		{"submit token creates tokens", e.submit, "POST", "/v1/tokens", func() *bytes.Reader { return bytes.NewReader([]byte(`{"name":"x","scopes":["admin"]}`)) }, 403},
		{"read token reads", e.reads, "GET", "/v1/images", nil, 200},
		{"submit token submits", e.submit, "POST", "/v1/scans", body, 202},
		{"admin creates tokens", e.admin, "POST", "/v1/tokens", func() *bytes.Reader { return bytes.NewReader([]byte(`{"name":"x","scopes":["read"]}`)) }, 201},
		{"bad reference", e.submit, "POST", "/v1/scans", func() *bytes.Reader { return bytes.NewReader([]byte(`{"image":"UPPER CASE!"}`)) }, 400},
		{"unknown field", e.submit, "POST", "/v1/scans", func() *bytes.Reader { return bytes.NewReader([]byte(`{"image":"a","x":1}`)) }, 400},
		{"body over limit", e.submit, "POST", "/v1/scans", func() *bytes.Reader {
			return bytes.NewReader([]byte(`{"image":"` + strings.Repeat("a", 70<<10) + `"}`))
		}, 413},
		{"upload over cap", e.submit, "POST", "/v1/scans/archive", func() *bytes.Reader { return bytes.NewReader(make([]byte, 2048)) }, 413},
		{"health without token", none, "GET", "/healthz", nil, 200},
		{"no such scan", e.reads, "GET", "/v1/scans/999", nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			var b *bytes.Reader
			if tc.body != nil {
				b = tc.body()
			}
			var code int
			if b != nil {
				code = tc.c.do(tc.method, tc.path, b, nil)
			} else {
				code = tc.c.do(tc.method, tc.path, nil, nil)
			}
			if code != tc.want {
				t.Errorf("HTTP %d, want %d", code, tc.want)
			}
		})
	}
	// Tokens are stored hashed: the plain token appears nowhere.
	var n int
	queryRow(t, e.dbURL, "SELECT count(*) FROM tokens WHERE encode(hash, 'escape') LIKE '%kensa_%'", &n)
	if n != 0 {
		t.Errorf("%d tokens stored in the clear", n)
	}
	resp, err := http.Get(e.api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for _, want := range []string{`kensa_http_request_duration_seconds_count{route="POST /v1/scans",code="403"} 1`, `kensa_jobs{state="queued"} 1`, "kensa_layers 0"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestMalformedImageFailsAlone pushes an image whose layer is not a tar
// among good ones: its job fails at once with an error naming it, the
// others complete.
func TestMalformedImageFailsAlone(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 1, Apps: 2})
	if err != nil {
		t.Fatal(err)
	}
	bad := pushCorrupt(t, e.reg.Host+"/broken/app:1")
	ids := []int64{e.submit.submit(refs[0]), e.submit.submit(bad), e.submit.submit(refs[1])}
	stop := e.runWorkers(2, WorkerOptions{})
	jobs := waitJobs(t, e.st, ids, 60*time.Second)
	stop()
	if j := jobs[ids[1]]; j.State != store.JobFailed || j.Attempts != 1 || !strings.Contains(j.Error, bad) || !strings.Contains(j.Error, "layer 0") {
		t.Errorf("bad image job: %s after %d attempts: %q; want failed once with an error naming %s and its layer", j.State, j.Attempts, j.Error, bad)
	}
	for _, id := range []int64{ids[0], ids[2]} {
		if j := jobs[id]; j.State != store.JobDone {
			t.Errorf("good image job %d: %s: %s", id, j.State, j.Error)
		}
	}
	if code := e.reads.do("GET", fmt.Sprintf("/v1/scans/%d/report", ids[1]), nil, nil); code != http.StatusConflict {
		t.Errorf("report of a failed scan: HTTP %d, want 409", code)
	}
}

// TestRegistryHangTimesOut: a registry that never answers blob requests
// makes the attempt time out, and the job is retried with backoff and
// fails with a message that says so, while a later job still runs.
func TestRegistryHangTimesOut(t *testing.T) {
	e := newEnv(t, APIOptions{MaxAttempts: 2})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 1, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.reg.slow.Store("*")
	id := e.submit.submit(refs[0])
	stop := e.runWorkers(1, WorkerOptions{JobTimeout: 500 * time.Millisecond, Backoff: 100 * time.Millisecond})
	jobs := waitJobs(t, e.st, []int64{id}, 30*time.Second)
	stop()
	if j := jobs[id]; j.State != store.JobFailed || j.Attempts != 2 || !strings.Contains(j.Error, "timed out") {
		t.Errorf("hung registry job: %s after %d attempts: %q; want failed after 2 with a timeout", j.State, j.Attempts, j.Error)
	}
}

// TestUploadArchive scans a docker-archive uploaded to the API.
func TestUploadArchive(t *testing.T) {
	e := newEnv(t, APIOptions{})
	img := synthImage(t, 0, 0)
	archive := writeDockerArchive(t, img)
	var j store.Job
	if code := e.submit.do("POST", "/v1/scans/archive?name=app.tar", bytes.NewReader(archive), &j); code != 202 {
		t.Fatalf("upload: HTTP %d", code)
	}
	garbage := []byte(strings.Repeat("not a tar ", 100))
	var g store.Job
	if code := e.submit.do("POST", "/v1/scans/archive?name=garbage.tar", bytes.NewReader(garbage), &g); code != 202 {
		t.Fatalf("upload: HTTP %d", code)
	}
	stop := e.runWorkers(1, WorkerOptions{})
	jobs := waitJobs(t, e.st, []int64{j.ID, g.ID}, 30*time.Second)
	stop()
	if jobs[j.ID].State != store.JobDone {
		t.Fatalf("upload job: %s: %s", jobs[j.ID].State, jobs[j.ID].Error)
	}
	if gj := jobs[g.ID]; gj.State != store.JobFailed || gj.Attempts != 1 || !strings.Contains(gj.Error, "garbage.tar") {
		t.Errorf("garbage upload: %s after %d: %q", gj.State, gj.Attempts, gj.Error)
	}
	rep := e.report(e.reads, j.ID)
	if len(rep.Packages) != 4 || len(vulnIDs(rep)) != 1 {
		t.Errorf("uploaded image: %d packages, vulns %v", len(rep.Packages), vulnIDs(rep))
	}
	var n int
	queryRow(t, e.dbURL, "SELECT count(*) FROM uploads", &n)
	if n != 0 {
		t.Errorf("%d uploads left after their jobs finished", n)
	}
}

// TestRescanOnAdvisoryChange scans images, then imports an advisory for a
// package of one base: the affected images' findings change within 5 s
// (through WatchDB, as after `kensa db import`) and no layer is read.
func TestRescanOnAdvisoryChange(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 3, Apps: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range refs {
		ids = append(ids, e.submit.submit(r))
	}
	stop := e.runWorkers(2, WorkerOptions{})
	waitJobs(t, e.st, ids, 60*time.Second)
	stop()
	before, _ := e.st.LayerStats(context.Background())
	readsBefore, _ := e.st.LayerReads()
	blobsBefore := e.reg.blobGets.Load()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched := make(chan struct{})
	go func() { defer close(watched); WatchDB(ctx, e.st, e.vulnDB, 50*time.Millisecond, nil) }()
	time.Sleep(200 * time.Millisecond) // the watcher has read the current database
	t0 := time.Now()
	// What `kensa db import` does: rebuild the file, atomically.
	buildDB(t, e.vulnDB, testdata("osv-v2"))
	const id = "KENSA-FIXTURE-2026-0002-base1-tools"
	var aff struct{ Images []store.Image }
	for {
		aff.Images = nil
		e.reads.do("GET", "/v1/advisories/"+id+"/images", nil, &aff)
		if len(aff.Images) == 3 || time.Since(t0) > 5*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(t0)
	cancel()
	<-watched
	if len(aff.Images) != 3 {
		t.Fatalf("images affected by %s after %s: %d, want 3 (base1's)", id, took, len(aff.Images))
	}
	for _, im := range aff.Images {
		if !strings.Contains(im.Reference, "/base1/") || im.Severity != "CRITICAL" {
			t.Errorf("affected image %+v: want a base1 image, CRITICAL", im)
		}
	}
	t.Logf("rescan visible after %s", took)
	rep := e.report(e.reads, ids[4]) // base1/app1
	if got := vulnIDs(rep); !slices.Contains(got, id+" base1-tools") {
		t.Errorf("report after rescan: %v lacks %s", got, id)
	}
	if got := vulnIDs(e.report(e.reads, ids[0])); slices.Contains(got, id+" base1-tools") {
		t.Errorf("base0 image gained %s", id)
	}
	after, _ := e.st.LayerStats(context.Background())
	readsAfter, _ := e.st.LayerReads()
	if after.Reads != before.Reads || readsAfter != readsBefore || e.reg.blobGets.Load() != blobsBefore {
		t.Errorf("rescan read layers: db reads %d→%d, process reads %d→%d, registry blob GETs %d→%d",
			before.Reads, after.Reads, readsBefore, readsAfter, blobsBefore, e.reg.blobGets.Load())
	}
}
