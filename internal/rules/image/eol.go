package image

import (
	_ "embed"
	"encoding/json"
	"fmt"
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
	return best, found
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
	if _, ok := c.im.Files[p]; !ok {
		if _, ok := c.im.Files["/usr/lib/os-release"]; ok {
			p = "/usr/lib/os-release"
		}
	}
	layer := -1
	if st, ok := c.im.Files[p]; ok {
		layer = st.Layer
	}
	f := rules.MustLookup("KS-IM-013").NewFinding(fmt.Sprintf("%s reached end of life on %s (source: %s)", name, r.EOL, r.Source), c.loc(layer, p))
	f.Fix = fmt.Sprintf("Rebase on a supported %s release (e.g. the current stable base image tag) and rebuild.", c.in.OS.ID)
	f.References = []string{strings.Fields(r.Source)[0]}
	return []finding.Finding{f}
}
