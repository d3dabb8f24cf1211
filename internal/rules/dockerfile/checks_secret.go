package dockerfile

import (
	"fmt"
	"path"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/lazyre"
)

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "git@") || strings.HasPrefix(l, "ftp://")
}

var archiveExt = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.lz", ".tar.lzma"}

func isArchive(s string) bool {
	l := strings.ToLower(s)
	for _, e := range archiveExt {
		if strings.HasSuffix(l, e) {
			return true
		}
	}
	return false
}

func checkAdd(c *Context) {
	for _, s := range c.File.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "add" || len(in.Heredocs) > 0 {
				continue
			}
			srcs := in.Sources()
			var local []string
			for _, src := range srcs {
				switch {
				case isURL(src):
					if _, ok := in.Flag("checksum"); ok || strings.HasSuffix(strings.SplitN(src, "#", 2)[0], ".git") || strings.HasPrefix(src, "git@") {
						continue
					}
					c.Report("KS-DF-005", in, fmt.Sprintf("ADD downloads %s without a checksum", clip(src, 100)),
						"Use `ADD --checksum=sha256:<digest> "+clip(src, 100)+" "+in.Dest()+"`, or download with curl in a RUN and verify it with sha256sum.")
				case isArchive(src):
					// ADD of a local archive extracts it: the intended use.
				default:
					local = append(local, src)
				}
			}
			if len(local) > 0 {
				c.Report("KS-DF-005", in, fmt.Sprintf("ADD of local %s: COPY does the same without ADD's URL and archive magic", strings.Join(firstN(local, 4), " ")),
					"Replace `ADD` with `COPY` here.")
			}
		}
	}
}

// credentialName reports whether an ENV/ARG/LABEL name looks like it holds a credential.
func credentialName(name string) bool {
	u := strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(name, "-", "_"), ".", "_"))
	// Names of files, paths and settings about credentials are not credentials.
	for _, suf := range []string{"_FILE", "_PATH", "_DIR", "_FILES", "_LOCATION", "_URL_FILE", "_ENV", "_NAME", "_ID_FILE", "_LENGTH", "_EXPIRY", "_EXPIRES", "_TTL", "_TIMEOUT", "_HEADER", "_TYPE", "_METHOD", "_ENABLED", "_REQUIRED", "_SECRET_NAME", "_URL", "_URI", "_ENDPOINT", "_HOST", "_PORT", "_USER", "_USERNAME", "_MIN_LENGTH", "_POLICY"} {
		if strings.HasSuffix(u, suf) {
			return false
		}
	}
	if u == "TOKEN" || strings.HasSuffix(u, "_TOKEN") || strings.HasPrefix(u, "TOKEN_") || strings.Contains(u, "_TOKEN_") {
		return true
	}
	for _, sub := range []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "PRIVATE_KEY", "PRIVATEKEY", "API_KEY", "APIKEY", "ACCESS_KEY", "AUTH_KEY", "CREDENTIAL", "AUTHTOKEN", "AUTH_TOKEN", "CLIENT_KEY", "ENCRYPTION_KEY", "SIGNING_KEY", "MASTER_KEY", "DB_PASS", "_PWD", "LICENSE_KEY"} {
		if strings.Contains(u, sub) {
			return true
		}
	}
	return u == "PWD_HASH" || strings.HasSuffix(u, "_PASS")
}

var (
	// fingerprintRe matches one or more OpenPGP fingerprints / key IDs:
	// public identifiers, not credentials (docker-library images set GPG_KEY).
	fingerprintRe = lazyre.New(`^(0x)?[0-9A-Fa-f]{16,40}([\s,]+(0x)?[0-9A-Fa-f]{16,40})*$`)
	placeholderRe = lazyre.New(`(?i)^(<[^>]*>|\{\{.*\}\}|%[a-z_]+%|(your|my|some|example|dummy|changeme|placeholder|xxx+|\*+|none|null|nil|undefined|todo)[_-]?.*|true|false|yes|no|on|off|[01])$`)
	// builtinValueRe is the minimal value check used when no ScanValue hook is set.
	builtinValueRe = lazyre.New(`AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_\-]{20}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{20,}|npm_[A-Za-z0-9]{36}|AIza[0-9A-Za-z_\-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY-----|[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@$]+:[^/\s@$]{3,}@`)
)

// tokenHints are literals one of which every builtinValueRe match contains.
var tokenHints = []string{"AKIA", "gh", "github_pat_", "glpat-", "xox", "sk_live_", "npm_", "AIza", "-----BEGIN", "@"}

func hasTokenPrefix(v string) bool {
	for _, h := range tokenHints {
		if strings.Contains(v, h) {
			return true
		}
	}
	return false
}

// credentialValue reports whether v is a real-looking value (not empty, a
// reference, a path or a placeholder).
func credentialValue(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "./") {
		return false
	}
	if fingerprintRe().MatchString(v) || placeholderRe().MatchString(v) {
		return false
	}
	if i := strings.Index(v, "://"); i > 0 && !strings.Contains(v[i:], "@") {
		return false // a URL without credentials
	}
	return true
}

// redact shows a prefix and the length, never the value.
func redact(v string) string {
	n := len(v)
	p := 3
	if n <= 8 {
		p = 1
	}
	if p > n {
		p = n
	}
	return fmt.Sprintf("%q…(%d chars)", v[:p], n)
}

func (c *Context) scanValue(v string) (string, bool) {
	if c.Opts.ScanValue != nil {
		return c.Opts.ScanValue(v)
	}
	if !hasTokenPrefix(v) {
		return "", false
	}
	if loc := builtinValueRe().FindStringIndex(v); loc != nil {
		return "a token pattern " + redact(v[loc[0]:loc[1]]), true
	}
	return "", false
}

func checkCredentialVars(c *Context) {
	var all []*df.Instruction
	all = append(all, c.File.GlobalArgs...)
	for _, s := range c.File.Stages {
		all = append(all, s.Instructions...)
	}
	for _, in := range all {
		if in.Cmd != "env" && in.Cmd != "arg" && in.Cmd != "label" {
			continue
		}
		kw := strings.ToUpper(in.Cmd)
		for _, kv := range in.KeyValues {
			if !kv.HasValue || kv.Value == "" {
				continue
			}
			if desc, ok := c.scanValue(kv.Key + "=" + kv.Value); ok {
				c.Report("KS-DF-010", in, fmt.Sprintf("%s %s holds a credential: %s", kw, kv.Key, desc), fixSecret(kv.Key))
				continue
			}
			if credentialName(kv.Key) && credentialValue(kv.Value) {
				c.Report("KS-DF-010", in, fmt.Sprintf("%s %s sets a credential-named key to a literal value %s", kw, kv.Key, redact(kv.Value)), fixSecret(kv.Key))
			}
		}
	}
}

func fixSecret(name string) string {
	id := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	return fmt.Sprintf("Remove the value from the Dockerfile; at build time use `RUN --mount=type=secret,id=%s,env=%s ...` (docker build --secret id=%s,env=%s), at run time inject %s from a secret store.", id, name, id, name, name)
}

// credentialFile names why a path looks like a credential file, or "".
func credentialFile(p string) string {
	clean := strings.TrimSuffix(p, "/")
	base := strings.ToLower(path.Base(clean))
	switch base {
	case ".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults":
		return ""
	case ".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials", "credentials.json", ".npmrc", ".pypirc", ".netrc",
		".git-credentials", ".aws", ".ssh", ".dockercfg", "kubeconfig", ".htpasswd", "service-account.json", ".vault-token":
		return base
	}
	if strings.HasPrefix(base, ".env.") {
		return base
	}
	for _, ext := range []string{".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"} {
		if strings.HasSuffix(base, ext) {
			return "*" + ext
		}
	}
	for _, seg := range strings.Split(clean, "/") {
		if seg == ".ssh" || seg == ".aws" {
			return seg + "/"
		}
	}
	if strings.HasSuffix(clean, ".docker/config.json") {
		return ".docker/config.json"
	}
	return ""
}

func checkCredentialFiles(c *Context) {
	for _, s := range c.File.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "copy" && in.Cmd != "add" {
				continue
			}
			if _, ok := in.Flag("from"); ok {
				continue
			}
			for _, src := range in.Sources() {
				if isURL(src) {
					continue
				}
				if why := credentialFile(src); why != "" {
					c.Report("KS-DF-011", in, fmt.Sprintf("%s copies %s (%s) into the image", strings.ToUpper(in.Cmd), src, why),
						fmt.Sprintf("Do not copy %s: mount it for the build with `RUN --mount=type=secret,id=%s,target=<path>`, provide it at run time, and add it to .dockerignore.", src, strings.TrimPrefix(path.Base(src), ".")))
				}
			}
		}
	}
}

// added is a path put into the image by a COPY/ADD.
type added struct {
	path string
	in   *df.Instruction
}

func checkAddThenDelete(c *Context) {
	for _, s := range c.finalChain() {
		workdir := "/"
		var adds []added
		for _, in := range s.Instructions {
			switch in.Cmd {
			case "workdir":
				if len(in.Args) > 0 {
					workdir = resolvePath(workdir, in.Args[0])
				}
			case "copy", "add":
				dest := in.Dest()
				if dest == "" || strings.Contains(dest, "$") {
					continue
				}
				srcs := in.Sources()
				dir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.") || len(srcs) > 1
				d := resolvePath(workdir, dest)
				for _, src := range srcs {
					p := d
					if dir {
						base := path.Base(strings.TrimSuffix(src, "/"))
						if isURL(src) {
							base = path.Base(strings.SplitN(src, "?", 2)[0])
						}
						if in.Cmd == "add" && isArchive(src) && !isURL(src) {
							continue // extracted: contents unknown
						}
						p = path.Join(d, base)
					}
					adds = append(adds, added{path: strings.TrimSuffix(p, "/"), in: in})
				}
			case "run":
				if in.Script == nil || len(adds) == 0 {
					continue
				}
				reported := map[*df.Instruction]bool{}
				for _, t := range rmTargets(in.Script) {
					if strings.Contains(t, "$") {
						continue
					}
					rp := strings.TrimSuffix(resolvePath(workdir, t), "/")
					for _, a := range adds {
						if reported[a.in] || !covers(rp, a.path) {
							continue
						}
						reported[a.in] = true
						c.Report("KS-DF-012", a.in, fmt.Sprintf("%s at line %d adds %s and `rm %s` at line %d deletes it: the file stays in the layer of line %d",
							strings.ToUpper(a.in.Cmd), a.in.StartLine, a.path, t, in.StartLine, a.in.StartLine),
							fmt.Sprintf("Do not add %s in its own step: use `RUN --mount=type=bind,source=%s,target=%s` (or `--mount=type=secret`) in the RUN at line %d, or a multi-stage build.",
								a.path, path.Base(a.path), a.path, in.StartLine))
					}
				}
			}
		}
	}
}

// covers reports whether deleting rm (a path or glob) removes p.
func covers(rm, p string) bool {
	if rm == p || rm == "/" {
		return rm == p
	}
	if strings.HasPrefix(p, rm+"/") {
		return true
	}
	if strings.ContainsAny(rm, "*?[") {
		if ok, _ := path.Match(rm, p); ok {
			return true
		}
		// /tmp/* covers /tmp/a/b
		for d := p; d != "/" && d != "."; d = path.Dir(d) {
			if ok, _ := path.Match(rm, d); ok {
				return true
			}
		}
	}
	return false
}

func checkArgSecret(c *Context) {
	for _, s := range c.File.Stages {
		declared := map[string]*df.Instruction{}
		for _, in := range s.Instructions {
			switch in.Cmd {
			case "arg":
				for _, kv := range in.KeyValues {
					if credentialName(kv.Key) {
						declared[kv.Key] = in
					}
				}
			case "run":
				if len(declared) == 0 || in.Script == nil {
					continue
				}
				text := in.Script.Text
				if in.JSON {
					text = strings.Join(in.Args, " ")
				}
				for name, decl := range declared {
					if !usesVar(text, name) {
						continue
					}
					c.Report("KS-DF-030", decl, fmt.Sprintf("ARG %s (line %d) is used by the RUN at line %d: its value is recorded in the image history", name, decl.StartLine, in.StartLine),
						fmt.Sprintf("Drop `ARG %s`; use `RUN --mount=type=secret,id=%s,env=%s ...` and build with `--secret id=%s,env=%s`.", name, strings.ToLower(name), name, strings.ToLower(name), name))
					delete(declared, name)
				}
			}
		}
	}
}

// usesVar reports whether shell text references $name or ${name...}.
func usesVar(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		k := i + j
		end := k + len(name)
		after := byte(0)
		if end < len(text) {
			after = text[end]
		}
		identAfter := after == '_' || after >= 'A' && after <= 'Z' || after >= 'a' && after <= 'z' || after >= '0' && after <= '9'
		if !identAfter {
			if k >= 1 && text[k-1] == '$' {
				return true
			}
			if k >= 2 && text[k-2:k] == "${" {
				return true
			}
		}
		i = end
	}
}
