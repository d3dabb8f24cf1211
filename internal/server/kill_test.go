package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/server/store"
	"github.com/kensa-sec/kensa/internal/testimages/synth"
)

// TestMain runs a worker instead of the tests when the kill test starts
// this test binary as a worker process.
func TestMain(m *testing.M) {
	if u := os.Getenv("KENSA_TEST_WORKER_DB"); u != "" {
		os.Exit(workerProcess(u))
	}
	os.Exit(m.Run())
}

// workerProcess runs one worker with a 1 s lease until killed.
func workerProcess(dbURL string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	o := WorkerOptions{ID: "doomed-worker", DBPath: os.Getenv("KENSA_TEST_WORKER_VULNDB"), Lease: time.Second, Poll: 20 * time.Millisecond}
	// KENSA_TEST_WORKER_LIMIT=host=N runs 2 workers limited on host (the
	// cross-process registry limit test).
	if host, n, ok := strings.Cut(os.Getenv("KENSA_TEST_WORKER_LIMIT"), "="); ok {
		lim, _ := strconv.Atoi(n)
		o.RegistryLimits = store.RegistryLimits{PerRegistry: map[string]int{host: lim}}
		fmt.Println("ready")
		var wg sync.WaitGroup
		for i := range 2 {
			o := o
			o.ID = fmt.Sprintf("proc%d-worker%d", os.Getpid(), i)
			wg.Add(1)
			go func() { defer wg.Done(); NewWorker(st, o).Run(ctx) }() //nolint:errcheck
		}
		wg.Wait()
		return 0
	}
	w := NewWorker(st, o)
	w.Run(ctx) //nolint:errcheck
	return 0
}

// TestWorkerKilledMidJob starts a worker process, lets it take a job and
// start reading the image's shared base layer (holding that layer's lock),
// kills it with SIGKILL, and checks that after the lease expires another
// worker takes the job, reads the layer, and that the job's result is
// recorded exactly once.
func TestWorkerKilledMidJob(t *testing.T) {
	e := newEnv(t, APIOptions{})
	refs, err := synth.Push(e.reg.Host, synth.Options{Bases: 1, Apps: 1})
	if err != nil {
		t.Fatal(err)
	}
	base, err := synth.BaseLayer(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	e.reg.slow.Store(d.String())
	id := e.submit.submit(refs[0])

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KENSA_TEST_WORKER_DB="+e.dbURL, "KENSA_TEST_WORKER_VULNDB="+e.vulnDB)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the doomed worker holds the job and is reading the base
	// layer (its lock is held).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var worker string
		var locks int
		queryRow(t, e.dbURL, fmt.Sprintf("SELECT coalesce(worker, ''), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) FROM jobs WHERE id = %d", id), &worker, &locks)
		if worker == "doomed-worker" && locks > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("worker process did not take the job (worker %q, advisory locks %d)", worker, locks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("worker process: %v, want killed", err)
	}
	e.reg.slow.Store("")
	stop := e.runWorkers(1, WorkerOptions{Lease: time.Second})
	jobs := waitJobs(t, e.st, []int64{id}, 30*time.Second)
	stop()
	j := jobs[id]
	if j.State != store.JobDone || j.Attempts != 2 {
		t.Fatalf("job after the kill: %s after %d attempts (%s); want done after 2", j.State, j.Attempts, j.Error)
	}
	var scans, reads int
	queryRow(t, e.dbURL, "SELECT (SELECT count(*) FROM scans), (SELECT coalesce(sum(reads), 0) FROM layers)", &scans, &reads)
	if scans != 1 || reads != 2 {
		t.Errorf("scans = %d, layer reads = %d; want the result once and each of 2 layers read once to completion", scans, reads)
	}
}
