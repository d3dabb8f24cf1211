package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/report"
	"github.com/kensa-sec/kensa/internal/server/store"
)

// APIOptions configures the API.
type APIOptions struct {
	// MaxUpload caps an uploaded image archive (default 512 MiB).
	MaxUpload int64
	// MaxBody caps every other request body (default 64 KiB).
	MaxBody int64
	// MaxAttempts is a job's attempt budget (default 5).
	MaxAttempts int
	// ToolVersion is named in SARIF and CycloneDX output.
	ToolVersion string
	// Log receives request errors; nil discards.
	Log *slog.Logger
	// WebhookSecret, when set, also admits registry push notifications
	// that carry it (?secret= or as the bearer token): Docker Hub can be
	// given only a URL.
	WebhookSecret string
	// GC is the retention policy POST /v1/admin/gc applies.
	GC store.GCPolicy
}

// API is kensa server's HTTP handler (docs/openapi.yaml).
type API struct {
	st      *store.Store
	o       APIOptions
	mux     *routeMux
	metrics *metrics
}

// NewAPI returns the API on st.
func NewAPI(st *store.Store, o APIOptions) *API {
	if o.MaxUpload <= 0 {
		o.MaxUpload = 512 << 20
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &API{st: st, o: o, mux: newRouteMux(), metrics: newMetrics()}
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /metrics", a.serveMetrics)
	a.mux.Handle("POST /v1/scans", a.auth(store.ScopeSubmit, a.submit))
	a.mux.Handle("POST /v1/scans/archive", a.auth(store.ScopeSubmit, a.submitArchive))
	a.mux.Handle("GET /v1/scans/{id}", a.auth(store.ScopeRead, a.job))
	a.mux.Handle("GET /v1/scans/{id}/report", a.auth(store.ScopeRead, a.report))
	a.mux.Handle("GET /v1/images", a.auth(store.ScopeRead, a.images))
	a.mux.Handle("GET /v1/advisories/{id}/images", a.auth(store.ScopeRead, a.affected))
	a.mux.Handle("POST /v1/tokens", a.auth(store.ScopeAdmin, a.createToken))
	a.moreRoutes()
	return a
}

// ServeHTTP serves the API, timing every request for /metrics.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: 200}
	a.mux.ServeHTTP(sw, r)
	a.metrics.observe(r.Pattern, sw.status, time.Since(t0))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// apiError is the JSON body of every error response.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status >= 500 {
		a.o.Log.Error("request", "method", r.Method, "path", r.URL.Path, "err", err)
		err = errors.New("internal error (see the server log)")
	}
	writeJSON(w, status, apiError{Error: err.Error()})
}

// auth wraps h with bearer-token authentication requiring scope need.
func (a *API) auth(need string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kensa"`)
			a.fail(w, r, http.StatusUnauthorized, errors.New("missing bearer token (Authorization: Bearer ...)"))
			return
		}
		scopes, err := a.st.TokenScopes(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			a.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		if scopes == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kensa", error="invalid_token"`)
			a.fail(w, r, http.StatusUnauthorized, errors.New("unknown token"))
			return
		}
		if !store.Allows(scopes, need) {
			a.fail(w, r, http.StatusForbidden, fmt.Errorf("token lacks the %q scope", need))
			return
		}
		h(w, r)
	})
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.st.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// SubmitRequest is the body of POST /v1/scans.
type SubmitRequest struct {
	Image string `json:"image"`
}

func (a *API) submit(w http.ResponseWriter, r *http.Request) {
	var req SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.o.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		a.fail(w, r, status, fmt.Errorf("request body: %w", err))
		return
	}
	ref, err := name.ParseReference(strings.TrimSpace(req.Image))
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("image %q: %w", req.Image, err))
		return
	}
	id, err := a.st.Enqueue(r.Context(), ref.String(), a.o.MaxAttempts)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	a.accepted(w, r, id)
}

func (a *API) accepted(w http.ResponseWriter, r *http.Request, id int64) {
	j, err := a.st.Job(r.Context(), id)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/scans/%d", id))
	writeJSON(w, http.StatusAccepted, j)
}

func (a *API) submitArchive(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > a.o.MaxUpload {
		a.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("archive of %d bytes: the limit is %d", r.ContentLength, a.o.MaxUpload))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.o.MaxUpload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("archive over the limit of %d bytes", a.o.MaxUpload))
			return
		}
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("read archive: %w", err))
		return
	}
	if len(data) == 0 {
		a.fail(w, r, http.StatusBadRequest, errors.New("empty archive"))
		return
	}
	nm := r.URL.Query().Get("name")
	if nm == "" {
		nm = "upload.tar"
	}
	nm = "upload:" + nm
	id, err := a.st.EnqueueUpload(r.Context(), nm, data, a.o.MaxAttempts)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	a.accepted(w, r, id)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("scan id %q: want a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func (a *API) job(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	j, err := a.st.Job(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		a.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (a *API) report(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	format, ctype, status, err := reportFormat(r)
	if err != nil {
		a.fail(w, r, status, err)
		return
	}
	wr, err := report.New(format, report.Options{ToolVersion: a.o.ToolVersion})
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	j, err := a.st.Job(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		a.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if j.State != store.JobDone {
		msg := fmt.Sprintf("scan %d is %s", id, j.State)
		if j.Error != "" {
			msg += ": " + j.Error
		}
		a.fail(w, r, http.StatusConflict, errors.New(msg))
		return
	}
	rep, err := a.st.Report(r.Context(), j.ScanID)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rep.Finalize()
	w.Header().Set("Content-Type", ctype)
	if err := wr.Write(w, rep); err != nil {
		a.o.Log.Error("write report", "scan", id, "err", err)
	}
}

func (a *API) images(w http.ResponseWriter, r *http.Request) {
	limit, offset := 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			a.fail(w, r, http.StatusBadRequest, fmt.Errorf("limit %q: want 1..1000", v))
			return
		}
		limit = n
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			a.fail(w, r, http.StatusBadRequest, fmt.Errorf("offset %q: want a number >= 0", v))
			return
		}
		offset = n
	}
	ims, err := a.st.Images(r.Context(), limit, offset)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"images": ims})
}

func (a *API) affected(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 200 {
		a.fail(w, r, http.StatusBadRequest, errors.New("advisory id: want 1..200 characters"))
		return
	}
	ims, err := a.st.AffectedBy(r.Context(), id)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"advisory": id, "images": ims})
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.o.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return
	}
	tok, err := a.st.CreateToken(r.Context(), req.Name, req.Scopes)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "name": req.Name, "scopes": req.Scopes})
}
