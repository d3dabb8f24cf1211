package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/trust"
)

// Decider is the trust decision the webhook asks for: resolve an image
// reference to a digest, then decide on that digest. *trust.AdmitPolicy
// implements it.
type Decider interface {
	Resolve(ctx context.Context, image string) (name.Digest, *trust.Decision)
	CheckDigest(ctx context.Context, image string, d name.Digest) trust.Decision
}

// Options configures a Webhook.
type Options struct {
	// Timeout is the budget for one review; when it runs out the
	// undecided images count as internal errors.
	Timeout time.Duration
	// FailOpen allows images whose decision failed inside kensa (registry
	// unreachable, timeout). Images that fail the policy are denied either
	// way. The default is fail-closed.
	FailOpen bool
	// CacheTTL is how long a digest's decision is reused (0: no cache).
	CacheTTL time.Duration
	// CacheSize bounds the cache's entries (default 10000).
	CacheSize int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Webhook is the validating admission webhook handler.
type Webhook struct {
	decider Decider
	o       Options
	cache   *cache
}

// NewWebhook returns the handler for decider.
func NewWebhook(decider Decider, o Options) *Webhook {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	return &Webhook{decider: decider, o: o, cache: &cache{m: map[string]cacheEntry{}, max: o.CacheSize}}
}

// ServeHTTP answers one AdmissionReview POST. A body that is not an
// AdmissionReview gets HTTP 400 (the API server then applies the
// webhook's failurePolicy); every decodable review gets an answer with
// its uid.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "kensa admit: POST an admission.k8s.io/v1 AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxReviewBytes+1))
	if err != nil {
		http.Error(w, "kensa admit: read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rev, err := DecodeReview(body)
	if err != nil {
		http.Error(w, "kensa admit: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if h.o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.o.Timeout)
		defer cancel()
	}
	resp := h.Review(ctx, rev.Request)
	out := Review{APIVersion: APIVersion, Kind: ReviewKind, Response: resp}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Review decides on one admission request.
func (h *Webhook) Review(ctx context.Context, req *Request) *Response {
	resp := &Response{UID: req.UID}
	if req.Operation == "DELETE" || req.Operation == "CONNECT" || len(req.Object) == 0 || string(req.Object) == "null" {
		resp.Allowed = true
		return resp
	}
	images, ok, err := Images(req.Kind.Kind, req.Object)
	if err != nil {
		resp.Status = &Status{Code: http.StatusBadRequest, Reason: "BadRequest", Message: "kensa admit: " + err.Error()}
		return resp
	}
	if !ok {
		resp.Allowed = true
		resp.Warnings = []string{fmt.Sprintf("kensa admit: %s holds no pod spec; nothing to check", req.Kind.Kind)}
		return resp
	}
	// One decision per distinct image, made concurrently.
	byImage := map[string]*trust.Decision{}
	for _, im := range images {
		byImage[im.Image] = nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for img := range byImage {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := h.safeDecide(ctx, img)
			mu.Lock()
			byImage[img] = &d
			mu.Unlock()
		}()
	}
	wg.Wait()
	var denied, warnings []string
	for _, im := range images {
		d := *byImage[im.Image]
		where := fmt.Sprintf("%s (%s) %s", im.Path, im.Container, im.Image)
		switch {
		case d.Allowed:
		case d.Internal && h.o.FailOpen:
			warnings = append(warnings, "kensa admit: fail-open: allowed despite an error: "+where+": "+d.Reason())
		default:
			denied = append(denied, where+": "+d.Reason())
		}
	}
	resp.Warnings = warnings
	if len(denied) > 0 {
		resp.Status = &Status{Code: http.StatusForbidden, Reason: "Forbidden", Message: "kensa admit denied: " + strings.Join(denied, "; ")}
		return resp
	}
	resp.Allowed = true
	return resp
}

// safeDecide is Decide with a panic turned into an internal error, so a
// bug never answers "allow".
func (h *Webhook) safeDecide(ctx context.Context, image string) (d trust.Decision) {
	defer func() {
		if r := recover(); r != nil {
			d = trust.Decision{Image: image, Internal: true, Reasons: []string{fmt.Sprintf("internal error: %v", r)}}
		}
	}()
	return h.Decide(ctx, image)
}

// Decide returns the decision for one image: the resolved digest's cached
// decision, or a fresh one (cached unless it came from an internal error).
func (h *Webhook) Decide(ctx context.Context, image string) trust.Decision {
	if image == "" {
		return trust.Decision{Image: image, Reasons: []string{"container has no image"}}
	}
	dg, deny := h.decider.Resolve(ctx, image)
	if deny != nil {
		return h.budget(ctx, *deny)
	}
	key := dg.Context().Name() + "@" + dg.DigestStr()
	now := h.o.Now()
	if d, ok := h.cache.get(key, now); ok {
		d.Image = image
		return d
	}
	d := h.budget(ctx, h.decider.CheckDigest(ctx, image, dg))
	if h.o.CacheTTL > 0 && !d.Internal {
		until := now.Add(h.o.CacheTTL)
		if d.Allowed && d.ValidUntil != nil && d.ValidUntil.Before(until) {
			until = *d.ValidUntil
		}
		h.cache.put(key, d, until)
	}
	return d
}

// budget turns a decision made after the review's deadline into a timeout.
func (h *Webhook) budget(ctx context.Context, d trust.Decision) trust.Decision {
	if err := ctx.Err(); err != nil && !d.Allowed {
		d.Internal = true
		if errors.Is(err, context.DeadlineExceeded) {
			d.Reasons = append([]string{fmt.Sprintf("timeout budget of %s exhausted", h.o.Timeout)}, d.Reasons...)
		}
	}
	return d
}

// cache holds decisions by repository@digest until they expire.
type cache struct {
	mu  sync.Mutex
	m   map[string]cacheEntry
	max int
}

type cacheEntry struct {
	d       trust.Decision
	expires time.Time
}

func (c *cache) get(key string, now time.Time) (trust.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return trust.Decision{}, false
	}
	return e.d, true
}

func (c *cache) put(key string, d trust.Decision, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Drop the expired entries; if none, drop everything: a cache
		// miss costs a registry round trip, never a wrong answer.
		now := time.Now()
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[key] = cacheEntry{d: d, expires: expires}
}
