package secret

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// checkMatches asserts the invariants every caller relies on: spans within
// bounds, correct line numbers, and no output containing the secret.
func checkMatches(t *testing.T, content []byte, ms []Match) {
	t.Helper()
	for _, m := range ms {
		if m.Start < 0 || m.End > len(content) || m.Start >= m.End {
			t.Fatalf("%s: span [%d,%d) outside %d bytes", m.RuleID, m.Start, m.End, len(content))
		}
		if want := 1 + bytes.Count(content[:m.Start], []byte{'\n'}); m.Line != want {
			t.Fatalf("%s: line %d, want %d", m.RuleID, m.Line, want)
		}
		secret := string(content[m.Start:m.End])
		msg := m.Finding(findingLoc("/f")).Message
		if len([]rune(secret)) >= 8 && (strings.Contains(m.Redacted, secret) || strings.Contains(msg, secret)) {
			t.Fatalf("%s: output contains the secret %q", m.RuleID, secret)
		}
		if !strings.HasPrefix(m.RuleID, "KS-SE-") {
			t.Fatalf("bad rule ID %q", m.RuleID)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte("GITHUB_TOKEN=ghp_" + rnd(csAlnum, 36)))
	f.Add([]byte(pemBlock("RSA PRIVATE KEY")))
	f.Add([]byte(`{"auths":{"r":{"auth":"dXNlcjpodW50ZXIyMg=="}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkMatches(t, data, Scan(data))
		checkSameAsReference(t, data)
	})
}

func FuzzScanKeyValue(f *testing.F) {
	f.Add("DB_PASSWORD", "s3cr3tPa55")
	f.Add("URL", "https://u:p4ssw0rd99@h.io/x")
	f.Add("TOKEN", "${TOKEN}")
	f.Fuzz(func(t *testing.T, key, value string) {
		checkMatches(t, []byte(value), ScanKeyValue(key, value))
	})
}

// scanReference is the scanner without its pair prefilter: every byte
// position is offered to hitAt. scan must return exactly what it returns.
func (s *scanner) scanReference(b []byte) []Match {
	if len(b) < 3 {
		return nil
	}
	wins := make([][]window, len(s.dets))
	for p := 0; p+2 < len(b); p++ {
		s.hitAt(b, p, wins)
	}
	return s.matchWindows(b, wins)
}

// checkSameAsReference fails when the prefiltered scan and the reference
// scan disagree on data.
func checkSameAsReference(t *testing.T, data []byte) {
	t.Helper()
	s := defaultScanner()
	got, want := s.scan(data), s.scanReference(data)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prefiltered scan found %v, reference scan %v", ruleIDs(got), ruleIDs(want))
	}
}
