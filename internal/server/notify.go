package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
)

// NotifierOptions configures a Notifier.
type NotifierOptions struct {
	// URL receives a POST of a JSON NotificationMessage per image that
	// gains CRITICAL findings.
	URL string
	// Secret, when set, signs each body: X-Kensa-Signature is
	// "sha256=" + hex(HMAC-SHA256(Secret, body)).
	Secret string
	// Interval is the wait between searches and deliveries (default 5s).
	Interval time.Duration
	// Backoff is the first retry delay of a failed delivery, doubled per
	// attempt up to an hour (default 5s).
	Backoff time.Duration
	// MaxAttempts is the delivery attempt budget of a message (default
	// 12).
	MaxAttempts int
	// Timeout bounds one delivery (default 10s).
	Timeout time.Duration
	// Client sends the requests (default a client with Timeout).
	Client *http.Client
	// Log receives delivery failures; nil discards.
	Log *slog.Logger
}

// NotificationMessage is the JSON body POSTed to the notification URL.
type NotificationMessage struct {
	// Event is "image.critical_findings".
	Event string `json:"event"`
	// Image is the image (by manifest digest) and its references.
	Image struct {
		Digest     string   `json:"digest"`
		References []string `json:"references"`
	} `json:"image"`
	// ScanID is the image's latest scan (GET /v1/scans/{job}/report has
	// the report; the scan ID is the stored result's).
	ScanID int64 `json:"scan_id"`
	// Findings are the CRITICAL findings the image gained, never
	// announced before for this image.
	Findings []NotifiedFinding `json:"findings"`
	// Created is when the findings were found new.
	Created time.Time `json:"created_at"`
}

// NotifiedFinding is one finding of a NotificationMessage.
type NotifiedFinding struct {
	// Kind is "vuln", "secret" or "misconfig".
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Title    string `json:"title,omitempty"`
	// Path is the file the finding is in (a secret's file; never the
	// secret itself).
	Path         string `json:"path,omitempty"`
	Package      string `json:"package,omitempty"`
	Version      string `json:"version,omitempty"`
	FixedVersion string `json:"fixed_version,omitempty"`
	Layer        string `json:"layer,omitempty"`
}

// Notifier announces new CRITICAL findings to a webhook: it finds them
// in the store (after first scans and after rescans alike), queues one
// message per image in a durable outbox, and delivers the outbox with
// retries. Scans never wait for it. Any number of server processes may
// run one: the search is serialized and each message is leased to one
// deliverer.
type Notifier struct {
	st *store.Store
	o  NotifierOptions
	// Delivered and Failed count this notifier's deliveries and failed
	// attempts.
	Delivered, Failed atomic.Int64
}

// NewNotifier returns a notifier on st.
func NewNotifier(st *store.Store, o NotifierOptions) *Notifier {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{st: st, o: o}
}

// Run searches and delivers every Interval until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(n.o.Interval)
	defer t.Stop()
	for {
		if _, _, err := n.Tick(ctx); err != nil && ctx.Err() == nil {
			n.o.Log.Warn("notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick queues messages for the new CRITICAL findings and delivers the
// messages due; it returns how many it queued and delivered.
func (n *Notifier) Tick(ctx context.Context) (queued, delivered int, err error) {
	queued, err = n.st.QueueCriticalNotifications(ctx, func(im store.CriticalImage) ([]byte, error) {
		m := NotificationMessage{Event: "image.critical_findings", ScanID: im.ScanID, Created: time.Now().UTC().Truncate(time.Second), Findings: []NotifiedFinding{}}
		m.Image.Digest, m.Image.References = im.Digest, im.References
		for _, f := range im.Findings {
			nf := NotifiedFinding{Kind: string(f.Kind), ID: f.ID, Severity: f.Severity.String(), Title: f.Title, Path: f.Location.Path, Layer: f.Location.Layer}
			if f.Package != nil {
				nf.Package, nf.Version, nf.FixedVersion = f.Package.Name, f.Package.Version, f.Package.FixedVersion
			}
			m.Findings = append(m.Findings, nf)
		}
		return json.Marshal(m)
	})
	if err != nil {
		return 0, 0, err
	}
	for ctx.Err() == nil {
		msg, err := n.st.NextNotification(ctx, 2*n.o.Timeout)
		if err != nil {
			return queued, delivered, err
		}
		if msg == nil {
			break
		}
		if derr := n.deliver(ctx, msg); derr != nil {
			n.Failed.Add(1)
			giveUp := msg.Attempts >= n.o.MaxAttempts
			backoff := min(n.o.Backoff<<min(msg.Attempts-1, 20), time.Hour)
			n.o.Log.Warn("notification delivery failed", "id", msg.ID, "attempt", msg.Attempts, "give_up", giveUp, "err", derr)
			if err := n.st.NotificationFailed(ctx, msg.ID, derr.Error(), backoff, giveUp); err != nil {
				return queued, delivered, err
			}
			// The receiver is failing: leave the others for the next tick.
			break
		}
		if err := n.st.NotificationDelivered(ctx, msg.ID); err != nil {
			return queued, delivered, err
		}
		n.Delivered.Add(1)
		delivered++
	}
	return queued, delivered, nil
}

func (n *Notifier) deliver(ctx context.Context, msg *store.Notification) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.o.URL, bytes.NewReader(msg.Payload))
	if err != nil {
		return fmt.Errorf("notification URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kensa-server")
	req.Header.Set("X-Kensa-Delivery", strconv.FormatInt(msg.ID, 10))
	if n.o.Secret != "" {
		mac := hmac.New(sha256.New, []byte(n.o.Secret))
		mac.Write(msg.Payload)
		req.Header.Set("X-Kensa-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", n.o.URL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: HTTP %d", n.o.URL, resp.StatusCode)
	}
	return nil
}
