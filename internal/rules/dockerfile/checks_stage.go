package dockerfile

import (
	"fmt"
	"path"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
)

// lastUser returns the last USER instruction of the final image's stages.
func lastUser(c *Context) *df.Instruction {
	var u *df.Instruction
	for _, in := range c.chainInstructions() {
		if in.Cmd == "user" {
			u = in
		}
	}
	return u
}

func userName(f *df.File, in *df.Instruction) string {
	if len(in.Args) == 0 {
		return ""
	}
	u := f.Expand(in.Stage, in.Args[0])
	name, _, _ := strings.Cut(u, ":")
	return strings.TrimSpace(name)
}

// finalName names the final stage in messages.
func finalName(s *df.Stage) string {
	if s.Name != "" {
		return "final stage " + s.Name
	}
	return "final stage"
}

func isRootUser(name string) bool { return name == "root" || name == "0" }

// baseRunsNonRoot reports whether a base image is known to default to a
// non-root user (distroless :nonroot, *-unprivileged, chainguard, ...).
func baseRunsNonRoot(r df.ImageRef) bool {
	s := r.Repository + ":" + r.Tag
	return strings.Contains(s, "nonroot") || strings.Contains(s, "rootless") || strings.Contains(s, "unprivileged") ||
		strings.HasPrefix(r.Registry, "cgr.dev")
}

func checkRootUser(c *Context) {
	fs := c.File.FinalStage()
	u := lastUser(c)
	if u == nil {
		root := fs.Root()
		if baseRunsNonRoot(root.Base) || root.Base.Unresolved {
			return
		}
		if root.Base.Scratch {
			// No user database, but the process still runs as uid 0.
			c.Report("KS-DF-001", fs.From, fmt.Sprintf("%s (FROM scratch) sets no USER: the process runs as uid 0 (root)", finalName(fs)),
				"Add `USER 65534:65534` (nobody; no /etc/passwd needed) at the end of the final stage, and `COPY --chown=65534:65534` what the process must write.")
			return
		}
		c.Report("KS-DF-001", fs.From, fmt.Sprintf("%s (FROM %s) sets no USER: the container runs as root", finalName(fs), fs.From.Args[0]),
			"Add `RUN useradd --system --uid 10001 app` (or `adduser -S -u 10001 app` on Alpine) and `USER 10001` at the end of the final stage.")
		return
	}
	name := userName(c.File, u)
	if isRootUser(name) {
		c.Report("KS-DF-001", u, fmt.Sprintf("last USER of the final stage is %q: the container runs as root", u.Args[0]),
			"Switch back to an unprivileged user after the privileged steps, e.g. `USER 10001` as the last USER instruction.")
	}
}

func checkLatestTag(c *Context) {
	for _, s := range c.File.Stages {
		b := s.Base
		if s.BaseStage != nil || b.Scratch || b.Unresolved || b.Digest != "" {
			continue
		}
		switch {
		case b.Tag == "":
			c.Report("KS-DF-002", s.From, fmt.Sprintf("base image %s has no tag (implies :latest)", b.Resolved),
				fmt.Sprintf("Pin an explicit version: `FROM %s:<version>`.", b.Resolved))
		case b.Tag == "latest":
			c.Report("KS-DF-002", s.From, fmt.Sprintf("base image %s uses the latest tag", b.Resolved),
				fmt.Sprintf("Pin an explicit version: `FROM %s:<version>`.", strings.TrimSuffix(b.Resolved, ":latest")))
		}
	}
}

func checkDigest(c *Context) {
	for _, s := range c.File.Stages {
		b := s.Base
		if s.BaseStage != nil || b.Scratch || b.Unresolved || b.Digest != "" {
			continue
		}
		c.Report("KS-DF-003", s.From, fmt.Sprintf("base image %s is not pinned by digest", b.Resolved),
			fmt.Sprintf("Pin it: `FROM %s@sha256:<digest>` (get the digest with `crane digest %s`).", b.Resolved, b.Resolved))
	}
}

func checkTrustedRegistry(c *Context) {
	if len(c.Opts.TrustedRegistries) == 0 {
		return
	}
	for _, s := range c.File.Stages {
		b := s.Base
		if s.BaseStage != nil || b.Scratch || b.Unresolved {
			continue
		}
		full := b.Registry + "/" + b.Repository
		ok := false
		if c.Opts.IsTrusted != nil {
			ok = c.Opts.IsTrusted(b.Resolved)
		}
		for _, t := range c.Opts.TrustedRegistries {
			if ok || c.Opts.IsTrusted != nil {
				break
			}
			t = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(t)), "/")
			if t == "" {
				continue
			}
			if first, _, _ := strings.Cut(t, "/"); !strings.ContainsAny(first, ".:") && first != "localhost" {
				t = "docker.io/" + t // "library" or "acme" means Docker Hub namespaces
			}
			if full == t || strings.HasPrefix(full, t+"/") || b.Registry == t {
				ok = true
				break
			}
		}
		if !ok {
			c.Report("KS-DF-004", s.From, fmt.Sprintf("base image %s comes from %s, which is not in trusted_registries (%s)", b.Resolved, path.Dir(full), strings.Join(c.Opts.TrustedRegistries, ", ")), "")
		}
	}
}

func checkHealthcheck(c *Context) {
	for _, in := range c.chainInstructions() {
		if in.Cmd == "healthcheck" {
			return
		}
	}
	fs := c.File.FinalStage()
	c.Report("KS-DF-015", fs.From, fmt.Sprintf("%s (FROM %s) has no HEALTHCHECK", finalName(fs), fs.From.Args[0]), "")
}

func checkOCILabels(c *Context) {
	for _, in := range c.chainInstructions() {
		if in.Cmd != "label" {
			continue
		}
		for _, kv := range in.KeyValues {
			if strings.HasPrefix(kv.Key, "org.opencontainers.image.") {
				return
			}
		}
	}
	fs := c.File.FinalStage()
	c.Report("KS-DF-016", fs.From, fmt.Sprintf("%s (FROM %s) sets no org.opencontainers.image.* labels (source, version, revision)", finalName(fs), fs.From.Args[0]), "")
}

func checkShellForm(c *Context) {
	for _, in := range c.chainInstructions() {
		if (in.Cmd != "cmd" && in.Cmd != "entrypoint") || in.JSON || len(in.Args) == 0 {
			continue
		}
		kw := strings.ToUpper(in.Cmd)
		fields := strings.Fields(in.Args[0])
		c.Report("KS-DF-024", in, fmt.Sprintf("%s uses shell form (%s): it runs under /bin/sh -c and does not get SIGTERM", kw, clip(in.Args[0], 80)),
			fmt.Sprintf("Use exec form: `%s [%s]`.", kw, quoteList(fields)))
	}
}

func quoteList(fs []string) string {
	q := make([]string, len(fs))
	for i, f := range fs {
		q[i] = fmt.Sprintf("%q", f)
	}
	return strings.Join(q, ", ")
}

// fullOSBases are distribution images that carry a shell, package manager and libc.
var fullOSBases = map[string]bool{
	"library/debian": true, "library/ubuntu": true, "library/centos": true, "library/fedora": true,
	"library/rockylinux": true, "library/almalinux": true, "library/amazonlinux": true,
	"library/oraclelinux": true, "library/archlinux": true, "opensuse/leap": true,
	"redhat/ubi8": true, "redhat/ubi9": true, "ubi8/ubi": true, "ubi9/ubi": true,
}

// builderLang returns "go" or "rust" when stage s compiles a static-friendly binary.
func builderLang(s *df.Stage) string {
	repo := s.Root().Base.Repository
	switch repo {
	case "library/golang":
		return "Go"
	case "library/rust":
		return "Rust"
	}
	return ""
}

func checkMinimalBase(c *Context) {
	fs := c.File.FinalStage()
	root := fs.Root()
	if !fullOSBases[root.Base.Repository] || root.Base.Unresolved {
		return
	}
	lang := ""
	for _, s := range fs.Chain() {
		for _, in := range s.Instructions {
			switch in.Cmd {
			case "run":
				if in.Script == nil {
					continue
				}
				for _, op := range c.pkgOps(in.Script) {
					if op.isOSInstall() {
						return // installs runtime packages: needs the OS
					}
				}
			case "copy", "add":
				from, ok := in.Flag("from")
				if !ok {
					continue
				}
				if src := c.File.StageByName(from); src != nil {
					if l := builderLang(src); l != "" {
						lang = l
					}
				}
			}
		}
	}
	if lang == "" {
		return
	}
	fix := "Build the binary statically (CGO_ENABLED=0) and use `FROM gcr.io/distroless/static-debian12:nonroot` (or `scratch`) for the final stage."
	if lang == "Rust" {
		fix = "Use `FROM gcr.io/distroless/cc-debian12:nonroot` for the final stage (or build with the musl target and use `gcr.io/distroless/static-debian12`)."
	}
	c.Report("KS-DF-026", fs.From, fmt.Sprintf("final stage runs a %s binary built in an earlier stage on the full OS base %s", lang, root.Base.Resolved), fix)
}

// knownBaseUsers lists users that well-known base images create; for
// images not listed here, USER cannot be checked.
var knownBaseUsers = map[string][]string{
	"library/debian":          {"www-data"},
	"library/ubuntu":          {"www-data", "ubuntu"},
	"library/alpine":          {"guest", "xfs", "www-data"},
	"library/busybox":         {"www-data"},
	"library/centos":          {},
	"library/fedora":          {},
	"library/rockylinux":      {},
	"library/almalinux":       {},
	"library/amazonlinux":     {},
	"library/python":          {"www-data"},
	"library/golang":          {"www-data"},
	"library/rust":            {"www-data"},
	"library/ruby":            {"www-data"},
	"library/php":             {"www-data"},
	"library/node":            {"node", "www-data"},
	"library/eclipse-temurin": {"ubuntu", "www-data"},
	"library/openjdk":         {"www-data"},
	"library/nginx":           {"nginx", "www-data"},
	"library/httpd":           {"www-data"},
	"library/scratch":         {},
}

// commonUsers exist in practically every base image.
var commonUsers = map[string]bool{"root": true, "nobody": true, "daemon": true, "bin": true, "sys": true, "operator": true, "mail": true}

func checkUserExists(c *Context) {
	for _, s := range c.File.Stages {
		root := s.Root()
		known, ok := knownBaseUsers[root.Base.Repository]
		if root.Base.Scratch {
			known, ok = nil, true
		}
		if !ok || root.Base.Unresolved {
			continue
		}
		for i, in := range s.Instructions {
			if in.Cmd != "user" || len(in.Args) == 0 || strings.Contains(in.Args[0], "$") {
				continue
			}
			name := userName(c.File, in)
			if name == "" || commonUsers[name] || df.IsNumericID(name) || contains(known, name) {
				continue
			}
			if userCreated(s, i, name) {
				continue
			}
			c.Report("KS-DF-028", in, fmt.Sprintf("USER %s: no earlier RUN creates user %q and base image %s does not have it", in.Args[0], name, root.Base.Resolved),
				fmt.Sprintf("Create it first: `RUN useradd --system --uid 10001 %s` (Alpine: `adduser -S -u 10001 %s`), or use a numeric UID.", name, name))
		}
	}
}

// userCreated looks for a useradd/adduser of name in the stages before
// instruction idx of s (following FROM <stage> links).
func userCreated(s *df.Stage, idx int, name string) bool {
	for cur, limit := s, idx; cur != nil; cur, limit = cur.BaseStage, -1 {
		ins := cur.Instructions
		if limit >= 0 {
			ins = ins[:limit]
		}
		for _, in := range ins {
			if in.Cmd != "run" || in.Script == nil {
				continue
			}
			for _, cmd := range commandNamed(in.Script, "useradd", "adduser", "usermod") {
				_, args := cmd.Program()
				if contains(args, name) {
					return true
				}
			}
			if strings.Contains(in.Script.Text, name+":x:") || strings.Contains(in.Script.Text, name+"::") {
				return true
			}
		}
		if cur.BaseStage == cur {
			break
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// depInstall describes what looks like a dependency install command.
func depInstall(cmd *df.Command) string {
	name, args := cmd.Program()
	first := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			first = a
			break
		}
	}
	switch name {
	case "npm":
		if first == "ci" || first == "install" || first == "i" {
			return "npm " + first
		}
	case "yarn":
		if first == "" || first == "install" {
			return "yarn install"
		}
	case "pnpm":
		if first == "install" || first == "i" {
			return "pnpm install"
		}
	case "pip", "pip3":
		if first == "install" && (df.Has(args, "-r", "--requirement") || hasPrefixArg(args, "--requirement=", "-r")) {
			return name + " install -r"
		}
	case "poetry", "pipenv", "bundle", "composer":
		if first == "install" {
			return name + " install"
		}
	case "go":
		if len(args) >= 2 && args[0] == "mod" && args[1] == "download" {
			return "go mod download"
		}
	case "cargo":
		if first == "fetch" {
			return "cargo fetch"
		}
	case "dotnet":
		if first == "restore" {
			return "dotnet restore"
		}
	case "mvn", "./mvnw", "mvnw":
		for _, a := range args {
			if strings.HasPrefix(a, "dependency:") {
				return name + " " + a
			}
		}
	case "gradle", "./gradlew", "gradlew":
		if first == "dependencies" {
			return name + " dependencies"
		}
	}
	return ""
}

func hasPrefixArg(args []string, prefixes ...string) bool {
	for _, a := range args {
		for _, p := range prefixes {
			if strings.HasPrefix(a, p) && a != p {
				return true
			}
		}
	}
	return false
}

// isWholeContext reports whether a COPY copies the whole context.
func isWholeContext(in *df.Instruction) bool {
	if in.Cmd != "copy" && in.Cmd != "add" {
		return false
	}
	if _, ok := in.Flag("from"); ok {
		return false
	}
	for _, s := range in.Sources() {
		switch s {
		case ".", "./", "*", "./*":
			return true
		}
	}
	return false
}

func checkCopyBeforeInstall(c *Context) {
	for _, s := range c.File.Stages {
		var whole *df.Instruction
		installedBefore := map[string]bool{}
		for _, in := range s.Instructions {
			if whole == nil && isWholeContext(in) {
				whole = in
				continue
			}
			if in.Cmd != "run" || in.Script == nil {
				continue
			}
			for i := range in.Script.Commands {
				d := depInstall(&in.Script.Commands[i])
				if d == "" {
					continue
				}
				tool := strings.Fields(d)[0]
				if whole == nil {
					installedBefore[tool] = true
					continue
				}
				if installedBefore[tool] {
					continue
				}
				c.Report("KS-DF-017", whole, fmt.Sprintf("%s at line %d copies the whole context before `%s` at line %d: every source change re-runs the install", clip(whole.Original, 60), whole.StartLine, d, in.StartLine),
					fmt.Sprintf("Copy only the dependency manifests before line %d (e.g. `COPY package.json package-lock.json ./` or `COPY requirements.txt .` or `COPY go.mod go.sum ./`), run `%s`, then `COPY . .`.", in.StartLine, d))
				installedBefore[tool] = true
			}
		}
	}
}

// writableHint says why a destination looks like something the app writes.
func writableHint(dest string) string {
	for _, part := range strings.Split(strings.ToLower(dest), "/") {
		switch part {
		case "data", "uploads", "upload", "logs", "log", "tmp", "cache", "storage", "var", "state", "db":
			return "its destination " + dest + " looks like a writable data folder"
		}
	}
	return ""
}

func checkChown(c *Context) {
	u := lastUser(c)
	if u == nil || isRootUser(userName(c.File, u)) {
		return
	}
	user := userName(c.File, u)
	for _, s := range c.finalChain() {
		workdir := "/"
		for i, in := range s.Instructions {
			if in.Cmd == "workdir" && len(in.Args) > 0 {
				workdir = resolvePath(workdir, in.Args[0])
			}
			if in.Cmd != "copy" && in.Cmd != "add" {
				continue
			}
			if _, ok := in.Flag("chown"); ok {
				continue
			}
			if _, ok := in.Flag("chmod"); ok {
				continue
			}
			dest := resolvePath(workdir, in.Dest())
			why := ""
			for _, later := range s.Instructions[i+1:] {
				if later.Cmd != "run" || later.Script == nil {
					continue
				}
				for _, cmd := range commandNamed(later.Script, "chown", "chmod") {
					_, args := cmd.Program()
					for _, a := range args {
						if strings.HasPrefix(a, "-") {
							continue
						}
						p := resolvePath(workdir, a)
						if p == dest || strings.HasPrefix(dest, strings.TrimSuffix(p, "/")+"/") {
							why = fmt.Sprintf("RUN %s at line %d changes them afterwards, duplicating the files in a new layer", cmdText(cmd), later.StartLine)
						}
					}
				}
				if why != "" {
					break
				}
			}
			if why == "" {
				why = writableHint(dest)
			}
			if why == "" {
				continue
			}
			c.Report("KS-DF-027", in, fmt.Sprintf("%s copies into %s without --chown while the stage runs as %q; %s", strings.ToUpper(in.Cmd), dest, user, why),
				fmt.Sprintf("Use `%s --chown=%s:%s ...` (and drop the later chown/chmod).", strings.ToUpper(in.Cmd), user, user))
		}
	}
}

// resolvePath resolves p against the working directory wd.
func resolvePath(wd, p string) string {
	if p == "" {
		return wd
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	end := strings.HasSuffix(p, "/")
	r := path.Join(wd, p)
	if end && r != "/" {
		r += "/"
	}
	return r
}
