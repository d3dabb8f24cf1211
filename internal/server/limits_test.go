package server

import (
	"bufio"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/jackc/pgx/v5"
	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// slowRegistry is the in-process registry answering each request after a
// delay, and recording the most repositories it served at once (each job
// scans one repository, so that is the jobs running against it).
type slowRegistry struct {
	Host     string
	mu       sync.Mutex
	inflight map[string]int
	max      int
	slowOn   func()
}

func newSlowRegistry(t *testing.T, delay time.Duration) *slowRegistry {
	t.Helper()
	r := &slowRegistry{inflight: map[string]int{}}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var slow atomicBool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo := req.URL.Path
		for _, sep := range []string{"/manifests/", "/blobs/"} {
			if i := strings.Index(repo, sep); i >= 0 {
				repo = strings.TrimPrefix(repo[:i], "/v2/")
			}
		}
		if slow.get() && req.Method == http.MethodGet {
			r.mu.Lock()
			r.inflight[repo]++
			r.max = max(r.max, len(r.inflight))
			r.mu.Unlock()
			defer func() {
				r.mu.Lock()
				if r.inflight[repo]--; r.inflight[repo] == 0 {
					delete(r.inflight, repo)
				}
				r.mu.Unlock()
			}()
			time.Sleep(delay)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	t.Cleanup(func() { slow.set(false) })
	r.slowOn = func() { slow.set(true) }
	return r
}

type atomicBool struct {
	mu sync.Mutex
	v  bool
}

func (b *atomicBool) get() bool  { b.mu.Lock(); defer b.mu.Unlock(); return b.v }
func (b *atomicBool) set(v bool) { b.mu.Lock(); b.v = v; b.mu.Unlock() }

func (r *slowRegistry) maxRepos() int { r.mu.Lock(); defer r.mu.Unlock(); return r.max }

// TestServerRegistryConcurrencyLimit runs 8 workers on jobs for two slow
// registries, one limited to 2 jobs at once and the other by the default
// of 3: neither registry ever serves more repositories at once than its
// limit, the running jobs per registry in the database never exceed it,
// and both reach it (the bound is what holds them, not a lack of work).
func TestServerRegistryConcurrencyLimit(t *testing.T) {
	e := newEnv(t, APIOptions{})
	a, b := newSlowRegistry(t, 60*time.Millisecond), newSlowRegistry(t, 60*time.Millisecond)
	var refs []string
	for _, host := range []string{a.Host, b.Host} {
		rs, err := synth.Push(host, synth.Options{Bases: 2, Apps: 4})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, rs...)
	}
	a.slowOn()
	b.slowOn()
	var ids []int64
	for _, r := range refs {
		ids = append(ids, e.submit.submit(r))
	}
	ctx, cancel := context.WithCancel(context.Background())
	maxRunning := map[string]int{}
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			rows, err := pgxQuery(e.dbURL, "SELECT registry, count(*) FROM jobs WHERE state = 'running' GROUP BY registry")
			if err == nil {
				for reg, n := range rows {
					maxRunning[reg] = max(maxRunning[reg], n)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	lim := store.RegistryLimits{PerRegistry: map[string]int{a.Host: 2}, Default: 3}
	stop := e.runWorkers(8, WorkerOptions{RegistryLimits: lim})
	t0 := time.Now()
	jobs := waitJobs(t, e.st, ids, 90*time.Second)
	stop()
	cancel()
	<-sampled
	for _, j := range jobs {
		if j.State != store.JobDone {
			t.Fatalf("job %d (%s): %s: %s", j.ID, j.Reference, j.State, j.Error)
		}
	}
	t.Logf("16 jobs in %s; most repositories served at once: %s %d, %s %d; most running in the database: %v",
		time.Since(t0).Round(time.Millisecond), a.Host, a.maxRepos(), b.Host, b.maxRepos(), maxRunning)
	if a.maxRepos() != 2 || maxRunning[a.Host] != 2 {
		t.Errorf("registry limited to 2: served %d repositories at once, %d jobs running at once; want 2 and 2", a.maxRepos(), maxRunning[a.Host])
	}
	if b.maxRepos() != 3 || maxRunning[b.Host] != 3 {
		t.Errorf("registry with the default limit 3: served %d repositories at once, %d jobs running at once; want 3 and 3", b.maxRepos(), maxRunning[b.Host])
	}
}

// pgxQuery runs a two-column (text, count) query on the database at dbURL.
func pgxQuery(dbURL, sql string) (map[string]int, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// TestServerRegistryConcurrencyLimitAcrossProcesses runs two worker processes of
// 2 workers each on one database, limited to 3 jobs at once on a slow
// registry: together they run 3 at once (so both run jobs together), never
// 4.
func TestServerRegistryConcurrencyLimitAcrossProcesses(t *testing.T) {
	e := newEnv(t, APIOptions{})
	a := newSlowRegistry(t, 60*time.Millisecond)
	refs, err := synth.Push(a.Host, synth.Options{Bases: 2, Apps: 4})
	if err != nil {
		t.Fatal(err)
	}
	a.slowOn()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill() //nolint:errcheck
			p.Wait()         //nolint:errcheck
		}
	}()
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KENSA_TEST_WORKER_DB="+e.dbURL, "KENSA_TEST_WORKER_VULNDB="+e.vulnDB, "KENSA_TEST_WORKER_LIMIT="+a.Host+"=3")
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		// Both processes are polling before any job is queued.
		ready := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(out).ReadString('\n')
			ready <- line
			io.Copy(io.Discard, out) //nolint:errcheck
		}()
		select {
		case line := <-ready:
			if line != "ready\n" {
				t.Fatalf("worker process said %q", line)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("worker process not ready after 30s")
		}
	}
	var ids []int64
	for _, r := range refs {
		ids = append(ids, e.submit.submit(r))
	}
	ctx, cancel := context.WithCancel(context.Background())
	maxRunning := 0
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if rows, err := pgxQuery(e.dbURL, "SELECT registry, count(*) FROM jobs WHERE state = 'running' GROUP BY registry"); err == nil {
				maxRunning = max(maxRunning, rows[a.Host])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	jobs := waitJobs(t, e.st, ids, 90*time.Second)
	cancel()
	<-sampled
	workers := map[string]bool{}
	for _, j := range jobs {
		if j.State != store.JobDone {
			t.Fatalf("job %d: %s: %s", j.ID, j.State, j.Error)
		}
	}
	rows, err := pgxQuery(e.dbURL, "SELECT split_part(worker, '-', 1), count(*) FROM jobs GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for w := range rows {
		workers[w] = true
	}
	if a.maxRepos() != 3 || maxRunning != 3 || len(workers) != 2 {
		t.Errorf("two processes limited to 3: served %d repositories at once, %d jobs running at once, jobs ran in %d processes; want 3, 3, 2",
			a.maxRepos(), maxRunning, len(workers))
	}
}
