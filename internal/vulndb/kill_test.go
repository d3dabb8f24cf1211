package vulndb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary double as a helper process that imports
// into a database, so a test can SIGKILL an import half-way.
func TestMain(m *testing.M) {
	if db := os.Getenv("KENSA_TEST_IMPORT_DB"); db != "" {
		_, err := Import(ImportOptions{DBPath: db, Paths: []string{os.Getenv("KENSA_TEST_IMPORT_SRC")}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestKilledImportKeepsPreviousDB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 80k-record archive; skipped with -short")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kensa.db")
	importTo(t, path, false, "testdata/osv/Go")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.zip")
	writeSyntheticZip(t, big, 80_000)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KENSA_TEST_IMPORT_DB="+path, "KENSA_TEST_IMPORT_SRC="+big)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the helper's new database file has grown, then kill it.
	deadline := time.Now().Add(60 * time.Second)
	var building string
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, ".kensa.db.building-*"))
		if len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() > 2<<20 {
				building = m[0]
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	state, _ := cmd.Process.Wait()
	if building == "" {
		t.Fatalf("helper never got half-way (state %v)", state)
	}
	if state.Success() {
		t.Fatal("helper finished before it was killed; the test proves nothing")
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("the killed import changed the database file")
	}
	db := openT(t, path)
	if got := mustLookup(t, db, "Go", "golang.org/x/text"); len(got) != 4 {
		t.Errorf("previous database answers %d x/text advisories, want 4", len(got))
	}
	if got := mustLookup(t, db, "npm", "synthetic-pkg-1"); len(got) != 0 {
		t.Errorf("half-imported records visible: %v", ids(got))
	}
}
