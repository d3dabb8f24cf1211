package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// TestServerRescan300Images is the rescan acceptance test: 5 bases × 60
// applications (300 images) carry zlib 1:1.2.13.dfsg-1, a sixth base's 20
// applications a fixed zlib; all 320 are scanned. Then an advisory for
// zlib is imported into the vulnerability database (atomically, as
// `kensa db import` does): within 5 s the API lists exactly the 300 images
// as affected and their reports and counts carry the finding, while no
// layer is read (database and process layer-read counters, registry blob
// downloads).
func TestServerRescan300Images(t *testing.T) {
	t0 := time.Now()
	e := newEnv(t, APIOptions{})
	const bases, apps, fixedApps = 5, 60, 20
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: bases, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	fixed := pushFixedZlibBase(t, e.reg.Host, bases, fixedApps)
	ids := make([]int64, 0, len(refs)+len(fixed))
	for _, r := range append(slices.Clone(refs), fixed...) {
		ids = append(ids, e.submit.submit(r))
	}
	stop := e.runWorkers(2, WorkerOptions{})
	jobs := waitJobs(t, e.st, ids, 90*time.Second)
	stop()
	for _, j := range jobs {
		if j.State != store.JobDone {
			t.Fatalf("job %d (%s): %s: %s", j.ID, j.Reference, j.State, j.Error)
		}
	}
	scanned := time.Since(t0)
	ctx := context.Background()
	before, err := e.st.LayerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(bases + 1 + len(ids)); before.Layers != want || before.Reads != want {
		t.Fatalf("after the scans: %+v, want %d layers each read once", before, want)
	}
	readsBefore, _ := e.st.LayerReads()
	blobsBefore := e.reg.blobGets.Load()

	var logs syncBuffer
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		WatchDB(wctx, e.st, e.vulnDB, 50*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	time.Sleep(200 * time.Millisecond) // the watcher has read the current database

	const id = "KENSA-FIXTURE-2026-0003-zlib"
	tImport := time.Now()
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: e.vulnDB, Paths: []string{testdata("osv-v1"), testdata("osv-zlib")}, Replace: true}); err != nil {
		t.Fatal(err)
	}
	imported := time.Since(tImport)
	var aff struct{ Images []store.Image }
	for {
		aff.Images = nil
		if code := e.reads.do("GET", "/v1/advisories/"+id+"/images", nil, &aff); code != http.StatusOK {
			t.Fatalf("affected images: HTTP %d", code)
		}
		if len(aff.Images) >= len(refs) || time.Since(tImport) > 5*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	visible := time.Since(tImport)
	// The findings are visible set by set; the rescan's log line follows
	// when the last set is done.
	for !strings.Contains(logs.String(), "msg=rescan advisories") && time.Since(tImport) < 10*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-watched
	if len(aff.Images) != len(refs) {
		t.Fatalf("%d images affected by %s %s after the import, want %d", len(aff.Images), id, visible, len(refs))
	}
	var got []string
	for _, im := range aff.Images {
		got = append(got, im.Reference)
		if im.Severity != "HIGH" {
			t.Errorf("affected image %s: severity %q, want HIGH", im.Reference, im.Severity)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(refs))
	if !slices.Equal(got, want) {
		t.Errorf("affected images differ from the 300 with the old zlib")
	}
	after, err := e.st.LayerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readsAfter, _ := e.st.LayerReads()
	if after.Reads != before.Reads || readsAfter != readsBefore || e.reg.blobGets.Load() != blobsBefore {
		t.Errorf("the rescan read layers: database reads %d→%d, process reads %d→%d, registry blob GETs %d→%d",
			before.Reads, after.Reads, readsBefore, readsAfter, blobsBefore, e.reg.blobGets.Load())
	}
	// Reports and image counts follow.
	if v := vulnIDs(e.report(e.reads, ids[apps+7])); !slices.Contains(v, id+" zlib1g") {
		t.Errorf("report of %s after the rescan: %v lacks %s", refs[apps+7], v, id)
	}
	if v := vulnIDs(e.report(e.reads, ids[len(ids)-1])); slices.Contains(v, id+" zlib1g") {
		t.Errorf("report of %s (fixed zlib) gained %s", fixed[len(fixed)-1], id)
	}
	var list struct{ Images []store.Image }
	if code := e.reads.do("GET", "/v1/images?limit=1000", nil, &list); code != 200 || len(list.Images) != len(ids) {
		t.Fatalf("image list: HTTP %d, %d images", code, len(list.Images))
	}
	for _, im := range list.Images {
		wantHigh := 2 // perl (osv-v1) and zlib
		if strings.Contains(im.Reference, fmt.Sprintf("/base%d/", bases)) {
			wantHigh = 1
		}
		if im.Counts["HIGH"] != wantHigh {
			t.Errorf("image %s: %d HIGH, want %d", im.Reference, im.Counts["HIGH"], wantHigh)
			break
		}
	}
	rescanLine := regexp.MustCompile(`msg=rescan .*`).FindString(logs.String())
	// Re-matched: the 6 package sets naming zlib and their 320 images (the
	// fixed base's included: it is checked, and stays unaffected).
	if !strings.Contains(rescanLine, "sets=6 images=320") {
		t.Errorf("rescan log line %q: want sets=6 images=320", rescanLine)
	}
	t.Logf("%d images scanned in %s; import %s; affected images listed %s after the import started (%s); whole test %s",
		len(ids), scanned.Round(time.Millisecond), imported.Round(time.Millisecond), visible.Round(time.Millisecond), rescanLine, time.Since(t0).Round(time.Millisecond))
}

// pushFixedZlibBase pushes apps applications on base b, a synthetic base
// whose zlib is the fixed 1:1.2.13.dfsg-2, and returns their references.
func pushFixedZlibBase(t *testing.T, host string, b, apps int) []string {
	t.Helper()
	var status strings.Builder
	for _, p := range synth.BasePackages(b, 0) {
		if p.Name == "zlib1g" {
			p.Version = "1:1.2.13.dfsg-2"
		}
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n", p.Name, p.Version)
		if p.Source != p.Name {
			fmt.Fprintf(&status, "Source: %s\n", p.Source)
		}
		status.WriteString("\n")
	}
	base, err := synth.Layer(map[string]string{
		"etc/os-release":      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
		"var/lib/dpkg/status": status.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for a := range apps {
		img, err := synth.Image(base, b, a)
		if err != nil {
			t.Fatal(err)
		}
		r := fmt.Sprintf("%s/base%d/app%d:1", host, b, a)
		ref, err := name.ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	return refs
}
