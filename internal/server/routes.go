package server

import "net/http"

// moreRoutes adds the registry-integration and administration endpoints.
func (a *API) moreRoutes() {
	a.mux.Handle("POST /v1/webhooks/registry", http.HandlerFunc(a.registryWebhook))
}
