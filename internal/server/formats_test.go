package server

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/kensa-sec/kensa/internal/report"
)

func TestServerReportFormatNegotiation(t *testing.T) {
	cases := []struct {
		format, accept string
		want, ctype    string
		status         int
	}{
		{"", "", "json", "application/json", 0},
		{"", "*/*", "json", "application/json", 0},
		{"sarif", "application/json", "sarif", "application/sarif+json", 0},
		{"CDX", "", "cyclonedx", "application/vnd.cyclonedx+json", 0},
		{"spdx-json", "", "spdx", "application/spdx+json", 0},
		{"html", "", "html", "text/html; charset=utf-8", 0},
		{"", "application/json;q=0.2, application/sarif+json", "sarif", "application/sarif+json", 0},
		{"", "application/sarif+json;q=0.3, application/spdx+json;q=0.9", "spdx", "application/spdx+json", 0},
		{"", "text/html, */*;q=0.1", "html", "text/html; charset=utf-8", 0},
		{"", "application/*", "json", "application/json", 0},
		{"", "application/vnd.cyclonedx+json; version=1.6", "cyclonedx", "application/vnd.cyclonedx+json", 0},
		{"", "image/png", "", "", 406},
		{"", "application/sarif+json;q=0", "", "", 406},
		{"", ";;;", "", "", 406},
		{"table", "", "", "", 400},
		{"xml", "", "", "", 400},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/v1/scans/1/report?format="+url.QueryEscape(c.format), nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		f, ct, status, err := reportFormat(r)
		if f != c.want || ct != c.ctype || status != c.status || (err != nil) != (c.status != 0) {
			t.Errorf("format %q Accept %q: %q %q %d %v; want %q %q %d", c.format, c.accept, f, ct, status, err, c.want, c.ctype, c.status)
		}
	}
}

// FuzzReportFormat: any format parameter and Accept header give either a
// format the report writers accept or a 400/406 with an error; never a
// panic.
func FuzzReportFormat(f *testing.F) {
	f.Add("", "application/sarif+json;q=0.9, */*;q=0.1")
	f.Add("cdx", "")
	f.Add("", "text/html;q=abc, application/spdx+json")
	f.Fuzz(func(t *testing.T, format, accept string) {
		r := httptest.NewRequest("GET", "/v1/scans/1/report", nil)
		r.URL.RawQuery = url.Values{"format": {format}}.Encode()
		r.Header.Set("Accept", accept)
		fm, ct, status, err := reportFormat(r)
		if err != nil {
			if status != 400 && status != 406 {
				t.Fatalf("error %v with status %d", err, status)
			}
			return
		}
		if _, werr := report.New(fm, report.Options{}); werr != nil || ct == "" {
			t.Fatalf("format %q (%q): %v", fm, ct, werr)
		}
	})
}
