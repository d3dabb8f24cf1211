package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// openAPIPath is the API's documentation, held against the router.
var openAPIPath = filepath.Join("..", "..", "docs", "openapi.yaml")

// openAPI is docs/openapi.yaml, loaded for the tests, with a JSON Schema
// compiler that resolves its schemas (and the report schema it refers
// to).
type openAPI struct {
	doc map[string]any
	url string
	c   *jsonschema.Compiler
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	b, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	// Through JSON, for the number and map types the compiler wants.
	jb, err := json.Marshal(y)
	if err != nil {
		t.Fatalf("%s: not representable as JSON: %v", openAPIPath, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(jb))
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	o := &openAPI{doc: doc.(map[string]any), url: (&url.URL{Scheme: "file", Path: abs}).String()}
	o.c = jsonschema.NewCompiler()
	o.c.AssertFormat()
	if err := o.c.AddResource(o.url, doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi: %q, want 3.1.x (its schemas are JSON Schema 2020-12, like the report schema)", v)
	}
	return o
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// operations returns the documented operations by "METHOD /path".
func (o *openAPI) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	paths, _ := o.doc["paths"].(map[string]any)
	for p, item := range paths {
		m, _ := item.(map[string]any)
		for _, meth := range httpMethods {
			if op, ok := m[meth].(map[string]any); ok {
				out[strings.ToUpper(meth)+" "+p] = op
			}
		}
	}
	return out
}

// resolve follows a local $ref of v, returning the value and its JSON
// pointer.
func (o *openAPI) resolve(v any, ptr string) (map[string]any, string) {
	m, _ := v.(map[string]any)
	ref, ok := m["$ref"].(string)
	if !ok {
		return m, ptr
	}
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, ""
	}
	var cur any = o.doc
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		cm, _ := cur.(map[string]any)
		cur = cm[tok]
	}
	return o.resolve(cur, p)
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// operationPtr is the JSON pointer of route's operation object.
func operationPtr(route string) string {
	meth, p, _ := strings.Cut(route, " ")
	return "/paths/" + escapePtr(p) + "/" + strings.ToLower(meth)
}

// response returns the documented response of route for status: its
// media types, each with the pointer of its schema.
func (o *openAPI) response(route string, status int) (map[string]string, bool) {
	op := o.operations()[route]
	resps, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	raw, ok := resps[code]
	if !ok {
		return nil, false
	}
	r, ptr := o.resolve(raw, operationPtr(route)+"/responses/"+code)
	out := map[string]string{}
	content, _ := r["content"].(map[string]any)
	for mt := range content {
		out[mt] = ptr + "/content/" + escapePtr(mt) + "/schema"
	}
	return out, true
}

// scopeOf returns the bearer scope an operation needs ("" for none).
func (o *openAPI) scopeOf(op map[string]any) (string, error) {
	sec, ok := op["security"].([]any)
	if !ok {
		sec, _ = o.doc["security"].([]any)
	}
	if len(sec) == 0 {
		return "", nil
	}
	if len(sec) != 1 {
		return "", fmt.Errorf("security: want one requirement, have %d", len(sec))
	}
	req, _ := sec[0].(map[string]any)
	scopes, ok := req["bearer"].([]any)
	if !ok || len(req) != 1 || len(scopes) != 1 {
		return "", fmt.Errorf("security %v: want bearer with one scope", req)
	}
	s, _ := scopes[0].(string)
	if !store.ValidScope(s) {
		return "", fmt.Errorf("security: unknown scope %q", s)
	}
	return s, nil
}

// TestServerOpenAPIListsExactlyTheRoutes holds docs/openapi.yaml against the
// router: every registered route is documented and every documented one
// is served; each operation is complete (ID, summary, path parameters,
// responses with an error schema) and every schema it names compiles.
func TestServerOpenAPIListsExactlyTheRoutes(t *testing.T) {
	o := loadOpenAPI(t)
	ops := o.operations()
	var documented []string
	for r := range ops {
		documented = append(documented, r)
	}
	slices.Sort(documented)
	served := NewAPI(nil, APIOptions{}).Routes()
	for _, r := range served {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %q is served but not documented in docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("docs/openapi.yaml documents %q, which the server does not serve", r)
		}
	}
	if len(served) < 9 {
		t.Fatalf("router lists %d routes: %v", len(served), served)
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for _, r := range documented {
		op := ops[r]
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q missing or also used by %s", r, id, ids[id])
		}
		ids[id] = r
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", r)
		}
		scope, err := o.scopeOf(op)
		if err != nil {
			t.Errorf("%s: %v", r, err)
		}
		var params []string
		plist, _ := op["parameters"].([]any)
		for i, p := range plist {
			pm, ptr := o.resolve(p, fmt.Sprintf("%s/parameters/%d", operationPtr(r), i))
			if pm == nil {
				t.Errorf("%s: parameter %d does not resolve", r, i)
				continue
			}
			if pm["in"] == "path" {
				params = append(params, pm["name"].(string))
			}
			if _, err := o.c.Compile(o.url + "#" + ptr + "/schema"); err != nil {
				t.Errorf("%s: parameter %v: %v", r, pm["name"], err)
			}
		}
		var want []string
		for _, m := range param.FindAllStringSubmatch(r, -1) {
			want = append(want, m[1])
		}
		if !slices.Equal(params, want) {
			t.Errorf("%s: path parameters documented %v, want %v", r, params, want)
		}
		resps, _ := op["responses"].(map[string]any)
		has2xx := false
		for code := range resps {
			n, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", r, code)
				continue
			}
			has2xx = has2xx || n/100 == 2
			mts, _ := o.response(r, n)
			if len(mts) == 0 {
				t.Errorf("%s %d: no content", r, n)
			}
			for mt, ptr := range mts {
				if _, err := o.c.Compile(o.url + "#" + ptr); err != nil {
					t.Errorf("%s %d %s: schema: %v", r, n, mt, err)
				}
			}
		}
		if !has2xx {
			t.Errorf("%s: no success response", r)
		}
		if scope != "" {
			for _, code := range []int{401, 403} {
				if _, ok := o.response(r, code); !ok {
					t.Errorf("%s needs scope %s but documents no %d", r, scope, code)
				}
			}
		}
	}
}

// checkResponse validates one response of route against the document:
// the status is documented, the Content-Type is one of its media types,
// and a JSON body matches the schema.
func (o *openAPI) checkResponse(t *testing.T, route string, resp *http.Response, body []byte) {
	t.Helper()
	mts, ok := o.response(route, resp.StatusCode)
	if !ok {
		t.Errorf("%s: HTTP %d is not documented (%s)", route, resp.StatusCode, clipBody(body))
		return
	}
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %d: Content-Type %q: %v", route, resp.StatusCode, resp.Header.Get("Content-Type"), err)
		return
	}
	ptr, ok := mts[ct]
	if !ok {
		t.Errorf("%s %d: Content-Type %s is not documented (have %v)", route, resp.StatusCode, ct, mts)
		return
	}
	if ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		if len(body) == 0 {
			t.Errorf("%s %d: empty %s body", route, resp.StatusCode, ct)
		}
		return
	}
	sch, err := o.c.Compile(o.url + "#" + ptr)
	if err != nil {
		t.Fatalf("%s %d: %v", route, resp.StatusCode, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s %d: body is not JSON: %v: %s", route, resp.StatusCode, err, clipBody(body))
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s %d %s: body does not match the documented schema: %v\n%s", route, resp.StatusCode, ct, err, clipBody(body))
	}
}

// checkRequest validates a request body the server accepted against the
// operation's documented request body: the media type is documented (JSON
// when none is given) and a JSON body matches its schema.
func (o *openAPI) checkRequest(t *testing.T, route, contentType string, body []byte) {
	t.Helper()
	op := o.operations()[route]
	rb, ptr := o.resolve(op["requestBody"], operationPtr(route)+"/requestBody")
	if rb == nil {
		if len(body) > 0 {
			t.Errorf("%s: accepted a request body, but documents none", route)
		}
		return
	}
	if contentType == "" {
		contentType = "application/json"
	}
	content, _ := rb["content"].(map[string]any)
	if _, ok := content[contentType]; !ok {
		t.Errorf("%s: request Content-Type %s is not documented", route, contentType)
		return
	}
	if contentType != "application/json" {
		return
	}
	sch, err := o.c.Compile(o.url + "#" + ptr + "/content/" + escapePtr(contentType) + "/schema")
	if err != nil {
		t.Fatalf("%s: request schema: %v", route, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: accepted a request body that is not JSON: %v", route, err)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s: accepted a request body the documented schema refuses: %v", route, err)
	}
}

func clipBody(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// TestServerOpenAPIResponses calls every documented operation of a
// real server (PostgreSQL, worker, in-process registry) in its success
// and error cases and validates each response against docs/openapi.yaml;
// every operation's success response and every documented scope
// refusal is exercised.
func TestServerOpenAPIResponses(t *testing.T) {
	o := loadOpenAPI(t)
	e := newEnv(t, APIOptions{MaxUpload: 1 << 20})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 1, Apps: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := e.submit.submit(refs[0])
	stop := e.runWorkers(1, WorkerOptions{})
	waitJobs(t, e.st, []int64{done}, 60*time.Second)
	stop()
	queued := e.submit.submit(refs[1]) // no worker runs it: it stays queued
	img := synthImage(t, 0, 0)
	archive := writeDockerArchive(t, img)
	none := apiClient{t: t, base: e.api.URL}

	type call struct {
		route   string
		c       apiClient
		path    string
		body    []byte
		headers map[string]string
		want    int
	}
	submitBody := []byte(`{"image":"` + refs[0] + `"}`)
	calls := []call{
		{"GET /healthz", none, "/healthz", nil, nil, 200},
		{"GET /metrics", none, "/metrics", nil, nil, 200},
		{"POST /v1/scans", e.submit, "/v1/scans", submitBody, nil, 202},
		{"POST /v1/scans", e.submit, "/v1/scans", []byte(`{"image":"NOT A REF"}`), nil, 400},
		{"POST /v1/scans", e.submit, "/v1/scans", []byte(`{"image":"` + strings.Repeat("a", 70<<10) + `"}`), nil, 413},
		{"POST /v1/scans/archive", e.submit, "/v1/scans/archive?name=app.tar", archive, map[string]string{"Content-Type": "application/x-tar"}, 202},
		{"POST /v1/scans/archive", e.submit, "/v1/scans/archive", nil, nil, 400},
		{"POST /v1/scans/archive", e.submit, "/v1/scans/archive", make([]byte, 2<<20), nil, 413},
		{"GET /v1/scans/{id}", e.reads, fmt.Sprintf("/v1/scans/%d", done), nil, nil, 200},
		{"GET /v1/scans/{id}", e.reads, "/v1/scans/x", nil, nil, 400},
		{"GET /v1/scans/{id}", e.reads, "/v1/scans/99999", nil, nil, 404},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report", done), nil, nil, 200},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report?format=sarif", done), nil, nil, 200},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report", done), nil, map[string]string{"Accept": "application/vnd.cyclonedx+json"}, 200},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report?format=spdx", done), nil, nil, 200},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report?format=html", done), nil, nil, 200},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report?format=table", done), nil, nil, 400},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report", done), nil, map[string]string{"Accept": "image/png"}, 406},
		{"GET /v1/scans/{id}/report", e.reads, fmt.Sprintf("/v1/scans/%d/report", queued), nil, nil, 409},
		{"GET /v1/scans/{id}/report", e.reads, "/v1/scans/99999/report", nil, nil, 404},
		{"GET /v1/images", e.reads, "/v1/images?limit=10", nil, nil, 200},
		{"GET /v1/images", e.reads, "/v1/images?limit=0", nil, nil, 400},
		{"GET /v1/advisories/{id}/images", e.reads, "/v1/advisories/KENSA-FIXTURE-2026-0001-perl/images", nil, nil, 200},
		{"GET /v1/advisories/{id}/images", e.reads, "/v1/advisories/" + strings.Repeat("X", 201) + "/images", nil, nil, 400},
		{"POST /v1/webhooks/registry", e.submit, "/v1/webhooks/registry", distributionPush(e.reg.Host, "base0/app1", digestOf(t, refs[1]), "1"), map[string]string{"Content-Type": "application/json"}, 202},
		{"POST /v1/webhooks/registry", e.submit, "/v1/webhooks/registry", readWebhook(t, "harbor-pull.json"), map[string]string{"Content-Type": "application/json"}, 200},
		{"POST /v1/webhooks/registry", e.submit, "/v1/webhooks/registry", []byte(`{"events": [`), nil, 400},
		{"POST /v1/admin/gc", e.admin, "/v1/admin/gc", nil, nil, 200},
		{"POST /v1/tokens", e.admin, "/v1/tokens", []byte(`{"name":"ci","scopes":["read","submit"]}`), nil, 201},
		{"POST /v1/tokens", e.admin, "/v1/tokens", []byte(`{"name":"ci","scopes":["root"]}`), nil, 400},
	}
	// Scope refusals, from each operation's documented security.
	lesser := map[string]apiClient{store.ScopeSubmit: e.reads, store.ScopeAdmin: e.submit}
	for route, op := range o.operations() {
		scope, err := o.scopeOf(op)
		if err != nil || scope == "" {
			continue
		}
		meth, p, _ := strings.Cut(route, " ")
		p = strings.ReplaceAll(p, "{id}", strconv.FormatInt(done, 10))
		var body []byte
		if meth == "POST" {
			body = []byte(`{}`)
		}
		calls = append(calls, call{route, none, p, body, nil, 401})
		calls = append(calls, call{route, apiClient{t: t, base: e.api.URL, token: "kensa_" + strings.Repeat("0", 43)}, p, body, nil, 401})
		if c, ok := lesser[scope]; ok {
			calls = append(calls, call{route, c, p, body, nil, 403})
		}
	}
	covered := map[string]bool{}
	for _, c := range calls {
		meth, _, _ := strings.Cut(c.route, " ")
		req, err := http.NewRequest(meth, e.api.URL+c.path, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.c.token)
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: HTTP %d, want %d: %s", meth, c.path, resp.StatusCode, c.want, clipBody(body))
			continue
		}
		o.checkResponse(t, c.route, resp, body)
		if resp.StatusCode/100 == 2 {
			covered[c.route] = true
			o.checkRequest(t, c.route, c.headers["Content-Type"], c.body)
		}
		if resp.StatusCode == 202 && resp.Header.Get("Location") == "" {
			t.Errorf("%s: 202 without Location", c.route)
		}
	}
	for route := range o.operations() {
		if !covered[route] {
			t.Errorf("%s: no success response exercised", route)
		}
	}
}
