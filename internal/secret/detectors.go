package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/lazyre"
)

const genericID = "KS-SE-generic-password"

const (
	sevC = finding.SeverityCritical
	sevH = finding.SeverityHigh
	sevM = finding.SeverityMedium
)

const rotate = "Remove it from the image or file, rotate the credential at its issuer now (it must be treated as leaked), and inject it at runtime or with `RUN --mount=type=secret`."

func fix(issuer string) string {
	return "Revoke and rotate the " + issuer + " at its issuer (treat it as leaked), remove it from the file or image, and inject it at runtime or with `RUN --mount=type=secret`."
}

// Detectors returns every detector in a stable order, freshly allocated
// (callers may modify the result without affecting Scan).
func Detectors() []*Detector {
	return []*Detector{
		{Type: "aws-access-key-id", Before: 1, After: 24, Title: "AWS access key ID", Severity: sevC,
			Help:     "An AWS access key ID (AKIA/ASIA...) identifies an IAM credential; with its secret key it grants AWS API access.",
			Fix:      fix("AWS access key (IAM console: deactivate, then delete)"),
			Keywords: []string{"akia", "asia", "abia", "acca", "a3t"},
			Pattern:  regexp.MustCompile(`\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b`)},
		{Type: "aws-secret-access-key", Before: 12, After: 120, Title: "AWS secret access key", Severity: sevC,
			Help:     "An AWS secret access key next to its keyword (aws_secret_access_key, SecretAccessKey).",
			Fix:      fix("AWS access key (IAM console: deactivate, then delete)"),
			Keywords: []string{"secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret_key", "aws-secret-key", "secret_key"},
			Pattern:  regexp.MustCompile(`(?i)(?:aws[_.-]?)?secret[_.-]?(?:access[_.-]?)?key["']?\s*(?:=>|:=|[:=])\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
			Validate: func(s []byte) bool { return entropy(s) > 3.5 && classes(s) >= 2 }},
		{Type: "github-token", Before: 1, After: 100, Title: "GitHub token", Severity: sevC,
			Help:     "A GitHub personal access, OAuth, user-to-server, server-to-server or refresh token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).",
			Fix:      fix("GitHub token (Settings > Developer settings > Tokens)"),
			Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
			Pattern:  regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b`),
			Validate: func(s []byte) bool { return entropy(s) > 3.5 }},
		{Type: "gitlab-token", Before: 1, After: 140, Title: "GitLab personal access token", Severity: sevC,
			Help:     "A GitLab personal/project/group access token (glpat-...).",
			Fix:      fix("GitLab token (User settings > Access tokens)"),
			Keywords: []string{"glpat-"},
			Pattern:  regexp.MustCompile(`\b(glpat-[0-9A-Za-z_-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?)(?:[^0-9A-Za-z_.-]|$)`),
			Validate: func(s []byte) bool { return len(s) < 120 && entropy(s[6:]) > 3.2 }},
		{Type: "slack-token", Before: 1, After: 260, Title: "Slack token", Severity: sevH,
			Help:     "A Slack bot, user, app or refresh token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-).",
			Fix:      fix("Slack token (api.slack.com/apps > OAuth & Permissions)"),
			Keywords: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-"},
			Pattern:  regexp.MustCompile(`\b(xox[abposr]-[0-9]{8,14}-[0-9A-Za-z-]{10,200})\b`),
			Validate: func(s []byte) bool { return entropy(s) > 3.0 }},
		{Type: "slack-webhook", Before: 12, After: 160, Title: "Slack incoming webhook URL", Severity: sevH,
			Help:     "A Slack incoming-webhook URL lets anyone post into the channel.",
			Fix:      fix("Slack webhook (remove and re-create the incoming webhook)"),
			Keywords: []string{"hooks.slack.com"},
			Pattern:  regexp.MustCompile(`(https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{20,48})\b`)},
		{Type: "stripe-key", Before: 1, After: 270, Title: "Stripe secret or restricted key", Severity: sevC,
			Help:     "A Stripe secret (sk_) or restricted (rk_) API key, live or test.",
			Fix:      fix("Stripe key (Dashboard > Developers > API keys: roll key)"),
			Keywords: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"},
			Pattern:  regexp.MustCompile(`\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247})\b`),
			Validate: func(s []byte) bool { return entropy(s[8:]) > 3.5 }},
		{Type: "gcp-service-account", Title: "Google Cloud service-account key", Severity: sevC,
			Help:     "A Google Cloud service-account JSON key file (\"type\": \"service_account\" with a \"private_key\").",
			Fix:      fix("service-account key (IAM > Service accounts > Keys: delete the key)"),
			Keywords: []string{"service_account"}, MultiLine: true, Before: 8192, After: 8192,
			Find: findGCPServiceAccount, NoAllowList: true},
		{Type: "gcp-api-key", Before: 1, After: 48, Title: "Google API key", Severity: sevH,
			Help:     "A Google Cloud / Firebase API key (AIza...).",
			Fix:      fix("Google API key (APIs & Services > Credentials), and restrict the new key"),
			Keywords: []string{"aiza"},
			Pattern:  regexp.MustCompile(`\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)`),
			Validate: func(s []byte) bool { return entropy(s) > 3.5 }},
		{Type: "private-key", Title: "Private key", Severity: sevC,
			Help:     "A PEM-encoded private key (RSA, EC, DSA, OpenSSH, PKCS#8, PGP). Public keys and certificates are not reported.",
			Fix:      "Remove the key from the image (mount it at runtime or use `RUN --mount=type=secret`), and replace the key pair: anyone who pulled the image has it.",
			Keywords: []string{"-----begin"}, MultiLine: true, Before: 0, After: 32 << 10,
			Find: findPrivateKey, NoAllowList: true},
		{Type: "npm-token", Before: 1, After: 100, Title: "npm access token", Severity: sevC,
			Help:     "An npm access token (npm_...), or a legacy UUID token in an .npmrc _authToken line.",
			Fix:      fix("npm token (npmjs.com > Access Tokens)"),
			Keywords: []string{"npm_", "_authtoken"},
			Pattern:  regexp.MustCompile(`\b(npm_[A-Za-z0-9]{36})\b|(?i:_authToken)\s*=\s*["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
			Validate: func(s []byte) bool { return entropy(s) > 3.3 }},
		{Type: "pypi-token", Before: 1, After: 1100, Title: "PyPI upload token", Severity: sevC,
			Help:     "A PyPI or TestPyPI API token (pypi-AgEIcHlwaS5vcmc...).",
			Fix:      fix("PyPI token (pypi.org > Account settings > API tokens)"),
			Keywords: []string{"pypi-ag"},
			Pattern:  regexp.MustCompile(`\b(pypi-Ag(?:EIcHlwaS5vcmc|ENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})`)},
		{Type: "docker-config-auth", Before: 1, After: 4096, Title: "Registry credentials in a Docker config", Severity: sevC,
			Help:     "A Docker/Podman config.json \"auth\" entry: base64 of user:password for a registry.",
			Fix:      fix("registry password or token") + " Use a credential helper (`credsStore`) instead of inline auths.",
			Keywords: []string{`"auth"`},
			Pattern:  regexp.MustCompile(`"auth"\s*:\s*"([A-Za-z0-9+/]{6,}={0,2})"`),
			Validate: validDockerAuth},
		{Type: "jwt", Before: 1, After: 16384, Title: "JSON Web Token", Severity: sevM,
			Help:     "A signed JSON Web Token; it may grant access until it expires.",
			Fix:      "Remove the token; if it is a long-lived credential, revoke it at the issuer.",
			Keywords: []string{"eyj"},
			Pattern:  regexp.MustCompile(`\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})`),
			Validate: validJWT},
		{Type: "twilio", Before: maxWindowSide, After: maxWindowSide, Title: "Twilio API key or auth token", Severity: sevH,
			Help:     "A Twilio API key SID (SK + 32 hex) or auth token next to the word twilio.",
			Fix:      fix("Twilio key (Console > API keys & tokens)"),
			Keywords: []string{"twilio"},
			Pattern:  regexp.MustCompile(`\b(SK[0-9a-f]{32})\b|(?i:twilio)[\w.-]{0,20}(?i:auth|token|secret)[\w.-]{0,20}["']?\s*[:=]\s*["']?([0-9a-f]{32})\b`),
			Validate: func(s []byte) bool { return entropy(s) > 3.0 }},
		{Type: "sendgrid", Before: 1, After: 80, Title: "SendGrid API key", Severity: sevH,
			Help:     "A SendGrid API key (SG.xxx.yyy).",
			Fix:      fix("SendGrid key (Settings > API Keys)"),
			Keywords: []string{"sg."},
			Pattern:  regexp.MustCompile(`\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`),
			Validate: func(s []byte) bool { return entropy(s) > 3.5 }},
		{Type: "mailgun", Before: 1, After: 40, Title: "Mailgun API key", Severity: sevH,
			Help:     "A Mailgun private API key (key-<32 hex>).",
			Fix:      fix("Mailgun key (Settings > API security)"),
			Keywords: []string{"key-"},
			Pattern:  regexp.MustCompile(`\b(key-[0-9a-f]{32})\b`),
			Validate: func(s []byte) bool { return entropy(s[4:]) > 3.0 }},
		{Type: "azure-storage-key", Before: 1, After: 110, Title: "Azure storage account key", Severity: sevC,
			Help:     "An Azure Storage account key in a connection string (AccountKey=...).",
			Fix:      fix("storage account key (Storage account > Access keys: rotate)") + " Prefer managed identities.",
			Keywords: []string{"accountkey"},
			Pattern:  regexp.MustCompile(`(?i:AccountKey)\s*=\s*([A-Za-z0-9+/]{86}==)`),
			Validate: func(s []byte) bool { return entropy(s) > 4.0 }},
		{Type: "heroku", Before: 1, After: 120, Title: "Heroku API key", Severity: sevH,
			Help:     "A Heroku API key (HRKU-... or a UUID next to the word heroku).",
			Fix:      fix("Heroku API key (Account settings > API key: regenerate)"),
			Keywords: []string{"heroku", "hrku-"},
			Pattern:  regexp.MustCompile(`\b(HRKU-[0-9A-Za-z_-]{40,80})\b|(?i:heroku)[\w.-]{0,20}(?i:key|token|secret)[\w.-]{0,10}["']?\s*[:=]\s*["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
			Validate: func(s []byte) bool { return entropy(s) > 3.0 }},
		{Type: "shopify", Before: 1, After: 40, Title: "Shopify access token", Severity: sevH,
			Help:     "A Shopify app access token or shared secret (shpat_, shpca_, shppa_, shpss_).",
			Fix:      fix("Shopify token (app settings: rotate)"),
			Keywords: []string{"shpat_", "shpca_", "shppa_", "shpss_"},
			Pattern:  regexp.MustCompile(`\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b`),
			Validate: func(s []byte) bool { return entropy(s[6:]) > 3.0 }},
		{Type: "openai-api-key", Before: 230, After: 230, Title: "OpenAI API key", Severity: sevH,
			Help:     "An OpenAI API key (sk-..., sk-proj-..., containing the T3BlbkFJ marker).",
			Fix:      fix("OpenAI key (platform.openai.com > API keys)"),
			Keywords: []string{"t3blbkfj"},
			Pattern:  regexp.MustCompile(`\b(sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})(?:[^A-Za-z0-9_-]|$)`)},
		{Type: "anthropic-api-key", Before: 1, After: 140, Title: "Anthropic API key", Severity: sevH,
			Help:     "An Anthropic API or admin key (sk-ant-api03-..., sk-ant-admin01-...).",
			Fix:      fix("Anthropic key (console: API keys)"),
			Keywords: []string{"sk-ant-"},
			Pattern:  regexp.MustCompile(`\b(sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80,120})(?:[^A-Za-z0-9_-]|$)`),
			Validate: func(s []byte) bool { return entropy(s) > 4.0 }},
		{Type: "huggingface", Before: 1, After: 40, Title: "Hugging Face access token", Severity: sevH,
			Help:     "A Hugging Face user access token (hf_ + 34 letters).",
			Fix:      fix("Hugging Face token (Settings > Access Tokens)"),
			Keywords: []string{"hf_"},
			Pattern:  regexp.MustCompile(`\b(hf_[A-Za-z]{34})\b`),
			Validate: func(s []byte) bool { return entropy(s[3:]) > 3.8 && classes(s[3:]) >= 2 }},
		{Type: "digitalocean", Before: 1, After: 75, Title: "DigitalOcean token", Severity: sevH,
			Help:     "A DigitalOcean personal access, OAuth or refresh token (dop_v1_, doo_v1_, dor_v1_).",
			Fix:      fix("DigitalOcean token (API > Tokens)"),
			Keywords: []string{"dop_v1_", "doo_v1_", "dor_v1_"},
			Pattern:  regexp.MustCompile(`\b(do[opr]_v1_[a-f0-9]{64})\b`),
			Validate: func(s []byte) bool { return entropy(s[7:]) > 3.0 }},
		{Type: "age-secret-key", Before: 1, After: 80, Title: "age secret key", Severity: sevC,
			Help:     "An age (age-encryption.org) X25519 identity: AGE-SECRET-KEY-1 and 58 bech32 characters. It decrypts every file encrypted to its recipient.",
			Fix:      "Treat the identity as leaked: generate a new one (`age-keygen`), re-encrypt what the old recipient could read, remove the key from the image and mount it at runtime.",
			Keywords: []string{"AGE-SECRET-KEY-1"},
			Pattern:  regexp.MustCompile(`\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b`),
			Validate: func(s []byte) bool { return entropy(s[16:]) > 3.5 }},
		{Type: "databricks", Before: 1, After: 40, Title: "Databricks access token", Severity: sevH,
			Help:     "A Databricks personal access token (dapi + 32 hex).",
			Fix:      fix("Databricks token (User settings > Access tokens)"),
			Keywords: []string{"dapi"},
			Pattern:  regexp.MustCompile(`\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b`),
			Validate: func(s []byte) bool { return entropy(s[4:]) > 3.0 }},
		{Type: "hashicorp-vault-token", Before: 1, After: 410, Title: "HashiCorp Vault token", Severity: sevC,
			Help:     "A HashiCorp Vault service, batch or recovery token (hvs., hvb., hvr.).",
			Fix:      fix("Vault token (`vault token revoke`)"),
			Keywords: []string{"hvs.", "hvb.", "hvr."},
			Pattern:  regexp.MustCompile(`\b(hv[sbr]\.[A-Za-z0-9_-]{24,400})(?:[^A-Za-z0-9_-]|$)`),
			Validate: func(s []byte) bool { return entropy(s[4:]) > 3.8 && classes(s[4:]) >= 2 }},
		{Type: "basic-auth-in-url", Before: 24, After: 480, Title: "Password in a URL", Severity: sevH,
			Help:     "A URL with inline credentials (scheme://user:password@host).",
			Fix:      "Remove the credentials from the URL; use a credential helper, a netrc mounted at build time (`RUN --mount=type=secret`) or a runtime secret, and change the password.",
			Keywords: []string{"://"},
			NeedAny:  "@", // the user:password@ part
			Find:     findURLPassword},
		{Type: "generic-password", Before: 1, After: 200, Title: "Password or secret assigned in text", Severity: sevH,
			Help:     "A password/secret/token/API-key keyword assigned a random-looking value (Shannon entropy above the threshold, placeholders and variable references excluded).",
			Fix:      rotate,
			Keywords: []string{"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey", "api-key", "access_key", "accesskey", "auth_key"},
			NeedAny:  ":=", // every assignment reGeneric accepts
			Find:     findGeneric},
	}
}

// findPrivateKey finds PEM private-key blocks: a BEGIN line naming a
// private key, a body of at least 64 base64 characters, and the matching
// END line. Public keys and certificates never match.
func findPrivateKey(w []byte) [][2]int {
	var out [][2]int
	// nextEnd caches, per label, where its END marker was found (or -1
	// when there is none after the cached search position), so many BEGIN
	// lines without an END cost linear, not quadratic, time.
	type endPos struct{ from, at int }
	nextEnd := map[string]endPos{}
	off := 0
	for {
		i := bytes.Index(w[off:], []byte("-----BEGIN "))
		if i < 0 {
			return out
		}
		s := off + i
		hdrEnd := bytes.Index(w[s+11:min(len(w), s+11+45)], []byte("-----"))
		off = s + 11
		if hdrEnd < 0 {
			continue
		}
		label := w[s+11 : s+11+hdrEnd]
		off = s + 11 + hdrEnd + 5
		if !bytes.HasSuffix(label, []byte("PRIVATE KEY")) && !bytes.Equal(label, []byte("PGP PRIVATE KEY BLOCK")) {
			continue
		}
		endMarker := append(append([]byte("-----END "), label...), "-----"...)
		c, ok := nextEnd[string(label)]
		if !ok || c.at >= 0 && c.at < off {
			j := bytes.Index(w[off:], endMarker)
			c = endPos{from: off, at: -1}
			if j >= 0 {
				c.at = off + j
			}
			nextEnd[string(label)] = c
		}
		if c.at < 0 {
			continue
		}
		body := w[off:c.at]
		if base64Chars(body) < 64 {
			continue
		}
		e := c.at + len(endMarker)
		out = append(out, [2]int{s, e})
		off = e
	}
}

func base64Chars(b []byte) int {
	n := 0
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			n++
		}
	}
	return n
}

var (
	saType = lazyre.New(`"type"\s*:\s*"service_account"`)
	saKey  = lazyre.New(`"private_key"\s*:\s*"(-----BEGIN [A-Z ]*PRIVATE KEY-----[^"]+?-----END [A-Z ]*PRIVATE KEY-----(?:\\n)?)"`)
)

// findGCPServiceAccount reports the private_key value of a service-account
// JSON key: both the type and a real-looking key must be in the window.
func findGCPServiceAccount(w []byte) [][2]int {
	if !saType().Match(w) {
		return nil
	}
	var out [][2]int
	for _, m := range saKey().FindAllSubmatchIndex(w, -1) {
		if base64Chars(w[m[2]:m[3]]) >= 64+40 { // markers hold ~40 letters
			out = append(out, [2]int{m[2], m[3]})
		}
	}
	return out
}

// validDockerAuth accepts base64 that decodes to printable "user:secret".
func validDockerAuth(s []byte) bool {
	dec, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil {
		return false
	}
	user, pass, ok := bytes.Cut(dec, []byte(":"))
	if !ok || len(user) == 0 || len(pass) == 0 {
		return false
	}
	for _, c := range dec {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return !IsPlaceholder(string(pass))
}

// validJWT accepts tokens whose header decodes to a JSON object with "alg".
func validJWT(s []byte) bool {
	h, _, _ := bytes.Cut(s, []byte("."))
	dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(h), "="))
	if err != nil {
		return false
	}
	var hdr map[string]any
	if json.Unmarshal(dec, &hdr) != nil {
		return false
	}
	_, ok := hdr["alg"]
	return ok
}

// validURLPassword rejects placeholders, variable references and
// documentation hosts in scheme://user:password@host.
var reURLPassword = lazyre.New(`\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:@/'"<>]{1,64}:([^\s@/'"<>]{3,128})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)`)

// findURLPassword finds the password of scheme://user:password@host URLs
// whose password passes validURLPassword and whose host is not reserved
// for documentation (RFC 2606 / RFC 6761: example.com, *.example,
// *.test, *.invalid): `https://abc:xyz@example.com` in an API manual is
// not a credential.
func findURLPassword(w []byte) [][2]int {
	var out [][2]int
	for _, m := range reURLPassword().FindAllSubmatchIndex(w, -1) {
		if !validURLPassword(w[m[2]:m[3]]) || documentationHost(string(w[m[4]:m[5]])) {
			continue
		}
		out = append(out, [2]int{m[2], m[3]})
	}
	return out
}

// documentationHost reports whether host is a name reserved for examples.
func documentationHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range []string{"example.com", "example.net", "example.org", "example", "test", "invalid"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

func validURLPassword(pass []byte) bool {
	p := string(pass)
	if strings.ContainsAny(p, "$%{}*") || IsPlaceholder(p) {
		return false
	}
	switch strings.ToLower(p) {
	case "pass", "password", "passwd", "secret", "pwd", "token", "pw":
		return false
	}
	return true
}

var reGeneric = lazyre.New(`(?i)((?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|auth[_-]?key)[a-z0-9_.-]{0,20})["']?\s*(?::=|=>|==|[:=])\s*["']?([^\s"'` + "`" + `,;()\[\]{}<>$]{8,128})(?:["'` + "`" + `\s,;]|$)`)

// findGeneric finds keyword = value assignments whose key names a secret
// (not PASSWORD_FILE, TOKEN_URL, secretType...) and whose value passes
// validGeneric.
func findGeneric(w []byte) [][2]int {
	var out [][2]int
	for _, m := range reGeneric().FindAllSubmatchIndex(w, -1) {
		if !keyHoldsSecret(string(w[m[2]:m[3]])) || !validGeneric(w[m[4]:m[5]]) {
			continue
		}
		out = append(out, [2]int{m[4], m[5]})
	}
	return out
}

// keyHoldsSecret rejects keys whose last part (split on _ - . and
// camelCase) says they describe a secret rather than hold it.
func keyHoldsSecret(key string) bool {
	var parts []string
	cur := []rune{}
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range key {
		switch {
		case r == '_' || r == '-' || r == '.':
			flush()
			prevLower = false
			continue
		case r >= 'A' && r <= 'Z' && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = r >= 'a' && r <= 'z'
	}
	flush()
	return len(parts) > 0 && !nonSecretSuffixes[parts[len(parts)-1]]
}

var (
	reSnake  = lazyre.New(`^[a-z][a-z0-9]*(?:[_.-][a-z0-9]+)+$`)
	reConst  = lazyre.New(`^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$`)
	reDotted = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$`)
)

// validGeneric is the entropy gate of the generic keyword rule.
func validGeneric(v []byte) bool {
	s := string(v)
	if looksLikeReference(s) || IsPlaceholder(s) {
		return false
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "~/") {
		return false // a path to a secret file, not the secret
	}
	if strings.ContainsAny(s, "%:\\") || strings.Count(s, "/") >= 2 {
		return false // format strings, URNs, paths and resource names
	}
	if reSnake().MatchString(s) || reDotted().MatchString(s) || reConst().MatchString(s) {
		return false // identifiers, constants and member access: code, not a value
	}
	if s[0] == '&' || s[0] == '*' || strings.Contains(s, ".+") || strings.Contains(s, ".*") {
		return false // YAML anchors and aliases, regular expressions
	}
	l := strings.ToLower(s)
	for _, w := range []string{"password", "secret", "token", "passwd", "apikey", "api_key"} {
		if strings.Contains(l, w) {
			return false // a name about a secret (V1SecretVolumeSource), not one
		}
	}
	// Identifiers (user_password, accessToken) have no digit or symbol.
	if !bytes.ContainsAny(v, "0123456789!@#%^&*+=?~|") {
		return false
	}
	c := classes(v)
	return (c >= 3 || c == 2 && len(v) >= 16) && entropy(v) >= genericMinEntropy
}

// genericMinEntropy is the Shannon entropy (bits per character) a value
// must reach for the generic rule. Random 8+ character tokens reach it;
// words, identifiers and repeated characters do not.
const genericMinEntropy = 3.0
