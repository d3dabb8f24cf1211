package secret

import (
	"encoding/base64"
	"strings"
	"testing"
)

// detectorCase lists, per credential type, content that must produce a
// match of that type and near-misses that must not.
type detectorCase struct {
	typ       string
	positives []string
	negatives []string
}

func detectorCases() []detectorCase {
	saJSON := func(typ, key string) string {
		return `{"type": "` + typ + `", "project_id": "demo-proj", "private_key_id": "` + rnd(csHex, 40) +
			`", "private_key": "` + key + `", "client_email": "ci@demo-proj.iam.gserviceaccount.com"}`
	}
	escKey := strings.ReplaceAll(pemBlock("PRIVATE KEY"), "\n", `\n`)
	auth := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return []detectorCase{
		{"aws-access-key-id",
			[]string{"AKIA" + rnd(csB32, 16), "aws_access_key_id = ASIA" + rnd(csB32, 16) + "\n", `{"AccessKeyId": "AKIA` + rnd(csB32, 16) + `"}`},
			[]string{"AKIAIOSFODNN7EXAMPLE", "AKIA" + rnd(csB32, 15), "fooAKIA" + rnd(csB32, 16), "akia" + strings.ToLower(rnd(csB32, 16))}},
		{"aws-secret-access-key",
			[]string{"aws_secret_access_key = " + rnd(csB64, 40), `AWS_SECRET_ACCESS_KEY="` + rnd(csB64, 40) + `"`, `"SecretAccessKey": "` + rnd(csB64, 40) + `"`},
			[]string{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "value " + rnd(csB64, 40), "aws_secret_access_key = " + rnd(csB64, 39), "aws_secret_access_key = ${AWS_SECRET}"}},
		{"github-token",
			[]string{"token: ghp_" + rnd(csAlnum, 36), "gho_" + rnd(csAlnum, 36), "GH=github_pat_" + rnd(csAlnum, 22) + "_" + rnd(csAlnum, 59), "ghs_" + rnd(csAlnum, 36)},
			[]string{"ghp_" + rnd(csAlnum, 35), "ghp_" + strings.Repeat("x", 36), "ghx_" + rnd(csAlnum, 36), "ghp_" + rnd(csAlnum, 40)}},
		{"gitlab-token",
			[]string{"glpat-" + rnd(csAlnum, 20), "GITLAB_TOKEN=glpat-" + rnd(csURL, 20) + "\n", "url?private_token=glpat-" + rnd(csAlnum, 20) + "&x=1"},
			[]string{"glpat-" + rnd(csAlnum, 10), "glpat-xxxxxxxxxxxxxxxxxxxx", "glpat_" + rnd(csAlnum, 20)}},
		{"slack-token",
			[]string{"xoxb-" + rnd("0123456789", 11) + "-" + rnd("0123456789", 13) + "-" + rnd(csAlnum, 24), "SLACK=xoxp-" + rnd("0123456789", 10) + "-" + rnd("0123456789", 10) + "-" + rnd("0123456789", 12) + "-" + rnd(csHex, 32), "xoxa-" + rnd("0123456789", 10) + "-" + rnd(csAlnum, 30)},
			[]string{"xoxb-abc", "xoxz-" + rnd("0123456789", 11) + "-" + rnd(csAlnum, 24), "xoxb-1111111111-aaaaaaaaaaaa"}},
		{"slack-webhook",
			[]string{"https://hooks.slack.com/services/T" + rnd(csB32, 8) + "/B" + rnd(csB32, 10) + "/" + rnd(csAlnum, 24), `url: "https://hooks.slack.com/services/T` + rnd(csB32, 10) + "/B" + rnd(csB32, 8) + "/" + rnd(csAlnum, 24) + `"`, "curl -X POST https://hooks.slack.com/workflows/T" + rnd(csB32, 9) + "/A" + rnd(csB32, 9) + "/" + rnd(csAlnum, 30)},
			[]string{"https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/", "https://hooks.slack.com/services/T" + rnd(csB32, 8) + "/B" + rnd(csB32, 10) + "/short"}},
		{"stripe-key",
			[]string{"sk_live_" + rnd(csAlnum, 24), "STRIPE_KEY=rk_test_" + rnd(csAlnum, 34), "Stripe.api_key = 'sk_live_" + rnd(csAlnum, 99) + "'"},
			[]string{"sk_live_" + rnd(csAlnum, 10), "pk_live_" + rnd(csAlnum, 24), "sk_live_" + strings.Repeat("x", 24)}},
		{"gcp-service-account",
			[]string{saJSON("service_account", escKey), "{\n  \"type\": \"service_account\",\n  \"private_key\": \"" + strings.ReplaceAll(pemBlock("RSA PRIVATE KEY"), "\n", `\n`) + "\"\n}", saJSON("service_account", escKey) + "\n"},
			[]string{saJSON("service_account", ""), saJSON("authorized_user", escKey)[:60], `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"}`}},
		{"gcp-api-key",
			[]string{"AIza" + rnd(csURL, 35), `"apiKey": "AIza` + rnd(csAlnum, 35) + `"`, "key=AIza" + rnd(csAlnum, 35) + "&q=1"},
			[]string{"AIza" + rnd(csAlnum, 34), "AIzaxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "AIzb" + rnd(csAlnum, 35)}},
		{"private-key",
			[]string{pemBlock("RSA PRIVATE KEY"), "x\n" + pemBlock("OPENSSH PRIVATE KEY"), pemBlock("PRIVATE KEY"), pemBlock("EC PRIVATE KEY"), pemBlock("ENCRYPTED PRIVATE KEY"), pemBlock("PGP PRIVATE KEY BLOCK")},
			[]string{pemBlock("PUBLIC KEY"), pemBlock("CERTIFICATE"), "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n", "-----BEGIN RSA PRIVATE KEY-----\n" + pemBody(4), pemBlock("RSA PUBLIC KEY")}},
		{"npm-token",
			[]string{"npm_" + rnd(csAlnum, 36), "//registry.npmjs.org/:_authToken=" + uuid() + "\n", "NPM_TOKEN=npm_" + rnd(csAlnum, 36)},
			[]string{"npm_" + rnd(csAlnum, 10), "//registry.npmjs.org/:_authToken=${NPM_TOKEN}", "npm_" + strings.Repeat("x", 36)}},
		{"pypi-token",
			[]string{"pypi-AgEIcHlwaS5vcmc" + rnd(csURL, 60), "password = pypi-AgENdGVzdC5weXBpLm9yZw" + rnd(csURL, 80), "TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmc" + rnd(csURL, 120)},
			[]string{"pypi-AgEIcHlwaS5vcmc" + rnd(csURL, 10), "pypi-", "pypi-AgEOdGhlcg" + rnd(csURL, 60)}},
		{"docker-config-auth",
			[]string{`{"auths":{"registry.example.io":{"auth":"` + auth("ci:"+rnd(csAlnum, 20)) + `"}}}`, `"auth": "` + auth("robot$ci:"+rnd(csAlnum, 32)) + `"`, "{\n \"auths\": {\n  \"ghcr.io\": {\n   \"auth\": \"" + auth("octo:ghp_"+rnd(csAlnum, 36)) + "\"\n  }\n }\n}"},
			[]string{`"auth": ""`, `"auth": "` + auth("nocolonhere") + `"`, `"auth": "` + auth("user:changeme") + `"`, `"auth": "not base64!"`}},
		{"jwt",
			[]string{jwt(`{"alg":"HS256","typ":"JWT"}`), "Authorization: Bearer " + jwt(`{"alg":"RS256","kid":"k1"}`), "token=" + jwt(`{"typ":"JWT","alg":"ES256"}`)},
			[]string{jwt(`{"foo":"bar","typ":"JWT"}`), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "eyJ" + rnd(csURL, 20) + ".eyJ" + rnd(csURL, 20) + "." + rnd(csURL, 20)}},
		{"twilio",
			[]string{"TWILIO_API_KEY=SK" + rnd(csHex, 32), "twilio_auth_token: " + rnd(csHex, 32), "client = twilio.Client('SK" + rnd(csHex, 32) + "')"},
			[]string{"SK" + rnd(csHex, 32), "twilio SK" + rnd(csHex, 31), "TWILIO_ACCOUNT_SID=AC" + rnd(csHex, 32)}},
		{"sendgrid",
			[]string{"SG." + rnd(csURL, 22) + "." + rnd(csURL, 43), "SENDGRID_API_KEY='SG." + rnd(csURL, 22) + "." + rnd(csURL, 43) + "'", "key: SG." + rnd(csAlnum, 22) + "." + rnd(csAlnum, 43) + "\n"},
			[]string{"SG.short.short", "SG." + strings.Repeat("x", 22) + "." + strings.Repeat("x", 43), "sg." + rnd(csURL, 22) + "." + rnd(csURL, 43)}},
		{"mailgun",
			[]string{"key-" + rnd(csHex, 32), "MAILGUN_API_KEY=key-" + rnd(csHex, 32), `api_key: "key-` + rnd(csHex, 32) + `"`},
			[]string{"key-" + rnd(csHex, 31), "monkey-" + rnd(csHex, 32), "key-" + strings.Repeat("0", 32)}},
		{"azure-storage-key",
			[]string{"DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=" + rnd(csB64, 86) + "==;EndpointSuffix=core.windows.net", "accountkey = " + rnd(csB64, 86) + "==", "AccountKey=" + rnd(csB64, 86) + "==\n"},
			[]string{"AccountKey=" + rnd(csB64, 20) + "==", "AccountKey=" + rnd(csB64, 86) + ";", "AccountKey=${STORAGE_KEY}"}},
		{"heroku",
			[]string{"HEROKU_API_KEY=" + uuid(), "HRKU-" + rnd(csURL, 60), `heroku_token: "` + uuid() + `"`},
			[]string{"HEROKU_API_KEY=notauuid", uuid(), "HRKU-" + rnd(csURL, 10)}},
		{"shopify",
			[]string{"shpat_" + rnd(csHex, 32), "SHOPIFY_SECRET=shpss_" + rnd(csHex, 32), "shpca_" + rnd(csHex, 32) + "\n"},
			[]string{"shpat_" + rnd(csHex, 31), "shpxx_" + rnd(csHex, 32), "shpat_" + strings.Repeat("0", 32)}},
		{"openai-api-key",
			[]string{"sk-proj-" + rnd(csURL, 60) + "T3BlbkFJ" + rnd(csURL, 60), "OPENAI_API_KEY=sk-" + rnd(csAlnum, 20) + "T3BlbkFJ" + rnd(csAlnum, 20), "sk-svcacct-" + rnd(csURL, 40) + "T3BlbkFJ" + rnd(csURL, 40)},
			[]string{"sk-" + rnd(csAlnum, 48), "T3BlbkFJ" + rnd(csAlnum, 20), "sk-proj-short"}},
		{"anthropic-api-key",
			[]string{"sk-ant-api03-" + rnd(csURL, 93) + "AA", "ANTHROPIC_API_KEY=sk-ant-api03-" + rnd(csURL, 93) + "AA\n", "sk-ant-admin01-" + rnd(csURL, 93) + "AA"},
			[]string{"sk-ant-api03-short", "sk-ant-xyz", "sk-ant-api03-" + strings.Repeat("x", 95)}},
		{"huggingface",
			[]string{"hf_" + rnd(csLetter, 34), "HF_TOKEN=hf_" + rnd(csLetter, 34), "token='hf_" + rnd(csLetter, 34) + "'"},
			[]string{"hf_" + rnd(csLetter, 33), "hf_" + strings.Repeat("a", 34), "hf_" + rnd("0123456789", 34)}},
		{"digitalocean",
			[]string{"dop_v1_" + rnd(csHex, 64), "DO_TOKEN=doo_v1_" + rnd(csHex, 64), "dor_v1_" + rnd(csHex, 64)},
			[]string{"dop_v1_" + rnd(csHex, 63), "dop_v2_" + rnd(csHex, 64), "dop_v1_" + strings.Repeat("0", 64)}},
		{"databricks",
			[]string{"dapi" + rnd(csHex, 32), "DATABRICKS_TOKEN=dapi" + rnd(csHex, 32) + "-2", "token: dapi" + rnd(csHex, 32)},
			[]string{"dapi" + rnd(csHex, 31), "dapixxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "dapi" + strings.Repeat("0", 32)}},
		{"hashicorp-vault-token",
			[]string{"hvs." + rnd(csAlnum, 90), "VAULT_TOKEN=hvb." + rnd(csURL, 130), "hvs." + rnd(csAlnum, 24)},
			[]string{"hvs.short", "hvs." + strings.Repeat("ab", 30), "hvs" + rnd(csAlnum, 90)}},
		{"basic-auth-in-url",
			[]string{"git clone https://deploy:" + rnd(csAlnum, 16) + "@git.internal.corp/repo.git", "DATABASE_URL=postgres://app:" + rnd(csAlnum, 12) + "@db:5432/app", "pip install --index-url https://ci:" + rnd(csAlnum, 20) + "@pypi.corp.io/simple pkg"},
			[]string{"https://user:${PASSWORD}@host.io", "https://user:password@host.io", "https://docs.host.io/path", "http://user:pass@host.io",
				// Hosts reserved for documentation (RFC 2606, 6761).
				"new URL('https://abc:xyz@example.com')", "http://admin:" + rnd(csAlnum, 12) + "@sub.example.org/x", "ftp://u:" + rnd(csAlnum, 10) + "@files.test"}},
		{"age-secret-key",
			[]string{"AGE-SECRET-KEY-1" + rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), "# created: 2026-01-01\nAGE-SECRET-KEY-1" + rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58) + "\n", "SOPS_AGE_KEY=AGE-SECRET-KEY-1" + rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)},
			[]string{"AGE-SECRET-KEY-1" + rnd("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 57), "AGE-SECRET-KEY-1" + strings.Repeat("Q", 58), "age1" + rnd("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 58)}},
		{"generic-password",
			[]string{`password = "q8Zr!v2LmX9p"`, "DB_SECRET: Vt7qLm2Xr9Zp", "api_key=" + rnd(csHex, 24), `"client_secret": "` + rnd(csAlnum, 24) + `"`},
			[]string{`password = "changeme"`, "password: ${DB_PASSWORD}", "password = get_password()", `token = "aaaaaaaaaaaa"`, "secret: mysecretword", "password_file = /run/secrets/db"}},
	}
}

func TestDetectors(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range detectorCases() {
		id := "KS-SE-" + tc.typ
		seen[tc.typ] = true
		if len(tc.positives) < 3 || len(tc.negatives) < 3 {
			t.Errorf("%s: need at least 3 positive and 3 negative cases", id)
		}
		for i, p := range tc.positives {
			ms := Scan([]byte(p))
			if !hasRule(ms, id) {
				t.Errorf("%s positive #%d not found; got %v in %q", id, i, ruleIDs(ms), p)
			}
			checkRedacted(t, p, ms)
		}
		for i, n := range tc.negatives {
			if ms := Scan([]byte(n)); hasRule(ms, id) {
				t.Errorf("%s negative #%d matched: %v in %q", id, i, ruleIDs(ms), n)
			}
		}
	}
	for _, d := range Detectors() {
		if !seen[d.Type] {
			t.Errorf("detector %s has no test cases", d.ID())
		}
	}
	if n := len(Detectors()); n < 20 {
		t.Errorf("want at least 20 credential types, have %d", n)
	}
}

func hasRule(ms []Match, id string) bool {
	for _, m := range ms {
		if m.RuleID == id {
			return true
		}
	}
	return false
}

func ruleIDs(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.RuleID)
	}
	return out
}

// checkRedacted asserts that no output derived from a match contains the
// secret: the Redacted field and the finding message.
func checkRedacted(t *testing.T, content string, ms []Match) {
	t.Helper()
	for _, m := range ms {
		if m.Start < 0 || m.End > len(content) || m.Start >= m.End {
			t.Fatalf("%s: span [%d,%d) out of bounds for %d bytes", m.RuleID, m.Start, m.End, len(content))
		}
		secret := content[m.Start:m.End]
		f := m.Finding(findingLoc("/etc/x"))
		for _, out := range []string{m.Redacted, f.Message, f.Title, f.Fix} {
			if len(secret) >= 8 && strings.Contains(out, secret) {
				t.Errorf("%s: output %q contains the secret", m.RuleID, out)
			}
		}
		if !strings.HasSuffix(m.Redacted, "chars)") {
			t.Errorf("%s: redacted form %q lacks the length", m.RuleID, m.Redacted)
		}
	}
}

// TestNeedAny guards the window precheck: every positive case of a
// detector with NeedAny holds one of its bytes, and removing those bytes
// from the positive makes the pattern itself fail too (the precheck
// only skips windows the pattern could not match).
func TestNeedAny(t *testing.T) {
	byType := map[string]*Detector{}
	for _, d := range Detectors() {
		byType[d.Type] = d
	}
	checked := 0
	for _, tc := range detectorCases() {
		d := byType[tc.typ]
		if d == nil || d.NeedAny == "" {
			continue
		}
		for i, p := range tc.positives {
			if !strings.ContainsAny(p, d.NeedAny) {
				t.Errorf("%s positive #%d has none of %q", d.ID(), i, d.NeedAny)
			}
			stripped := strings.Map(func(r rune) rune {
				if strings.ContainsRune(d.NeedAny, r) {
					return ' '
				}
				return r
			}, p)
			nd := *d
			nd.NeedAny = ""
			if len(nd.find([]byte(stripped))) != 0 {
				t.Errorf("%s matches without any of %q: %q", d.ID(), d.NeedAny, stripped)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no detector with NeedAny was checked")
	}
}
