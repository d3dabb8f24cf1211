package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kensa-sec/kensa/internal/server/store"
)

// maxWebhookBody caps a registry notification's body.
const maxWebhookBody = 1 << 20

// WebhookResponse is the body of POST /v1/webhooks/registry's answer.
type WebhookResponse struct {
	Source  string         `json:"source"`
	Queued  []QueuedScan   `json:"queued"`
	Ignored []IgnoredEvent `json:"ignored"`
}

// QueuedScan is one scan a registry notification queued (or found
// already queued).
type QueuedScan struct {
	Reference string `json:"reference"`
	Tag       string `json:"tag,omitempty"`
	JobID     int64  `json:"job_id"`
	// Existing says the job was already queued (or, by digest, running).
	Existing bool `json:"existing,omitempty"`
}

// webhookAllowed admits a notification with a submit-scoped bearer token
// or, when configured, the shared webhook secret (bearer or ?secret=).
func (a *API) webhookAllowed(w http.ResponseWriter, r *http.Request) bool {
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if a.o.WebhookSecret != "" {
		for _, s := range []string{tok, r.URL.Query().Get("secret")} {
			if s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(a.o.WebhookSecret)) == 1 {
				return true
			}
		}
	}
	if !hasBearer || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kensa"`)
		a.fail(w, r, http.StatusUnauthorized, errors.New("missing bearer token (Authorization: Bearer ...) or webhook secret (?secret=)"))
		return false
	}
	scopes, err := a.st.TokenScopes(r.Context(), tok)
	if err != nil {
		a.fail(w, r, http.StatusServiceUnavailable, err)
		return false
	}
	if scopes == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kensa", error="invalid_token"`)
		a.fail(w, r, http.StatusUnauthorized, errors.New("unknown token"))
		return false
	}
	if !store.Allows(scopes, store.ScopeSubmit) {
		a.fail(w, r, http.StatusForbidden, fmt.Errorf("token lacks the %q scope", store.ScopeSubmit))
		return false
	}
	return true
}

// registryWebhook queues scans of the manifests a registry's push
// notification names (Distribution, Harbor, Docker Hub). It answers 202
// when it queued something, 200 when every event was ignored (with the
// reasons), 400 for a body that is not such a notification.
func (a *API) registryWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.webhookAllowed(w, r) {
		return
	}
	if r.ContentLength > maxWebhookBody {
		a.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("registry event of %d bytes: the limit is %d", r.ContentLength, maxWebhookBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("registry event over the limit of %d bytes", maxWebhookBody))
			return
		}
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("read registry event: %w", err))
		return
	}
	ev, err := ParseRegistryEvent(body)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	resp := WebhookResponse{Source: ev.Source, Queued: []QueuedScan{}, Ignored: ev.Ignored}
	for _, im := range ev.Images {
		id, created, err := a.st.EnqueueOnce(r.Context(), im.Reference, a.o.MaxAttempts)
		if err != nil {
			a.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		resp.Queued = append(resp.Queued, QueuedScan{Reference: im.Reference, Tag: im.Tag, JobID: id, Existing: !created})
	}
	status := http.StatusOK
	if len(resp.Queued) > 0 {
		status = http.StatusAccepted
		w.Header().Set("Location", fmt.Sprintf("/v1/scans/%d", resp.Queued[0].JobID))
	}
	if len(resp.Queued) > 0 {
		a.o.Log.Info("registry event", "source", ev.Source, "queued", len(resp.Queued), "ignored", len(resp.Ignored))
	} else {
		a.o.Log.Debug("registry event", "source", ev.Source, "ignored", len(resp.Ignored))
	}
	writeJSON(w, status, resp)
}

// moreRoutes adds the registry-integration and administration endpoints.
func (a *API) moreRoutes() {
	a.mux.Handle("POST /v1/webhooks/registry", http.HandlerFunc(a.registryWebhook))
	a.mux.Handle("POST /v1/admin/gc", a.auth(store.ScopeAdmin, a.runGC))
}
