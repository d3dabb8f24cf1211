package server

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
)

// WatchDB rescans when the vulnerability database file at dbPath changes
// (`kensa db import` and `kensa db update` replace it atomically): every
// poll it compares the file's identity and, on a change, re-matches the
// package sets the changed advisories name. It returns when ctx ends.
func WatchDB(ctx context.Context, st *store.Store, dbPath string, poll time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stamp := func() (time.Time, int64, bool) {
		fi, err := os.Stat(dbPath)
		if err != nil {
			return time.Time{}, 0, false
		}
		return fi.ModTime(), fi.Size(), true
	}
	mt, sz, _ := stamp()
	before, err := AdvisoryFingerprints(dbPath)
	if err != nil {
		log.Warn("vulnerability database", "path", dbPath, "err", err)
		before = Fingerprints{}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, s, ok := stamp()
		if !ok || (m.Equal(mt) && s == sz) {
			continue
		}
		after, err := AdvisoryFingerprints(dbPath)
		if err != nil {
			log.Warn("vulnerability database", "path", dbPath, "err", err)
			continue
		}
		ids, names := Changed(before, after)
		t0 := time.Now()
		res, err := Rescan(ctx, st, dbPath, names)
		if err != nil {
			log.Warn("rescan", "err", err)
			continue
		}
		mt, sz, before = m, s, after
		log.Info("rescan", "advisories", len(ids), "packages", res.Packages, "sets", res.Sets, "images", res.Images, "took", time.Since(t0))
	}
}
