package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics holds the API's request counters and latency histograms, written
// in the Prometheus text exposition format by /metrics.
type metrics struct {
	mu   sync.Mutex
	reqs map[reqKey]*histogram
}

type reqKey struct {
	route  string
	status int
}

// buckets are the latency histogram's upper bounds, in seconds.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func newMetrics() *metrics { return &metrics{reqs: map[reqKey]*histogram{}} }

func (m *metrics) observe(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.reqs[reqKey{route, status}]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets)+1)}
		m.reqs[reqKey{route, status}] = h
	}
	s := d.Seconds()
	i := sort.SearchFloat64s(buckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	a.metrics.mu.Lock()
	keys := make([]reqKey, 0, len(a.metrics.reqs))
	for k := range a.metrics.reqs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].status < keys[j].status
	})
	b.WriteString("# HELP kensa_http_request_duration_seconds API request latency.\n# TYPE kensa_http_request_duration_seconds histogram\n")
	for _, k := range keys {
		h := a.metrics.reqs[k]
		labels := fmt.Sprintf("route=%q,code=\"%d\"", k.route, k.status)
		var cum uint64
		for i, ub := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "kensa_http_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", labels, ub, cum)
		}
		fmt.Fprintf(&b, "kensa_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.n)
		fmt.Fprintf(&b, "kensa_http_request_duration_seconds_sum{%s} %g\n", labels, h.sum)
		fmt.Fprintf(&b, "kensa_http_request_duration_seconds_count{%s} %d\n", labels, h.n)
	}
	a.metrics.mu.Unlock()

	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if counts, err := a.st.JobCounts(ctx); err == nil {
		b.WriteString("# HELP kensa_jobs Scan jobs by state.\n# TYPE kensa_jobs gauge\n")
		states := make([]string, 0, len(counts))
		for s := range counts {
			states = append(states, s)
		}
		sort.Strings(states)
		for _, s := range states {
			fmt.Fprintf(&b, "kensa_jobs{state=%q} %d\n", s, counts[s])
		}
	}
	if ls, err := a.st.LayerStats(ctx); err == nil {
		b.WriteString("# HELP kensa_layers Distinct layers stored.\n# TYPE kensa_layers gauge\n")
		fmt.Fprintf(&b, "kensa_layers %d\n", ls.Layers)
		b.WriteString("# HELP kensa_layer_reads Layer reads by workers (equal to kensa_layers when every layer was read once).\n# TYPE kensa_layer_reads gauge\n")
		fmt.Fprintf(&b, "kensa_layer_reads %d\n", ls.Reads)
		b.WriteString("# HELP kensa_layer_refs Layer references from manifests.\n# TYPE kensa_layer_refs gauge\n")
		fmt.Fprintf(&b, "kensa_layer_refs %d\n", ls.Refs)
	}
	if nc, err := a.st.NotificationCounts(ctx); err == nil {
		b.WriteString("# HELP kensa_notifications Outbound CRITICAL-finding notifications by state.\n# TYPE kensa_notifications gauge\n")
		for _, s := range []string{"delivered", "failed", "pending"} {
			fmt.Fprintf(&b, "kensa_notifications{state=%q} %d\n", s, nc[s])
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}
