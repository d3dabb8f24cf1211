package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultBaseURL is where OSV publishes its per-ecosystem archives.
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the OSV ecosystems kensa can match.
var DefaultEcosystems = []string{
	"Alpine", "Debian", "Ubuntu", "Red Hat", "Rocky Linux", "AlmaLinux", "Wolfi", "Chainguard",
	"Go", "npm", "PyPI", "Maven", "RubyGems", "crates.io", "Packagist", "NuGet",
}

// UpdateOptions configure Update.
type UpdateOptions struct {
	// DBPath is the database file to rebuild.
	DBPath string
	// BaseURL is the OSV bucket (DefaultBaseURL when "").
	BaseURL string
	// Ecosystems to download (DefaultEcosystems when empty).
	Ecosystems []string
	// Client makes the requests (http.DefaultClient when nil).
	Client *http.Client
	// Retries is how many times a failed download is retried (5xx,
	// network errors, truncated bodies); Backoff the first wait, doubled
	// each retry. Zero values mean 4 and 1s.
	Retries int
	Backoff time.Duration
	// Progress, when set, wraps each download body (e.g. a progress bar);
	// total is -1 when the size is unknown.
	Progress func(name string, total int64, body io.Reader) io.Reader
	// Log receives one line per ecosystem; nil discards.
	Log io.Writer
}

// UpdateResult says what Update did per ecosystem.
type UpdateResult struct {
	Downloaded []string // fetched anew
	Unchanged  []string // 304 Not Modified: previous records kept
	Rebuilt    bool     // false when nothing changed and the DB was kept
	Meta       Meta
}

// Update downloads the OSV archive of each ecosystem (conditionally, with
// the validators stored in the current database), then rebuilds the
// database atomically from the new archives plus the current database's
// records for unchanged ecosystems.
func Update(ctx context.Context, o UpdateOptions) (*UpdateResult, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if len(o.Ecosystems) == 0 {
		o.Ecosystems = DefaultEcosystems
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Retries == 0 {
		o.Retries = 4
	}
	if o.Backoff == 0 {
		o.Backoff = time.Second
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", a...)
		}
	}
	old, err := Open(o.DBPath)
	if err != nil {
		if !errors.Is(err, ErrNoDB) {
			logf("ignoring the current database: %v", err)
		}
		old = nil
	}
	if old != nil {
		defer old.Close()
	}
	dir := filepath.Dir(o.DBPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create database folder %s: %w", dir, err)
	}
	res := &UpdateResult{}
	type fetched struct {
		eco  string
		file string
		src  Source
	}
	var got []fetched
	defer func() {
		for _, f := range got {
			os.Remove(f.file)
		}
	}()
	for _, eco := range o.Ecosystems {
		var prev *Source
		if old != nil {
			if s, ok := old.Meta().Sources[eco]; ok {
				prev = &s
			}
		}
		u := strings.TrimRight(o.BaseURL, "/") + "/" + url.PathEscape(eco) + "/all.zip"
		file, src, err := download(ctx, o, eco, u, prev, dir)
		if err != nil {
			return nil, err
		}
		if file == "" {
			logf("%s: unchanged", eco)
			res.Unchanged = append(res.Unchanged, eco)
			continue
		}
		logf("%s: downloaded", eco)
		res.Downloaded = append(res.Downloaded, eco)
		got = append(got, fetched{eco, file, src})
	}
	if len(got) == 0 && old != nil {
		res.Meta = old.Meta()
		return res, nil
	}
	b, err := NewBuilder(o.DBPath)
	if err != nil {
		return nil, err
	}
	refreshed := map[string]bool{}
	for _, f := range got {
		n, err := importFile(f.file, b.Add)
		if err != nil {
			b.Abort()
			return nil, fmt.Errorf("%s archive from %s: %w", f.eco, f.src.Origin, err)
		}
		f.src.Records = n
		b.SetSource(f.src)
		refreshed[f.eco] = true
	}
	if old != nil {
		drop := func(ecos []string) bool {
			for _, e := range ecos {
				base, _, _ := strings.Cut(e, ":")
				if refreshed[base] || refreshed[e] {
					return true
				}
			}
			return false
		}
		if _, err := b.KeepFrom(old, drop, func(name string) bool { return !refreshed[name] }); err != nil {
			b.Abort()
			return nil, err
		}
	}
	meta, err := b.Commit()
	if err != nil {
		return nil, err
	}
	res.Rebuilt = true
	res.Meta = meta
	return res, nil
}

// httpStatusError is a non-retryable HTTP failure.
type httpStatusError struct {
	url    string
	status string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("download %s: %s", e.url, e.status) }

// download fetches u into a temporary file in dir. It returns "" when the
// server answers 304 Not Modified to the validators of prev.
func download(ctx context.Context, o UpdateOptions, eco, u string, prev *Source, dir string) (string, Source, error) {
	wait := o.Backoff
	var lastErr error
	for attempt := 0; attempt <= o.Retries; attempt++ {
		if attempt > 0 {
			jitter := time.Duration(rand.Int64N(int64(wait)/4 + 1))
			select {
			case <-ctx.Done():
				return "", Source{}, ctx.Err()
			case <-time.After(wait + jitter):
			}
			wait *= 2
		}
		file, src, err := downloadOnce(ctx, o, eco, u, prev, dir)
		if err == nil {
			return file, src, nil
		}
		var hs *httpStatusError
		if errors.As(err, &hs) || ctx.Err() != nil {
			return "", Source{}, err
		}
		lastErr = err
		if o.Log != nil {
			fmt.Fprintf(o.Log, "%s: attempt %d failed: %v\n", eco, attempt+1, err)
		}
	}
	return "", Source{}, fmt.Errorf("%w (gave up after %d attempts)", lastErr, o.Retries+1)
}

func downloadOnce(ctx context.Context, o UpdateOptions, eco, u string, prev *Source, dir string) (string, Source, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", Source{}, &httpStatusError{url: u, status: err.Error()}
	}
	if prev != nil {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return "", Source{}, fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		return "", *prev, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return "", Source{}, fmt.Errorf("download %s: %s", u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", Source{}, &httpStatusError{url: u, status: resp.Status}
	}
	f, err := os.CreateTemp(dir, ".download-*.zip")
	if err != nil {
		return "", Source{}, &httpStatusError{url: u, status: "create temporary file: " + err.Error()}
	}
	var body io.Reader = resp.Body
	if o.Progress != nil {
		body = o.Progress(eco, resp.ContentLength, body)
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if (err == nil || errors.Is(err, io.ErrUnexpectedEOF)) && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("truncated: got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", Source{}, fmt.Errorf("download %s: %w", u, err)
	}
	src := Source{
		Name: eco, Origin: u,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		Fetched:      time.Now().UTC(),
	}
	if t, err := http.ParseTime(src.LastModified); err == nil {
		src.Date = t.UTC()
	} else {
		src.Date = src.Fetched
	}
	return f.Name(), src, nil
}
