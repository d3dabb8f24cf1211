package server

import (
	"net/http"

	"github.com/kensa-sec/kensa/internal/server/store"
)

// moreRoutes adds the registry-integration and administration endpoints.
func (a *API) moreRoutes() {
	a.mux.Handle("POST /v1/webhooks/registry", http.HandlerFunc(a.registryWebhook))
	a.mux.Handle("POST /v1/admin/gc", a.auth(store.ScopeAdmin, a.runGC))
}
