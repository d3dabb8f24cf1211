package baseimage

import (
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

func scanned(ref, osID, osVer string, pkgs []string, sevs ...finding.Severity) *Scanned {
	rep := finding.NewReport(ref, "image")
	rep.OS = &inventory.OS{ID: osID, VersionID: osVer}
	rep.Image = &finding.ImageInfo{Size: int64(len(pkgs)) << 20}
	for _, p := range pkgs {
		typ := "deb"
		if osID == "alpine" {
			typ = "apk"
		}
		rep.Packages = append(rep.Packages, inventory.Package{Name: p, Type: typ})
	}
	for _, s := range sevs {
		rep.Findings = append(rep.Findings, finding.Finding{Kind: finding.KindVuln, Severity: s})
	}
	rep.Findings = append(rep.Findings, finding.Finding{Kind: finding.KindMisconfig, Severity: finding.SeverityCritical})
	return &Scanned{Ref: ref, Report: rep}
}

func TestRecommendRanksAndExplains(t *testing.T) {
	c, h, m := finding.SeverityCritical, finding.SeverityHigh, finding.SeverityMedium
	current := scanned("debian:12", "debian", "12", []string{"libc6", "perl", "bash"}, c, h, h)
	rows := Recommend(current, []*Scanned{
		scanned("debian:12-slim", "debian", "12", []string{"libc6", "bash"}, h),
		scanned("alpine:3.20", "alpine", "3.20", []string{"musl", "busybox"}),
		scanned("debian:13", "debian", "13", []string{"libc6", "bash", "perl"}, m, m, m),
		scanned("static", "", "", nil, c, c),
	})
	var order []string
	for _, r := range rows {
		order = append(order, r.Ref)
	}
	// alpine (0) < debian:13 (3 medium) < slim (1 high) < current (1 crit, 2 high) < static (2 crit).
	if got := strings.Join(order, ","); got != "alpine:3.20,debian:13,debian:12-slim,debian:12,static" {
		t.Fatalf("order %s", got)
	}
	by := map[string]Row{}
	for _, r := range rows {
		by[r.Ref] = r
	}
	if r := by["debian:12"]; !r.Current || r.Total != 3 || r.Libc != "glibc" {
		t.Errorf("current row %+v (misconfig findings must not count)", r)
	}
	if r := by["debian:12-slim"]; !r.Compatible || strings.Join(r.Removed, ",") != "perl" || len(r.Added) != 0 {
		t.Errorf("slim %+v", r)
	}
	if r := by["alpine:3.20"]; r.Compatible || !strings.Contains(r.Why, "musl instead of glibc") {
		t.Errorf("alpine %+v", r)
	}
	if r := by["debian:13"]; !r.Compatible || !strings.Contains(r.Why, "debian 12 → debian 13") {
		t.Errorf("debian:13 %+v", r)
	}
	if r := by["static"]; r.Compatible || !strings.Contains(r.Why, "no C library") {
		t.Errorf("static %+v", r)
	}
	// Without a current base, every candidate is listed with a caveat.
	rows = Recommend(nil, []*Scanned{scanned("a", "debian", "12", []string{"libc6"})})
	if len(rows) != 1 || !rows[0].Compatible || rows[0].Why == "" {
		t.Errorf("no current: %+v", rows)
	}
}

func TestCandidateTags(t *testing.T) {
	tags := []string{"11", "11-slim", "12", "12.7", "12.8", "12.8-slim", "12-slim", "12-alpine", "13", "latest", "bookworm", "bookworm-slim", "bookworm-alpine", "v12.1", "120"}
	cases := []struct{ current, want string }{
		{"12.7", "12.8,12.8-slim,v12.1,12,12-alpine,12-slim"},
		{"12", "12.8,12.8-slim,12.7,v12.1,12-alpine,12-slim"},
		{"bookworm", "bookworm-alpine,bookworm-slim"},
		{"latest", ""},
	}
	for _, tc := range cases {
		if got := strings.Join(CandidateTags(tc.current, tags), ","); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.current, got, tc.want)
		}
	}
	var many []string
	for i := 0; i < 30; i++ {
		many = append(many, "12."+string(rune('a'+i)))
	}
	if n := len(CandidateTags("12", many)); n != MaxCandidates {
		t.Errorf("%d candidates, want the cap %d", n, MaxCandidates)
	}
}
