package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// rowCounts counts the rows of the tables retention bounds.
func rowCounts(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"scans", "jobs", "manifests", "manifest_layers", "layers", "package_sets", "set_advisories", "packages", "images", "uploads"} {
		var n int
		queryRow(t, dbURL, "SELECT count(*) FROM "+tbl, &n)
		out[tbl] = n
	}
	return out
}

func pushImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func synthImage(t *testing.T, b, a int) v1.Image {
	t.Helper()
	base, err := synth.BaseLayer(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := synth.Image(base, b, a)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestServerGCBoundsRepeatedScans scans two images again and again: with GC
// after each round (keep 2 scans per image) the row counts after round 3
// and after round 6 are the same, and the latest reports still read.
func TestServerGCBoundsRepeatedScans(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 2, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	pol := store.GCPolicy{KeepScans: 2, LayerGrace: -1}
	var at3 map[string]int
	var last []int64
	for round := 1; round <= 6; round++ {
		last = e.scanAll(refs...)
		res, err := e.st.GC(context.Background(), pol)
		if err != nil {
			t.Fatal(err)
		}
		if round >= 3 && (res.Scans != 2 || res.Jobs != 2) {
			t.Errorf("round %d: GC deleted %+v; want 2 scans and their 2 jobs", round, res)
		}
		if round == 3 {
			at3 = rowCounts(t, e.dbURL)
		}
	}
	at6 := rowCounts(t, e.dbURL)
	for tbl, n := range at3 {
		if at6[tbl] != n {
			t.Errorf("%s: %d rows after round 3, %d after round 6", tbl, n, at6[tbl])
		}
	}
	if at6["scans"] != 4 || at6["jobs"] != 4 || at6["layers"] != 4 || at6["packages"] != 8 {
		t.Errorf("rows after 6 rounds: %v; want 4 scans, 4 jobs, 4 layers, 8 packages", at6)
	}
	for _, id := range last {
		if rep := e.report(e.reads, id); len(rep.Packages) != 4 || len(vulnIDs(rep)) != 1 {
			t.Errorf("report of job %d after GC: %d packages, vulns %v", id, len(rep.Packages), vulnIDs(rep))
		}
	}
}

// TestServerGCOrphanedLayers re-pushes a tag with another image: once the old
// scan goes, its manifest, the layers only it referenced, its package set
// and their packages are deleted (after the layer grace), while the
// layers, set and packages of the images still held are kept.
func TestServerGCOrphanedLayers(t *testing.T) {
	e := newEnv(t, APIOptions{GC: store.GCPolicy{KeepScans: 1, LayerGrace: -1}})
	x, y := e.reg.Host+"/team/x:1", e.reg.Host+"/team/y:1"
	pushImage(t, x, synthImage(t, 0, 0))
	pushImage(t, y, synthImage(t, 2, 0))
	e.scanAll(x, y)
	pushImage(t, x, synthImage(t, 1, 1)) // the tag moves to an image on another base
	ids := e.scanAll(x)
	before := rowCounts(t, e.dbURL)
	if before["layers"] != 6 || before["manifests"] != 3 || before["package_sets"] != 3 || before["packages"] != 12 {
		t.Fatalf("before GC: %v", before)
	}
	// Within the grace period the orphaned layers stay.
	res, err := e.st.GC(context.Background(), store.GCPolicy{KeepScans: 1, LayerGrace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scans != 1 || res.Manifests != 1 || res.PackageSets != 1 || res.Packages != 4 || res.Layers != 0 {
		t.Errorf("GC with a 1h layer grace deleted %+v; want 1 scan, 1 manifest, 1 package set, 4 packages, no layer", res)
	}
	// The admin endpoint, without grace: the two layers only the old
	// manifest had go.
	if code := e.submit.do("POST", "/v1/admin/gc", nil, nil); code != http.StatusForbidden {
		t.Errorf("GC with a submit token: HTTP %d, want 403", code)
	}
	var out struct{ Deleted store.GCResult }
	if code := e.admin.do("POST", "/v1/admin/gc", nil, &out); code != 200 || out.Deleted.Layers != 2 || out.Deleted.Scans != 0 {
		t.Errorf("POST /v1/admin/gc: HTTP %d %+v; want 2 layers deleted", code, out.Deleted)
	}
	after := rowCounts(t, e.dbURL)
	if after["layers"] != 4 || after["manifests"] != 2 || after["package_sets"] != 2 || after["packages"] != 8 || after["manifest_layers"] != 4 {
		t.Errorf("after GC: %v; want 4 layers, 2 manifests, 2 package sets, 8 packages", after)
	}
	// The kept layers are those of the images held: scanning them again
	// reads none.
	readsBefore, _ := e.st.LayerReads()
	e.scanAll(x, y)
	if readsAfter, _ := e.st.LayerReads(); readsAfter != readsBefore {
		t.Errorf("rescanning the kept images read %d layers, want 0 (their layers were kept)", readsAfter-readsBefore)
	}
	rep := e.report(e.reads, ids[0])
	if len(rep.Packages) != 4 || rep.Packages[0].LayerDigest == "" {
		t.Errorf("report of %s after GC: %d packages", x, len(rep.Packages))
	}
	b, _ := json.Marshal(out.Deleted)
	t.Logf("admin GC: %s", b)
}

// TestServerGCWhileScanning runs GC in a loop (keep 1 scan per image) while 4
// workers scan 12 images twice: no scan fails or is retried, GC never
// errs, no package set loses a package, and every image's latest report
// reads whole.
func TestServerGCWhileScanning(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 3, Apps: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runs int
	var gcErr error
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for ctx.Err() == nil {
			if _, err := e.st.GC(ctx, store.GCPolicy{KeepScans: 1}); err != nil && ctx.Err() == nil {
				gcErr = err
				return
			}
			runs++
		}
	}()
	var ids []int64
	for range 2 {
		for _, r := range refs {
			ids = append(ids, e.submit.submit(r))
		}
	}
	stop := e.runWorkers(4, WorkerOptions{})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := e.st.JobCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c[store.JobQueued]+c[store.JobRunning] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	cancel()
	<-gcDone
	if gcErr != nil {
		t.Fatalf("GC during scans: %v", gcErr)
	}
	var failed, retried int
	queryRow(t, e.dbURL, "SELECT count(*) FILTER (WHERE state <> 'done'), count(*) FILTER (WHERE attempts > 1) FROM jobs", &failed, &retried)
	if failed != 0 || retried != 0 {
		t.Errorf("%d jobs not done, %d retried while GC ran", failed, retried)
	}
	if _, err := e.st.GC(context.Background(), store.GCPolicy{KeepScans: 1}); err != nil {
		t.Fatal(err)
	}
	var dangling, scans int
	queryRow(t, e.dbURL, `SELECT (SELECT count(*) FROM package_sets s, unnest(s.package_ids) AS u(id) WHERE NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = u.id)),
		(SELECT count(*) FROM scans)`, &dangling, &scans)
	if dangling != 0 || scans != 12 {
		t.Errorf("after GC: %d package references dangle, %d scans (want 0 and 12)", dangling, scans)
	}
	ims, err := e.st.Images(context.Background(), 100, 0)
	if err != nil || len(ims) != 12 {
		t.Fatalf("images: %d, %v", len(ims), err)
	}
	for _, im := range ims {
		rep, err := e.st.Report(context.Background(), im.ScanID)
		if err != nil {
			t.Errorf("%s: report: %v", im.Reference, err)
		} else if len(rep.Packages) != 4 {
			t.Errorf("%s: report has %d packages, want 4", im.Reference, len(rep.Packages))
		}
	}
	t.Logf("GC ran %d times during %d scans", runs, len(ids))
}

// TestServerGCWaitsForScanSave holds a scan's save transaction open, the scan
// reusing a stored package that GC is about to find orphaned: GC waits
// for the save to commit and then keeps the package, so no package set
// ever names a deleted package.
func TestServerGCWaitsForScanSave(t *testing.T) {
	e := newEnv(t, APIOptions{})
	ctx := context.Background()
	pkg := func(n string) inventory.Package {
		return inventory.Package{Name: n, Version: "1.0-1", Ecosystem: "Debian", Type: "deb", PURL: "pkg:deb/debian/" + n + "@1.0-1"}
	}
	save := func(tx pgx.Tx, ref, digest string, os *inventory.OS, p inventory.Package) {
		t.Helper()
		in := store.ScanInput{Reference: ref, Digest: digest, Report: &finding.Report{Target: ref, OS: os, Packages: []inventory.Package{p}}, Vulns: store.Vulns{Findings: []finding.Finding{}}}
		if _, err := store.SaveScan(ctx, tx, in); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deb := &inventory.OS{ID: "debian", VersionID: "12"}
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	for _, s := range []struct {
		digest string
		p      inventory.Package
	}{{d('1'), pkg("orphan-soon")}, {d('2'), pkg("other")}} {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		save(tx, "r.example/a:1", s.digest, deb, s.p)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// r.example/a:1 moved on: its first scan, set and package are
	// garbage, but a save in progress takes the package up again.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	save(tx, "r.example/b:1", d('3'), nil, pkg("orphan-soon"))
	gcDone := make(chan store.GCResult, 1)
	go func() {
		res, err := e.st.GC(ctx, store.GCPolicy{KeepScans: 1})
		if err != nil {
			t.Error(err)
		}
		gcDone <- res
	}()
	select {
	case res := <-gcDone:
		t.Fatalf("GC finished while a scan save was open: %+v", res)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	res := <-gcDone
	if res.Scans != 1 || res.Manifests != 1 || res.PackageSets != 1 || res.Packages != 0 {
		t.Errorf("GC deleted %+v; want the old scan, its manifest and set, no package", res)
	}
	var dangling, pkgs int
	queryRow(t, e.dbURL, `SELECT (SELECT count(*) FROM package_sets s, unnest(s.package_ids) AS u(id) WHERE NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = u.id)),
		(SELECT count(*) FROM packages)`, &dangling, &pkgs)
	if dangling != 0 || pkgs != 2 {
		t.Errorf("%d dangling package references, %d packages; want 0 and 2", dangling, pkgs)
	}
}
