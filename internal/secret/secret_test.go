package secret

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
)

func findingLoc(p string) finding.Location { return finding.Location{Path: p} }

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"AKIAABCDEFGHIJKLMNOP", "AKIA****************(20 chars)"},
		{"hunter22", "hu******(8 chars)"},
		{"abc", "***(3 chars)"},
		{"", "(0 chars)"},
		{strings.Repeat("z", 200), "zzzz****************(200 chars)"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScanLinesAndOffsets(t *testing.T) {
	tok := "ghp_" + rnd(csAlnum, 36)
	content := "line one\nline two\n\nexport GH=" + tok + "\n"
	ms := Scan([]byte(content))
	if len(ms) != 1 {
		t.Fatalf("want 1 match, got %v", ruleIDs(ms))
	}
	m := ms[0]
	if m.Line != 4 || content[m.Start:m.End] != tok {
		t.Errorf("line %d span %q, want line 4 and the token", m.Line, content[m.Start:m.End])
	}
}

// TestBinaryPrintableRuns shows the binary-file decision: a token stored
// as a string constant between binary bytes is found; a token split by a
// NUL byte is not (windows stop at non-printable bytes).
func TestBinaryPrintableRuns(t *testing.T) {
	tok := "glpat-" + rnd(csAlnum, 20)
	bin := append([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, bytes.Repeat([]byte{0, 0xff, 3}, 1000)...)
	withTok := append(append(append([]byte{}, bin...), tok...), 0, 0, 1)
	if ms := Scan(withTok); !hasRule(ms, "KS-SE-gitlab-token") {
		t.Errorf("token in printable run of a binary not found: %v", ruleIDs(ms))
	}
	split := append(append([]byte{}, bin...), []byte(tok[:12]+"\x00"+tok[12:])...)
	if ms := Scan(split); len(ms) != 0 {
		t.Errorf("token split by NUL matched: %v", ruleIDs(ms))
	}
}

func TestGenericYieldsToSpecific(t *testing.T) {
	ms := Scan([]byte("GITHUB_TOKEN=ghp_" + rnd(csAlnum, 36)))
	if len(ms) != 1 || ms[0].RuleID != "KS-SE-github-token" {
		t.Errorf("want only github-token, got %v", ruleIDs(ms))
	}
}

func TestScanKeyValue(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       string // rule ID, "" for none
	}{
		{"DB_PASSWORD", "s3cretpass", genericID},
		{"POSTGRES_PASSWORD", "postgres", genericID},
		{"AWS_SECRET_ACCESS_KEY", rnd(csB64, 40), genericID},
		{"SECRET_KEY_BASE", rnd(csHex, 64), genericID},
		{"GIT_AUTH", "ghp_" + rnd(csAlnum, 36), "KS-SE-github-token"},
		{"AWS_ACCESS_KEY_ID", "AKIA" + rnd(csB32, 16), "KS-SE-aws-access-key-id"},
		{"DATABASE_URL", "postgres://u:" + rnd(csAlnum, 12) + "@db/x", "KS-SE-basic-auth-in-url"},
		{"GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", ""},
		{"PASSWORD_FILE", "/run/secrets/db", ""},
		{"DB_PASSWORD", "${DB_PASSWORD}", ""},
		{"API_TOKEN", "changeme", ""},
		{"TOKEN_URL", "https://auth.corp.io/token", ""},
		{"PWD", "/app/src/secret", ""},
		{"PASSWORD_MIN_LENGTH", "12", ""},
		{"NODE_VERSION", "20.11.1", ""},
		{"ENABLE_TOKEN", "true", ""},
	} {
		ms := ScanKeyValue(tc.key, tc.value)
		switch {
		case tc.want == "" && len(ms) > 0:
			t.Errorf("%s=%s: unexpected %v", tc.key, tc.value, ruleIDs(ms))
		case tc.want != "" && !hasRule(ms, tc.want):
			t.Errorf("%s=%s: want %s, got %v", tc.key, tc.value, tc.want, ruleIDs(ms))
		}
		checkRedacted(t, tc.value, ms)
	}
}

func TestPlaceholders(t *testing.T) {
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "${TOKEN}", "$TOKEN", "<your-token>", "{{ .Values.token }}", "dummy-token-123", "xxxxxxxxxx", "CHANGEME", "********"} {
		if !IsPlaceholder(s) {
			t.Errorf("IsPlaceholder(%q) = false", s)
		}
	}
	for _, s := range []string{"ghp_" + rnd(csAlnum, 36), "q8Zr!v2LmX9p", "postgres", "ODj3TIIaMRvImx9jCkfIXmeZ"} {
		if IsPlaceholder(s) {
			t.Errorf("IsPlaceholder(%q) = true", s)
		}
	}
}

// TestHostileInputs feeds keyword storms that would make a naive scanner
// quadratic (many BEGIN lines without END, one huge line of keywords); the
// test only asserts correct results, a quadratic scanner times out.
func TestHostileInputs(t *testing.T) {
	key := pemBlock("RSA PRIVATE KEY")
	for name, data := range map[string][]byte{
		"begin-storm":   append(bytes.Repeat([]byte("-----BEGIN RSA PRIVATE KEY-----\n"), 1<<15), key...),
		"token-line":    append(bytes.Repeat([]byte("token="), 1<<18), []byte("\npassword = \"q8Zr!v2LmX9p\"\n")...),
		"url-line":      bytes.Repeat([]byte("https://a:"), 1<<17),
		"jwt-prefixes":  bytes.Repeat([]byte("eyJeyJ."), 1<<17),
		"service-accts": bytes.Repeat([]byte(`"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----`), 1<<13),
	} {
		ms := Scan(data)
		checkMatches(t, data, ms)
		switch name {
		case "begin-storm":
			if len(ms) != 1 || ms[0].RuleID != "KS-SE-private-key" {
				t.Errorf("%s: want the one real key, got %v", name, ruleIDs(ms))
			}
		case "token-line":
			if !hasRule(ms, genericID) {
				t.Errorf("%s: password after the storm not found", name)
			}
		default:
			if len(ms) != 0 {
				t.Errorf("%s: unexpected %v", name, ruleIDs(ms))
			}
		}
	}
}

// elfBlob returns n bytes that look like the inside of an executable:
// an ELF header, NUL runs, random bytes and short string constants.
func elfBlob(r *rand.Rand, n int) []byte {
	b := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}
	for len(b) < n {
		switch r.IntN(3) {
		case 0:
			b = append(b, make([]byte, r.IntN(16))...)
		case 1:
			for range r.IntN(24) {
				b = append(b, byte(r.Uint32()))
			}
		default:
			b = append(b, "\x00GLIBC_2.34\x00"...)
		}
	}
	return b[:n]
}

// TestSecretsInBinaries embeds every detector's positive cases in
// binary content at every alignment the 8-byte prefilter can see (and
// at the very start and end of the content): each must still be found,
// and the result must equal the unfiltered reference scan's.
func TestSecretsInBinaries(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range detectorCases() {
		id := "KS-SE-" + tc.typ
		for i, p := range tc.positives {
			for lead := 0; lead < 9; lead++ {
				for _, tail := range []int{0, 1, 5, 64} {
					data := append(elfBlob(r, lead), 0)
					if lead == 0 {
						data = nil // the secret opens the content
					}
					data = append(data, p...)
					if tail > 0 {
						data = append(append(data, 0), elfBlob(r, tail)...)
					}
					ms := Scan(data)
					if !hasRule(ms, id) {
						t.Fatalf("%s positive #%d after %d binary bytes, %d after: not found (got %v)", id, i, lead, tail, ruleIDs(ms))
					}
					checkMatches(t, data, ms)
					checkSameAsReference(t, data)
				}
			}
		}
	}
}

// TestPrefilterKeywordSoup compares the prefiltered scan with the
// reference scan on content dense with keyword pieces in mixed case
// (every keyword, cut at random, with random separators).
func TestPrefilterKeywordSoup(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	var kws []string
	for _, d := range Detectors() {
		kws = append(kws, d.Keywords...)
	}
	seps := []string{"", "", "=", " ", "\n", "\x00", ": ", "\"", "_", "-", "A", "z", "9"}
	for range 200 {
		var b []byte
		for len(b) < 4096 {
			k := []byte(kws[r.IntN(len(kws))])
			k = k[:1+r.IntN(len(k))]
			for j := range k {
				if r.IntN(2) == 0 {
					k[j] = bytes.ToUpper(k[j : j+1])[0]
				}
			}
			b = append(b, k...)
			b = append(b, seps[r.IntN(len(seps))]...)
			if r.IntN(8) == 0 {
				b = append(b, rnd(csAlnum, 40)...)
			}
		}
		b = b[r.IntN(8):]
		checkMatches(t, b, Scan(b))
		checkSameAsReference(t, b)
	}
}
