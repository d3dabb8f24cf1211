package vulndb

import (
	"archive/zip"
	"fmt"
	"os"
	"testing"
)

// writeSyntheticZip writes an OSV all.zip of n synthetic npm records over
// n/4 package names, shaped like real GHSA records (aliases, CVSS vector,
// two ranges, references).
func writeSyntheticZip(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := 0; i < n; i++ {
		w, err := zw.Create(fmt.Sprintf("SYN-%07d.json", i))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, `{"schema_version":"1.6.0","id":"SYN-%07d","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2099-%07d"],
"summary":"synthetic advisory %d for load tests","details":"A synthetic record used to measure import and lookup speed. It is long enough to look like real text in an advisory body, with a second sentence.",
"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
"affected":[{"package":{"ecosystem":"npm","name":"synthetic-pkg-%d","purl":"pkg:npm/synthetic-pkg-%d"},
"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.%d.0"}]},{"type":"SEMVER","events":[{"introduced":"2.0.0"},{"fixed":"2.%d.1"}]}]}],
"references":[{"type":"ADVISORY","url":"https://example.invalid/SYN-%07d"},{"type":"WEB","url":"https://example.invalid/cve/%d"}]}`,
			i, i, i, i%(n/4+1), i%(n/4+1), i%100, i%100, i, i)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
