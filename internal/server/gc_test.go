package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// TestGCBoundsRepeatedScans scans two images again and again: with GC
// after each round (keep 2 scans per image) the row counts after round 3
// and after round 6 are the same, and the latest reports still read.
func TestGCBoundsRepeatedScans(t *testing.T) {
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

// TestGCOrphanedLayers re-pushes a tag with another image: once the old
// scan goes, its manifest, the layers only it referenced, its package set
// and their packages are deleted (after the layer grace), while the
// layers, set and packages of the images still held are kept.
func TestGCOrphanedLayers(t *testing.T) {
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
