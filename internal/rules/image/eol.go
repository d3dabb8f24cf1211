package image

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/rules"
)

//go:embed eol.json
var eolJSON []byte

// Release is one entry of the embedded end-of-life table.
type Release struct {
	ID       string `json:"id"`      // os-release ID: debian, ubuntu, alpine, rhel, rocky, almalinux, centos, amzn, fedora, opensuse-leap
	Version  string `json:"version"` // VERSION_ID or its major[.minor] prefix
	Codename string `json:"codename,omitempty"`
	EOL      string `json:"eol"` // YYYY-MM-DD, last supported day
	Source   string `json:"source"`
	// OlderThan is set when the release is not in the table but is older
	// than its oldest row for the distribution (Alpine 3.6 when the table
	// starts at 3.7): it names that row's version, and EOL is that row's.
	OlderThan string `json:"-"`
}

type eolTable struct {
	Checked  string    `json:"checked"`
	Releases []Release `json:"releases"`
}

var loadEOL = sync.OnceValues(func() (eolTable, error) {
	var t eolTable
	if err := json.Unmarshal(eolJSON, &t); err != nil {
		return t, fmt.Errorf("embedded eol.json: %w", err)
	}
	for _, r := range t.Releases {
		if _, err := time.Parse(time.DateOnly, r.EOL); err != nil {
			return t, fmt.Errorf("embedded eol.json: %s %s: %w", r.ID, r.Version, err)
		}
	}
	return t, nil
})

// osAliases maps os-release IDs that share a table entry.
var osAliases = map[string]string{"rhel": "rhel", "redhat": "rhel", "opensuse": "opensuse-leap", "sles": ""}

// LookupRelease finds the table entry for an OS: the longest table version
// equal to VERSION_ID or a dot-separated prefix of it ("3.19" for
// "3.19.1", "12" for "12.7"); false when the release is unknown.
func LookupRelease(o inventory.OS) (Release, bool) {
	t, err := loadEOL()
	if err != nil {
		return Release{}, false
	}
	id := strings.ToLower(o.ID)
	if a, ok := osAliases[id]; ok {
		id = a
	}
	var best Release
	found := false
	for _, r := range t.Releases {
		if r.ID != id {
			continue
		}
		if o.VersionID == r.Version || strings.HasPrefix(o.VersionID, r.Version+".") {
			if !found || len(r.Version) > len(best.Version) {
				best, found = r, true
			}
		}
	}
	if found {
		return best, true
	}
	return olderThanTable(t.Releases, id, o.VersionID)
}

// noInference lists distributions whose version numbers do not grow
// monotonically (Amazon Linux went 2018.03 → 2 → 2023), so "older than the
// oldest row" cannot be decided from the number.
var noInference = map[string]bool{"amzn": true}

// olderThanTable reports a release older than every table row of its
// distribution as past end of life, with the oldest row's date: a release
// that old was retired before it. Versions with non-numeric parts
// ("3.21_alpha2024", "rolling") are never inferred.
func olderThanTable(rs []Release, id, version string) (Release, bool) {
	if noInference[id] {
		return Release{}, false
	}
	v, ok := numericVersion(version)
	if !ok {
		return Release{}, false
	}
	var oldest Release
	var oldestV []int
	for _, r := range rs {
		if r.ID != id {
			continue
		}
		rv, ok := numericVersion(r.Version)
		if ok && (oldestV == nil || compareVersions(rv, oldestV) < 0) {
			oldest, oldestV = r, rv
		}
	}
	if oldestV == nil || compareVersions(v, oldestV) >= 0 {
		return Release{}, false
	}
	return Release{ID: id, Version: version, EOL: oldest.EOL, Source: oldest.Source, OlderThan: oldest.Version}, true
}

// numericVersion splits a dotted version into numbers; false when a part is
// not a number.
func numericVersion(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// compareVersions compares numeric versions part by part; a missing part
// counts as 0 ("3" == "3.0").
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// endOfLife is KS-IM-013.
func (c *checker) endOfLife() []finding.Finding {
	if c.in.OS == nil || c.in.OS.VersionID == "" {
		return nil
	}
	r, ok := LookupRelease(*c.in.OS)
	if !ok {
		return nil
	}
	eol, _ := time.Parse(time.DateOnly, r.EOL)
	if !c.in.Now.After(eol.Add(24*time.Hour - time.Nanosecond)) {
		return nil
	}
	name := c.in.OS.PrettyName
	if name == "" {
		name = c.in.OS.ID + " " + c.in.OS.VersionID
	}
	p := "/etc/os-release"
	if _, ok := c.im.File(p); !ok {
		if _, ok := c.im.File("/usr/lib/os-release"); ok {
			p = "/usr/lib/os-release"
		}
	}
	layer := -1
	if st, ok := c.im.File(p); ok {
		layer = st.Layer
	}
	msg := fmt.Sprintf("%s reached end of life on %s (source: %s)", name, r.EOL, r.Source)
	if r.OlderThan != "" {
		msg = fmt.Sprintf("%s is older than %s %s, which reached end of life on %s (source: %s)", name, c.in.OS.ID, r.OlderThan, r.EOL, r.Source)
	}
	f := rules.MustLookup("KS-IM-013").NewFinding(msg, c.loc(layer, p))
	f.Fix = fmt.Sprintf("Rebase on a supported %s release (e.g. the current stable base image tag) and rebuild.", c.in.OS.ID)
	f.References = []string{strings.Fields(r.Source)[0]}
	return []finding.Finding{f}
}
