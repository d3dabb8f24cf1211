package image

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// distroInfoDir holds Debian's distro-info-data CSVs (the package Debian and
// Ubuntu maintain their own release and support dates in);
// scripts/setup.sh installs it.
const distroInfoDir = "/usr/share/distro-info"

// TestEOLTableMatchesDistroInfo checks the Debian and Ubuntu rows of
// eol.json against distro-info-data: every row's date must equal the
// column our policy names (Debian: end of LTS; Ubuntu: end of standard
// support), and every release published before the table's "checked" date
// must have a row, so a new release cannot be silently unknown to
// KS-IM-013. A failure names the row to add or correct. Rows newer than
// every release the installed package lists (an older distro-info-data
// than the table was checked against) are logged, not failed.
func TestEOLTableMatchesDistroInfo(t *testing.T) {
	tab, err := loadEOL()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, file   string
		eolColumn  string
		minVersion string // releases older than this were never in container images we care about
	}{
		{id: "debian", file: "debian.csv", eolColumn: "eol-lts", minVersion: "7"},
		{id: "ubuntu", file: "ubuntu.csv", eolColumn: "eol", minVersion: "14.04"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rows := readDistroInfo(t, filepath.Join(distroInfoDir, tc.file))
			ours := map[string]Release{}
			for _, r := range tab.Releases {
				if r.ID == tc.id {
					ours[r.Version] = r
				}
			}
			seen := map[string]bool{}
			for _, row := range rows {
				// distro-info writes "22.04 LTS"; os-release's VERSION_ID is "22.04".
				v := strings.Fields(row["version"])
				if len(v) == 0 || versionLess(v[0], tc.minVersion) {
					continue
				}
				ver := v[0]
				want := row[tc.eolColumn]
				if tc.id == "ubuntu" && want == "" {
					want = row["eol"]
				}
				released := row["release"]
				if want == "" || released == "" || released > tab.Checked {
					continue // unreleased, or released after the last review
				}
				seen[ver] = true
				r, ok := ours[ver]
				if !ok {
					t.Errorf("eol.json lacks %s %s (%s, released %s, %s %s per %s)", tc.id, ver, row["codename"], released, tc.eolColumn, want, tc.file)
					continue
				}
				if r.EOL != want {
					t.Errorf("eol.json: %s %s eol %s, distro-info-data says %s (%s column of %s)", tc.id, ver, r.EOL, want, tc.eolColumn, tc.file)
				}
			}
			// A machine may carry an older distro-info-data than the one
			// the table was checked against: releases newer than any it
			// lists are beyond what it can confirm, not errors.
			newest := ""
			for _, row := range rows {
				if v := strings.Fields(row["version"]); len(v) > 0 && (newest == "" || versionLess(newest, v[0])) {
					newest = v[0]
				}
			}
			for v := range ours {
				switch {
				case seen[v]:
				case newest != "" && versionLess(newest, v):
					t.Logf("eol.json has %s %s, newer than this distro-info-data knows (its newest is %s): not checked", tc.id, v, newest)
				default:
					t.Errorf("eol.json has %s %s, which distro-info-data does not list as released", tc.id, v)
				}
			}
			if len(seen) < 5 {
				t.Errorf("only %d %s releases compared: is %s complete?", len(seen), tc.id, tc.file)
			}
		})
	}
}

// readDistroInfo reads one distro-info CSV into rows keyed by header name.
func readDistroInfo(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (install Debian's distro-info-data package: scripts/setup.sh does)", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(recs) < 2 {
		t.Fatalf("%s: no rows", path)
	}
	head := recs[0]
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range head {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// versionLess orders dotted numeric versions ("9" < "10", "14.04" <
// "16.04") with the table's own comparison.
func versionLess(a, b string) bool {
	va, _ := numericVersion(a)
	vb, _ := numericVersion(b)
	return compareVersions(va, vb) < 0
}
