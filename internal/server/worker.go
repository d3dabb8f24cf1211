// Package server is kensa server: a REST API that queues image scans in
// PostgreSQL (internal/server/store), workers that run them through the
// imagescan pipeline with the layer facts shared in the database, and the
// rescan that re-matches stored packages when advisories change.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/source"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// WorkerOptions configures a Worker.
type WorkerOptions struct {
	// ID names the worker in the jobs table (default host-pid).
	ID string
	// DBPath is the vulnerability database file of this node ("" scans
	// without vulnerability matching: packages are still stored, and a
	// later rescan matches them).
	DBPath string
	// Lease is how long a job stays taken without a heartbeat (default
	// 30s): a worker killed mid-job loses its job to another after it.
	Lease time.Duration
	// JobTimeout bounds one attempt (default 10m).
	JobTimeout time.Duration
	// Poll is the wait between empty dequeues (default 200ms).
	Poll time.Duration
	// Backoff is the first retry delay, doubled per attempt (default 2s).
	Backoff time.Duration
	// Insecure allows plain-HTTP and unverified-TLS registries.
	Insecure bool
	// RegistryLimits bound the jobs running against one registry host
	// across every worker on the database (zero: no bound).
	RegistryLimits store.RegistryLimits
	// MaxFileSize is imagescan's per-file cap (0: default).
	MaxFileSize int64
	// Log receives one line per job; nil discards.
	Log *slog.Logger
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.ID == "" {
		h, _ := os.Hostname()
		o.ID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Worker runs queued scans.
type Worker struct {
	st *store.Store
	o  WorkerOptions
	// Done and Failed count this worker's finished jobs.
	Done, Failed atomic.Int64
}

// NewWorker returns a worker on st.
func NewWorker(st *store.Store, o WorkerOptions) *Worker {
	return &Worker{st: st, o: o.withDefaults()}
}

// Run takes and runs jobs until ctx ends. A database that goes away is
// waited for (pgx reconnects), with one log line when it is lost and one
// when it is back.
func (w *Worker) Run(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		ran, err := w.RunOne(ctx)
		if err != nil && ctx.Err() == nil {
			if !w.waitDB(ctx, err) {
				w.o.Log.Warn("worker", "worker", w.o.ID, "err", err)
			}
		}
		if !ran || err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(w.o.Poll):
			}
		}
	}
}

// RunOne takes one ready job and runs it; it reports whether there was one.
func (w *Worker) RunOne(ctx context.Context) (bool, error) {
	j, err := w.st.DequeueWithin(ctx, w.o.ID, w.o.Lease, w.o.RegistryLimits)
	if err != nil || j == nil {
		return false, err
	}
	jctx, cancel := context.WithTimeout(ctx, w.o.JobTimeout)
	defer cancel()
	// The heartbeat keeps the lease while the scan runs, and cancels the
	// scan when the lease was lost.
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(w.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if ok, err := w.st.Heartbeat(jctx, j, w.o.ID, w.o.Lease); err == nil && !ok {
					cancel()
					return
				}
			}
		}
	}()
	scanErr := w.scan(jctx, j)
	timedOut := errors.Is(jctx.Err(), context.DeadlineExceeded)
	cancel()
	<-hbDone
	if scanErr == nil {
		w.Done.Add(1)
		w.o.Log.Info("job done", "job", j.ID, "ref", j.Reference)
		return true, nil
	}
	if errors.Is(scanErr, store.ErrLeaseLost) || ctx.Err() != nil {
		return true, scanErr
	}
	// A database outage, ongoing or just over (a connection that died
	// while the layer was read), is no fault of the image.
	if w.waitDB(ctx, scanErr) || store.IsConnLoss(scanErr) {
		return true, w.giveBack(ctx, j)
	}
	permanent := isInputError(scanErr) && !timedOut
	msg := scanErr.Error()
	if timedOut {
		msg = fmt.Sprintf("%s: scan timed out after %s (attempt %d of %d)", j.Reference, w.o.JobTimeout, j.Attempts, j.MaxAttempts)
	}
	backoff := w.o.Backoff << min(j.Attempts-1, 8)
	backoff += time.Duration(rand.Int64N(int64(backoff/4) + 1))
	if err := w.st.Fail(ctx, j, w.o.ID, msg, permanent, backoff); err != nil {
		if w.waitDB(ctx, err) {
			return true, w.giveBack(ctx, j)
		}
		return true, err
	}
	w.Failed.Add(1)
	w.o.Log.Warn("job failed", "job", j.ID, "ref", j.Reference, "attempt", j.Attempts, "permanent", permanent, "err", msg)
	return true, nil
}

// giveBack requeues job j, whose attempt the database outage interrupted,
// without counting the attempt. Had its result or failure been committed
// after all, Requeue finds the job no longer running and changes nothing.
func (w *Worker) giveBack(ctx context.Context, j *store.Job) error {
	err := w.st.Requeue(ctx, j, w.o.ID)
	if err == nil {
		w.o.Log.Info("job requeued after the database outage", "worker", w.o.ID, "job", j.ID, "ref", j.Reference)
	}
	if errors.Is(err, store.ErrLeaseLost) {
		return nil
	}
	return err
}

// waitDB checks, after err, whether the database answers. When it does
// not, waitDB logs that (once), waits until it answers again or ctx ends,
// logs the recovery and returns true; it returns false when the database
// answers (err was something else).
func (w *Worker) waitDB(ctx context.Context, err error) bool {
	ping := func() error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return w.st.Ping(pctx)
	}
	perr := ping()
	if perr == nil || ctx.Err() != nil {
		return false
	}
	t0 := time.Now()
	w.o.Log.Error("database connection lost: waiting for the database, jobs in flight are requeued", "worker", w.o.ID, "err", err, "ping", perr)
	wait := w.o.Poll
	for {
		select {
		case <-ctx.Done():
			return true
		case <-time.After(wait):
		}
		if ping() == nil {
			w.o.Log.Info("database connection restored", "worker", w.o.ID, "down", time.Since(t0).Round(time.Millisecond))
			return true
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// isInputError tells a bad image (fail now) from a machine or network
// problem (retry).
func isInputError(err error) bool {
	var ie *imagescan.InputError
	var se *source.Error
	return errors.As(err, &ie) || errors.As(err, &se)
}

// scanners is what a server scan runs: everything, packages kept.
var scanners = imagescan.Scanners{Misconfig: true, Secret: true, Vuln: true, Inventory: true}

// scan runs job j and records its result.
func (w *Worker) scan(ctx context.Context, j *store.Job) error {
	if j.Kind == store.KindRematch {
		return w.rematch(ctx, j)
	}
	return w.scanImage(ctx, j)
}

// scanImage reads job j's image (its known layers from the store) and
// records the scan.
func (w *Worker) scanImage(ctx context.Context, j *store.Job) error {
	var src *source.Image
	var err error
	sopts := source.Options{Insecure: w.o.Insecure}
	if j.Upload {
		data, uerr := w.st.Upload(ctx, j)
		if uerr != nil {
			return uerr
		}
		src, err = source.OpenArchiveReader(j.Reference, bytes.NewReader(data), int64(len(data)), sopts)
	} else {
		src, err = source.Open(ctx, remoteOnly(j.Reference), sopts)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	so := imagescan.Options{Scanners: scanners, MaxFileSize: w.o.MaxFileSize, Layers: w.st}
	res, err := imagescan.Scan(ctx, src, j.Reference, so)
	if err != nil {
		return err
	}
	rep := res.Report
	vulns, err := matchSet(w.o.DBPath, rep.OS, rep.Packages)
	if err != nil {
		return err
	}
	keys := make([]string, len(src.Layers))
	for i, l := range src.Layers {
		keys[i] = w.layerKey(l.DiffID, l.Digest)
	}
	digest := src.Digest
	return w.st.Complete(ctx, j, w.o.ID, func(tx pgx.Tx) (int64, error) {
		return store.SaveScan(ctx, tx, store.ScanInput{Reference: j.Reference, Digest: digest, LayerKeys: keys, Report: rep, Vulns: vulns})
	})
}

// remoteOnly keeps a submitted reference from naming a file or folder on
// the server: source.Open opens paths first.
func remoteOnly(ref string) string {
	if _, err := os.Lstat(ref); err == nil {
		return "//" + ref // not a valid reference: Open fails with a clear error
	}
	return ref
}

// matchSet matches packages against the database at dbPath; without a
// database the result says so in a note.
func matchSet(dbPath string, osInfo *inventory.OS, pkgs []inventory.Package) (store.Vulns, error) {
	if dbPath == "" {
		return store.Vulns{Findings: []finding.Finding{}, Notes: []string{"vulnerabilities NOT scanned: the server has no vulnerability database (kensa server --vulndb)"}}, nil
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		return store.Vulns{}, fmt.Errorf("vulnerability database: %w", err)
	}
	defer db.Close()
	return matchDB(db, &store.PackageSet{OS: osInfo, Packages: pkgs})
}

// matchDB matches a package set against db. The findings keep their
// layer digests; the report assembly places them in each image.
func matchDB(db *vulndb.DB, set *store.PackageSet) (store.Vulns, error) {
	tmp := &finding.Report{OS: set.OS, Packages: set.Packages, Findings: []finding.Finding{}}
	if err := imagescan.Match(db, tmp, imagescan.MatchOptions{}); err != nil {
		return store.Vulns{}, err
	}
	return store.Vulns{Findings: tmp.Findings, Notes: tmp.Notes, DBBuilt: db.Meta().Built.Truncate(time.Microsecond)}, nil
}
