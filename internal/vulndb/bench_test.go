package vulndb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// goArchive is the real Go OSV set, when the shared data is present.
const goArchive = "/work/shared/vulndata/osv/Go/all.zip"

// benchImport imports src b.N times and reports the file size.
func benchImport(b *testing.B, src string) {
	dir := b.TempDir()
	path := filepath.Join(dir, "kensa.db")
	b.ResetTimer()
	var m Meta
	for i := 0; i < b.N; i++ {
		var err error
		m, err = Import(ImportOptions{DBPath: path, Paths: []string{src}, Replace: true})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
	b.ReportMetric(float64(m.Records), "records")
}

// BenchmarkImportGo imports the Go vulnerability database (4,291 records).
func BenchmarkImportGo(b *testing.B) {
	if _, err := os.Stat(goArchive); err != nil {
		b.Skip("shared Go OSV archive not present: " + goArchive)
	}
	benchImport(b, goArchive)
}

// BenchmarkImportSynthetic imports a synthetic set of KENSA_BENCH_RECORDS
// records (default 500,000).
func BenchmarkImportSynthetic(b *testing.B) {
	n := 500_000
	if s := os.Getenv("KENSA_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	src := filepath.Join(b.TempDir(), "all.zip")
	writeSyntheticZip(b, src, n)
	benchImport(b, src)
}

// BenchmarkLookup measures package lookups (index read + cached advisory
// decode) on the synthetic set, the way a scan asks: one ecosystem and
// name per package.
func BenchmarkLookup(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	src := filepath.Join(dir, "all.zip")
	writeSyntheticZip(b, src, n)
	path := filepath.Join(dir, "kensa.db")
	if _, err := Import(ImportOptions{DBPath: path, Paths: []string{src}}); err != nil {
		b.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("synthetic-pkg-%d", (i*7919)%(n/4))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		advs, err := db.Lookup("npm", names[i%len(names)])
		if err != nil || len(advs) == 0 {
			b.Fatalf("lookup: %v %d", err, len(advs))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
