package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// layerKey is the layer store key of a layer under this worker's
// analyzers and limits.
func (w *Worker) layerKey(diffID, digest string) string {
	wo := layerfs.WalkOptions{MaxFileSize: w.o.MaxFileSize, Analyzers: imagescan.Analyzers(scanners)}
	return (&layerfs.Cache{}).Key(diffID, digest, wo)
}

// rematch runs a periodic rescan job: when the store knows the image's
// layers under the current analyzers, its latest scan's packages are
// re-matched against the current vulnerability database and recorded as
// a new scan, with no registry or layer read; otherwise (analyzers
// changed, image unknown) the image is scanned again from its registry.
func (w *Worker) rematch(ctx context.Context, j *store.Job) error {
	cur, err := w.st.LatestScan(ctx, j.Reference)
	upload := strings.HasPrefix(j.Reference, "upload:")
	switch {
	case errors.Is(err, store.ErrNotFound) && upload:
		return &imagescan.InputError{Err: fmt.Errorf("%s: no stored scan to rescan (an upload cannot be pulled again)", j.Reference)}
	case errors.Is(err, store.ErrNotFound):
		return w.scanImage(ctx, j)
	case err != nil:
		return err
	}
	if !upload && !w.layersCurrent(cur) {
		return w.scanImage(ctx, j)
	}
	var built time.Time
	var db *vulndb.DB
	if w.o.DBPath != "" {
		if db, err = vulndb.Open(w.o.DBPath); err != nil {
			return fmt.Errorf("vulnerability database: %w", err)
		}
		defer db.Close()
		built = db.Meta().Built.Truncate(time.Microsecond)
	}
	return w.st.Complete(ctx, j, w.o.ID, func(tx pgx.Tx) (int64, error) {
		return store.SaveRematch(ctx, tx, cur.ScanID, built, func(set *store.PackageSet) (store.Vulns, error) {
			return matchDB(db, set)
		})
	})
}

// layersCurrent reports whether the stored manifest's layer keys are the
// ones this worker's analyzers would use: the stored facts are what a
// scan now would read.
func (w *Worker) layersCurrent(im *store.StoredImage) bool {
	if len(im.Layers) == 0 || len(im.Layers) != len(im.LayerKeys) {
		return false
	}
	want := make([]string, len(im.Layers))
	for i, l := range im.Layers {
		want[i] = w.layerKey(l.DiffID, l.Digest)
	}
	return slices.Equal(want, im.LayerKeys)
}

// PeriodicRescan re-queues, every poll, up to batch images whose latest
// scan is older than interval, as rematch jobs; it returns when ctx ends.
func PeriodicRescan(ctx context.Context, st *store.Store, interval, poll time.Duration, batch, maxAttempts int, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		n, err := st.QueueStaleRescans(ctx, interval, batch, maxAttempts)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("periodic rescan", "err", err)
		case n > 0:
			log.Info("periodic rescan", "queued", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
