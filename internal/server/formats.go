package server

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// reportMediaTypes maps the report formats the API writes to their media
// types; the first entry of each is the Content-Type sent.
var reportMediaTypes = []struct{ format, media string }{
	{"json", "application/json"},
	{"sarif", "application/sarif+json"},
	{"cyclonedx", "application/vnd.cyclonedx+json"},
	{"spdx", "application/spdx+json"},
	{"html", "text/html"},
}

// formatAliases are the other names report.New accepts.
var formatAliases = map[string]string{"cdx": "cyclonedx", "spdx-json": "spdx"}

// reportFormat picks the report format of a request: the format query
// parameter, else the best media type of the Accept header, else JSON. It
// returns the format, its Content-Type, or an HTTP status and error.
func reportFormat(r *http.Request) (format, contentType string, status int, err error) {
	if f := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("format"))); f != "" {
		if f == "table" {
			return "", "", http.StatusBadRequest, errors.New("format table is rendered by the client: ask for json")
		}
		if a, ok := formatAliases[f]; ok {
			f = a
		}
		for _, m := range reportMediaTypes {
			if m.format == f {
				return m.format, mediaType(m), 0, nil
			}
		}
		return "", "", http.StatusBadRequest, fmt.Errorf("format %q: want json, sarif, cyclonedx, spdx or html", f)
	}
	accept := strings.TrimSpace(r.Header.Get("Accept"))
	if accept == "" {
		return "json", mediaType(reportMediaTypes[0]), 0, nil
	}
	best, bestQ := -1, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if q <= bestQ {
			continue
		}
		for i, m := range reportMediaTypes {
			if mt == m.media || mt == "*/*" || (mt == "application/*" && strings.HasPrefix(m.media, "application/")) {
				best, bestQ = i, q
				break
			}
		}
	}
	if best < 0 {
		return "", "", http.StatusNotAcceptable, fmt.Errorf("no report format matches Accept %q: the server writes application/json, application/sarif+json, application/vnd.cyclonedx+json, application/spdx+json or text/html", accept)
	}
	return reportMediaTypes[best].format, mediaType(reportMediaTypes[best]), 0, nil
}

func mediaType(m struct{ format, media string }) string {
	if m.format == "html" {
		return m.media + "; charset=utf-8"
	}
	return m.media
}
