package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkServerLoad is the registry-scale load test (bench/server.sh):
// KENSA_BENCH_BASES × KENSA_BENCH_APPS images (default 20 × 50) with
// KENSA_BENCH_EXTRA filler packages per base (default 100), pushed to the
// in-process registry, submitted through the API and scanned by
// KENSA_BENCH_WORKERS workers (default 4) on the real PostgreSQL. It
// reports images/s, layer reads per layer reference, database bytes per
// image against storing every image's packages separately, and the API's
// p99 latency while scanning. KENSA_BENCH_REGISTRY_LIMIT (default none)
// bounds the jobs running against the registry. It runs the load once
// whatever b.N is.
func BenchmarkServerLoad(b *testing.B) {
	bases, apps := envInt("KENSA_BENCH_BASES", 20), envInt("KENSA_BENCH_APPS", 50)
	extra, workers := envInt("KENSA_BENCH_EXTRA", 100), envInt("KENSA_BENCH_WORKERS", 4)
	dbURL := newDatabase(b)
	st := openStore(b, dbURL)
	api := httptest.NewServer(NewAPI(st, APIOptions{}))
	defer api.Close()
	reg := newRegistry(b)
	vdb := filepath.Join(b.TempDir(), "kensa.db")
	buildDB(b, vdb, testdata("osv-v1"))
	tok, err := st.CreateToken(context.Background(), "bench", []string{store.ScopeSubmit})
	if err != nil {
		b.Fatal(err)
	}
	refs, err := synth.Push(reg.Host, synth.Options{Bases: bases, Apps: apps, Extra: extra})
	if err != nil {
		b.Fatal(err)
	}
	size0 := dbSize(b, dbURL)

	var mu sync.Mutex
	var lat []time.Duration
	call := func(method, path string, body []byte, out any) int {
		req, _ := http.NewRequest(method, api.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out) //nolint:errcheck
		} else {
			var sink bytes.Buffer
			sink.ReadFrom(resp.Body) //nolint:errcheck
		}
		d := time.Since(t0)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		return resp.StatusCode
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range workers {
		w := NewWorker(st, WorkerOptions{ID: fmt.Sprintf("bench-%d", i), DBPath: vdb, Poll: 20 * time.Millisecond,
			RegistryLimits: store.RegistryLimits{Default: envInt("KENSA_BENCH_REGISTRY_LIMIT", 0)}})
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }() //nolint:errcheck
	}
	b.ResetTimer()
	t0 := time.Now()
	ids := make([]int64, 0, len(refs))
	for _, r := range refs {
		body, _ := json.Marshal(SubmitRequest{Image: r})
		var j store.Job
		if code := call("POST", "/v1/scans", body, &j); code != http.StatusAccepted {
			b.Fatalf("submit %s: HTTP %d", r, code)
		}
		ids = append(ids, j.ID)
	}
	// Readers while scanning: status of a recent job and the image list.
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		for i := 0; ctx.Err() == nil; i++ {
			call("GET", fmt.Sprintf("/v1/scans/%d", ids[i%len(ids)]), nil, nil)
			call("GET", "/v1/images?limit=50", nil, nil)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	waitJobs(b, st, ids, 30*time.Minute)
	elapsed := time.Since(t0)
	b.StopTimer()
	cancel()
	wg.Wait()
	<-pollDone
	failed := 0
	for _, id := range ids {
		if j, _ := st.Job(context.Background(), id); j.State != store.JobDone {
			failed++
		}
	}
	if failed > 0 {
		b.Fatalf("%d jobs failed", failed)
	}
	ls, err := st.LayerStats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if ls.Reads != ls.Layers {
		b.Errorf("%d layer reads for %d layers: some layer was read more than once", ls.Reads, ls.Layers)
	}
	size1 := dbSize(b, dbURL)
	logTableSizes(b, dbURL)
	baseline := separatePackagesBytes(b, st, dbURL, ids)
	n := float64(len(refs))
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	perImage := float64(size1-size0) / n
	b.ReportMetric(n/elapsed.Seconds(), "images/s")
	b.ReportMetric(float64(ls.Reads)/float64(ls.Refs), "layer-reads/ref")
	b.ReportMetric(perImage, "db-bytes/image")
	b.ReportMetric(baseline/n, "separate-pkg-bytes/image")
	b.ReportMetric(100*perImage/(baseline/n), "db-%-of-separate")
	b.ReportMetric(float64(p99.Microseconds())/1000, "api-p99-ms")
	b.Logf("%d images (%d bases × %d apps, %d packages each) in %s with %d workers: %d layers read for %d references; %d API calls",
		len(refs), bases, apps, extra+len(synth.CommonPackages)+1, elapsed.Round(time.Millisecond), workers, ls.Reads, ls.Refs, len(lat))
}

func dbSize(b *testing.B, dbURL string) int64 {
	var n int64
	queryRow(b, dbURL, "SELECT pg_database_size(current_database())", &n)
	return n
}

// separatePackagesBytes stores every image's packages as rows of their own
// (image, name, version, JSON), what a store without sharing would keep,
// and returns that table's size with its index.
func separatePackagesBytes(b *testing.B, st *store.Store, dbURL string, ids []int64) float64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE separate_packages (image text, name text, version text, data bytea, PRIMARY KEY (image, name, version))"); err != nil {
		b.Fatal(err)
	}
	var rows [][]any
	for _, id := range ids {
		j, err := st.Job(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := st.Report(ctx, j.ScanID)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range rep.Packages {
			d, _ := json.Marshal(p)
			rows = append(rows, []any{rep.Target, p.Name, p.Version, d})
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"separate_packages"}, []string{"image", "name", "version", "data"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size('separate_packages')").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return float64(n)
}

// logTableSizes logs the largest tables with their indexes and TOAST.
func logTableSizes(b *testing.B, dbURL string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT relname, pg_total_relation_size(oid) FROM pg_class
		WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT 8`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var n int64
		rows.Scan(&name, &n) //nolint:errcheck
		out = append(out, fmt.Sprintf("%s %d KB", name, n>>10))
	}
	b.Logf("largest tables: %v", out)
}
