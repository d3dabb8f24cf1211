package server

import (
	"net/http"
	"slices"
	"sync"
)

// routeMux is an http.ServeMux that remembers the patterns registered on
// it, so that tests can hold the router against docs/openapi.yaml.
type routeMux struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern and records the pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.record(pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern and records the pattern.
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.record(pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *routeMux) record(pattern string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.patterns = append(m.patterns, pattern)
}

// Routes returns the patterns ("METHOD /path/{param}") the API serves, in
// order; docs/openapi.yaml documents each of them.
func (a *API) Routes() []string {
	a.mux.mu.Lock()
	defer a.mux.mu.Unlock()
	out := slices.Clone(a.mux.patterns)
	slices.Sort(out)
	return out
}
