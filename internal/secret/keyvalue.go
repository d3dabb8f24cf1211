package secret

import (
	"strconv"
	"strings"
)

// credentialWords mark a variable name as holding a credential when they
// appear in it (compared on the lower-cased name with '-' and '.' read as
// '_').
var credentialWords = []string{
	"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey",
	"access_key", "accesskey", "private_key", "privatekey", "credential", "auth_key",
}

// nonSecretSuffixes are last name parts that make a credential-sounding
// name describe something else: where the secret lives, its length, its
// user... (PASSWORD_FILE, TOKEN_URL, SECRET_NAME).
var nonSecretSuffixes = map[string]bool{
	"file": true, "path": true, "dir": true, "url": true, "uri": true, "host": true,
	"port": true, "user": true, "username": true, "name": true, "type": true,
	"endpoint": true, "length": true, "len": true, "ttl": true, "expiry": true,
	"expires": true, "enabled": true, "enable": true, "disabled": true, "mode": true,
	"policy": true, "header": true, "version": true, "id": true, "location": true,
	"env": true, "var": true, "prefix": true, "format": true, "size": true,
	"count": true, "timeout": true, "min": true, "max": true, "algorithm": true,
	"method": true, "provider": true, "ref": true, "store": true, "helper": true,
	"command": true, "cmd": true, "sha256": true, "checksum": true, "field": true,
}

// CredentialName reports whether a variable or label name says it holds a
// credential (DB_PASSWORD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, API_KEY,
// *_PWD), excluding names about a credential rather than holding one
// (PASSWORD_FILE, TOKEN_URL, SECRET_NAME, GPG_KEY).
func CredentialName(key string) bool {
	k := strings.ToLower(strings.NewReplacer("-", "_", ".", "_").Replace(key))
	if k == "pwd" || k == "oldpwd" {
		return false // the shell's working directory
	}
	parts := strings.Split(strings.Trim(k, "_"), "_")
	if nonSecretSuffixes[parts[len(parts)-1]] {
		return false
	}
	if strings.HasSuffix(k, "_pwd") || strings.HasSuffix(k, "_pass") || k == "pass" {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// valueIsSet reports whether a credential-named variable's value looks
// like an actual credential rather than empty, a boolean, a small number,
// a placeholder or a reference to another variable.
func valueIsSet(v string) bool {
	t := strings.TrimSpace(strings.Trim(v, `"'`))
	if len(t) < 4 {
		return false
	}
	switch strings.ToLower(t) {
	case "true", "false", "none", "null", "nil", "yes", "no", "empty", "unset", "disabled", "enabled":
		return false
	}
	if _, err := strconv.ParseInt(t, 10, 64); err == nil && len(t) <= 6 {
		return false
	}
	if strings.HasPrefix(t, "/") || strings.HasPrefix(t, "./") {
		return false // a path (to a secret file), not the secret
	}
	return !IsPlaceholder(t)
}

// ScanKeyValue checks one name=value pair (ENV, ARG, LABEL, config Env,
// build args). It reports a generic-password match covering the whole
// value when the name says it is a credential and the value is set, and
// every credential the value itself contains (a GitHub token in
// GIT_AUTH=..., a password in a URL). Offsets are within value.
func ScanKeyValue(key, value string) []Match {
	ms := Scan([]byte(value))
	if CredentialName(key) && valueIsSet(value) {
		d := genericDetector()
		m := d.match([]byte(value), 0, len(value))
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil
	}
	return finish([]byte(value), ms)
}

// genericDetector returns the generic-password detector of the default
// scanner.
func genericDetector() *Detector {
	for _, d := range defaultScanner().dets {
		if d.ID() == genericID {
			return d
		}
	}
	panic("secret: no generic detector")
}
