package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// TestServerPeriodicRescan ages two of three scans, updates the vulnerability
// database, and queues stale rescans one per tick: the two stale images
// are re-queued (never twice while queued), re-matched from their stored
// packages with no layer or registry blob read, and their new scans hold
// the new advisory; an image whose stored layer keys are not the current
// analyzers' is scanned again from its registry instead.
func TestServerPeriodicRescan(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 2, Apps: 2}) // base0/app0, base0/app1, base1/app0, base1/app1
	if err != nil {
		t.Fatal(err)
	}
	e.scanAll(refs[0], refs[2], refs[3])
	ctx := context.Background()
	conn := func(sql string) {
		t.Helper()
		var one int
		queryRow(t, e.dbURL, "WITH x AS ("+sql+" RETURNING 1) SELECT count(*) FROM x", &one)
	}
	conn("UPDATE scans SET created_at = now() - interval '2 hours' WHERE reference IN ('" + refs[0] + "', '" + refs[2] + "')")
	buildDB(t, e.vulnDB, testdata("osv-v2"))
	before, _ := e.st.LatestScan(ctx, refs[2])

	var queued []int
	for range 4 {
		n, err := e.st.QueueStaleRescans(ctx, time.Hour, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, n)
	}
	if !slices.Equal(queued, []int{1, 1, 0, 0}) {
		t.Fatalf("queued per tick %v, want [1 1 0 0] (bounded to 1, none twice, fresh ones not)", queued)
	}
	readsBefore, _ := e.st.LayerReads()
	blobsBefore := e.reg.blobGets.Load()
	var jobIDs []int64
	queryRow(t, e.dbURL, "SELECT array_agg(id ORDER BY id) FROM jobs WHERE kind = 'rematch'", &jobIDs)
	stop := e.runWorkers(2, WorkerOptions{})
	jobs := waitJobs(t, e.st, jobIDs, 30*time.Second)
	stop()
	var rescanned []string
	for _, j := range jobs {
		if j.State != store.JobDone || j.Kind != store.KindRematch {
			t.Fatalf("rescan job %d: %s %s: %s", j.ID, j.Kind, j.State, j.Error)
		}
		rescanned = append(rescanned, j.Reference)
	}
	slices.Sort(rescanned)
	if !slices.Equal(rescanned, []string{refs[0], refs[2]}) {
		t.Errorf("rescanned %v, want the two stale images", rescanned)
	}
	readsAfter, _ := e.st.LayerReads()
	if readsAfter != readsBefore || e.reg.blobGets.Load() != blobsBefore {
		t.Errorf("periodic rescan read layers: process reads %d→%d, registry blob GETs %d→%d", readsBefore, readsAfter, blobsBefore, e.reg.blobGets.Load())
	}
	after, _ := e.st.LatestScan(ctx, refs[2])
	if after.ScanID == before.ScanID {
		t.Errorf("%s: latest scan still %d", refs[2], after.ScanID)
	}
	var got []string
	for _, j := range jobs {
		if j.Reference == refs[2] {
			got = vulnIDs(e.report(e.reads, j.ID))
		}
	}
	if !slices.Contains(got, "KENSA-FIXTURE-2026-0002-base1-tools base1-tools") {
		t.Errorf("rescanned %s: vulnerabilities %v lack the new advisory", refs[2], got)
	}
	if n, _ := e.st.QueueStaleRescans(ctx, time.Hour, 10, 3); n != 0 {
		t.Errorf("after the rescans %d more queued, want 0", n)
	}

	// Layer keys that are not the current analyzers' (kensa upgraded):
	// the rescan reads the image again.
	conn("UPDATE scans SET created_at = now() - interval '2 hours' WHERE reference = '" + refs[3] + "'")
	conn("DELETE FROM manifest_layers WHERE manifest_id = (SELECT manifest_id FROM images WHERE reference = '" + refs[3] + "')")
	if n, err := e.st.QueueStaleRescans(ctx, time.Hour, 10, 3); err != nil || n != 1 {
		t.Fatalf("queue %s: %d, %v", refs[3], n, err)
	}
	blobsBefore = e.reg.blobGets.Load()
	var last int64
	queryRow(t, e.dbURL, "SELECT max(id) FROM jobs", &last)
	stop = e.runWorkers(1, WorkerOptions{})
	j := waitJobs(t, e.st, []int64{last}, 30*time.Second)[last]
	stop()
	var layers int
	queryRow(t, e.dbURL, "SELECT count(*) FROM manifest_layers WHERE manifest_id = (SELECT manifest_id FROM images WHERE reference = '"+refs[3]+"')", &layers)
	if j.State != store.JobDone || layers != 2 || e.reg.blobGets.Load() == blobsBefore {
		t.Errorf("rescan with stale layer keys: %s (%s), %d manifest layers, blob GETs %d→%d; want a scan from the registry",
			j.State, j.Error, layers, blobsBefore, e.reg.blobGets.Load())
	}
}
