package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// pgCluster is a throwaway PostgreSQL cluster of one test, run by
// scripts/postgres.sh in a folder and on a port of its own, so that the
// test may stop and start it without disturbing the shared cluster.
type pgCluster struct {
	t    *testing.T
	env  []string
	URL  string
	Port int
}

func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	// Under /tmp: when run as root the script hands the folder to the
	// postgres user, which must be able to reach it.
	dir, err := os.MkdirTemp("", "kensa-pgfault-")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &pgCluster{t: t, env: append(os.Environ(), "KENSA_PG_DIR="+dir, "KENSA_PG_PORT="+strconv.Itoa(port)), Port: port}
	t.Cleanup(func() {
		c.run("destroy") //nolint:errcheck
		os.RemoveAll(dir)
	})
	out, err := c.run("start")
	if err != nil {
		t.Fatalf("scripts/postgres.sh start: %v\n%s", err, out)
	}
	c.URL = strings.TrimSpace(out)
	if !strings.Contains(c.URL, ":"+strconv.Itoa(port)+"/") {
		t.Fatalf("cluster URL %q is not on port %d", c.URL, port)
	}
	return c
}

func (c *pgCluster) run(cmd string) (string, error) {
	x := exec.Command("bash", filepath.Join("..", "..", "scripts", "postgres.sh"), cmd)
	x.Env = c.env
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	err := x.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerSurvivesPostgresRestart scans images with two workers while
// the PostgreSQL cluster is restarted (pg_ctl stop -m fast, which drops
// every connection, then start) and scans are still being submitted:
// submissions during the outage get 503 and succeed when retried, the
// workers log the loss and the recovery, every job completes, each once
// (one stored scan per job), and no job fails.
func TestServerSurvivesPostgresRestart(t *testing.T) {
	pg := startPostgres(t)
	st := openStore(t, pg.URL)
	api := httptest.NewServer(NewAPI(st, APIOptions{}))
	defer api.Close()
	reg := newRegistry(t)
	vdb := filepath.Join(t.TempDir(), "kensa.db")
	buildDB(t, vdb, testdata("osv-v1"))
	ctx := context.Background()
	tok, err := st.CreateToken(ctx, "fault", []string{store.ScopeSubmit})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := synth.Push(reg.Host, synth.Options{Bases: 4, Apps: 15, Extra: 40})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 2 {
		w := NewWorker(st, WorkerOptions{ID: fmt.Sprintf("fault-%d", i), DBPath: vdb, Lease: 2 * time.Second,
			Poll: 20 * time.Millisecond, Backoff: 100 * time.Millisecond, Log: log})
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(wctx) }() //nolint:errcheck
	}
	defer func() { stopWorkers(); wg.Wait() }()

	// submit posts a scan until it is accepted, counting refusals.
	var refused atomic.Int64
	submit := func(ref string) int64 {
		body, _ := json.Marshal(SubmitRequest{Image: ref})
		deadline := time.Now().Add(60 * time.Second)
		for {
			req, _ := http.NewRequest("POST", api.URL+"/v1/scans", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				var j store.Job
				derr := json.NewDecoder(resp.Body).Decode(&j)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted && derr == nil {
					return j.ID
				}
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("submit %s: HTTP %d", ref, resp.StatusCode)
					return 0
				}
			}
			refused.Add(1)
			if time.Now().After(deadline) {
				t.Errorf("submit %s: not accepted within 60 s", ref)
				return 0
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	half := len(refs) / 2
	var ids []int64
	for _, r := range refs[:half] {
		ids = append(ids, submit(r))
	}
	// Restart once some jobs are done and others are in flight.
	for {
		c, err := st.JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c[store.JobDone] >= 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, err := pg.run("stop"); err != nil {
		t.Fatalf("stop PostgreSQL: %v: %s", err, out)
	}
	t0 := time.Now()
	late := make(chan []int64)
	go func() { // submissions during the outage and after
		var out []int64
		for _, r := range refs[half:] {
			out = append(out, submit(r))
		}
		late <- out
	}()
	resp, err := http.Get(api.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz with the database down: HTTP %d, want 503", resp.StatusCode)
	}
	time.Sleep(1500 * time.Millisecond)
	if out, err := pg.run("start"); err != nil {
		t.Fatalf("start PostgreSQL: %v: %s", err, out)
	}
	down := time.Since(t0)
	ids = append(ids, <-late...)

	deadline := time.Now().Add(120 * time.Second)
	for {
		c, err := st.JobCounts(ctx)
		if err == nil && c[store.JobDone]+c[store.JobFailed] == int64(len(refs)) && c[store.JobQueued]+c[store.JobRunning] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not finished 120 s after the restart: %v (%v)", c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(t0)
	stopWorkers()
	wg.Wait()

	var jobs, done, scans, distinct, images, maxAttempts int
	queryRow(t, pg.URL, `SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM jobs WHERE state = 'done'),
		(SELECT count(*) FROM scans), (SELECT count(DISTINCT scan_id) FROM jobs), (SELECT count(*) FROM images),
		(SELECT max(attempts) FROM jobs)`, &jobs, &done, &scans, &distinct, &images, &maxAttempts)
	if jobs != len(refs) || done != jobs || scans != jobs || distinct != jobs || images != len(refs) {
		t.Errorf("after the restart: %d jobs (%d done), %d scans, %d distinct scan IDs, %d images; want %d of each",
			jobs, done, scans, distinct, images, len(refs))
	}
	for _, id := range ids {
		j, err := st.Job(ctx, id)
		if err != nil || j.State != store.JobDone {
			t.Errorf("accepted job %d: %+v, %v; want done", id, j, err)
		}
	}
	ls, err := st.LayerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Layers != int64(4+len(refs)) || ls.Refs != int64(2*len(refs)) {
		t.Errorf("layer stats %+v: want %d layers and %d references", ls, 4+len(refs), 2*len(refs))
	}
	out := logs.String()
	for _, want := range []string{"database connection lost", "database connection restored"} {
		if !strings.Contains(out, want) {
			t.Errorf("the workers' log lacks %q:\n%s", want, out)
		}
	}
	if refused.Load() == 0 {
		t.Error("no submission was refused: the outage was not observed")
	}
	if strings.Contains(out, "job failed") {
		t.Errorf("a job attempt was recorded as failed:\n%s", out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "database") {
			lines = append(lines, l)
		}
	}
	t.Logf("%d images; database down %s; all done %s after the stop; %d submissions refused and retried; max attempts %d; %d layer reads for %d layers\n%s",
		len(refs), down.Round(time.Millisecond), took.Round(time.Millisecond), refused.Load(), maxAttempts, ls.Reads, ls.Layers, strings.Join(lines, "\n"))
}

// TestServerConnLossClassified: an error from a connection the server
// terminated is a connection loss; a bad query, a missing row and a
// network error of a registry are not.
func TestServerConnLossClassified(t *testing.T) {
	ctx := context.Background()
	u := newDatabase(t)
	victim, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(ctx)
	killer, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	if _, err := killer.Exec(ctx, "SELECT pg_terminate_backend($1)", victim.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	_, lost := victim.Exec(ctx, "SELECT 1")
	if lost == nil || !store.IsConnLoss(fmt.Errorf("job 1: %w", lost)) {
		t.Errorf("error on a terminated connection %v: not a connection loss", lost)
	}
	if _, err := victim.Exec(ctx, "SELECT 1"); !store.IsConnLoss(err) {
		t.Errorf("error on a closed connection %v: not a connection loss", err)
	}
	_, bad := killer.Exec(ctx, "SELEC 1")
	var none int
	noRow := killer.QueryRow(ctx, "SELECT 1 WHERE false").Scan(&none)
	netErr := fmt.Errorf("layer 0: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")})
	for _, err := range []error{bad, noRow, netErr} {
		if err == nil || store.IsConnLoss(err) {
			t.Errorf("%v: classified as a connection loss", err)
		}
	}
}
