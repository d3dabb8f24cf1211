package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
)

// runGC applies the retention policy now and answers what it deleted.
func (a *API) runGC(w http.ResponseWriter, r *http.Request) {
	res, err := a.st.GC(r.Context(), a.o.GC)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	a.o.Log.Info("gc", "result", res)
	writeJSON(w, http.StatusOK, map[string]any{"deleted": res})
}

// PeriodicGC applies the retention policy every interval until ctx ends.
func PeriodicGC(ctx context.Context, st *store.Store, p store.GCPolicy, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := st.GC(ctx, p)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("gc", "err", err)
			}
			continue
		}
		log.Info("gc", "scans", res.Scans, "jobs", res.Jobs, "manifests", res.Manifests, "package_sets", res.PackageSets,
			"packages", res.Packages, "layers", res.Layers, "uploads", res.Uploads, "notifications", res.Notifications, "took", res.Took)
	}
}
