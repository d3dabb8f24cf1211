package fix

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
)

// The user kensa creates when the final stage has none.
const (
	newUser = "app"
	newUID  = "10001"
)

var userNameRe = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// family is what a base image offers to create users with.
type family int

const (
	famUnknown family = iota
	famShadow         // useradd/groupadd (Debian, Ubuntu, Fedora, RHEL-likes)
	famBusybox        // adduser/addgroup (Alpine, BusyBox)
	famWindows
)

// shadowBases are bases whose default tags ship useradd.
var shadowBases = map[string]bool{
	"library/debian": true, "library/ubuntu": true, "library/centos": true, "library/fedora": true,
	"library/rockylinux": true, "library/almalinux": true, "library/python": true, "library/node": true,
	"library/golang": true, "library/rust": true, "library/ruby": true, "library/php": true,
	"library/nginx": true, "library/httpd": true, "library/eclipse-temurin": true, "library/maven": true,
	"library/gradle": true, "library/perl": true, "library/buildpack-deps": true, "library/haproxy": true,
	"library/redis": true, "library/postgres": true, "library/elixir": true, "library/erlang": true,
	"library/julia": true, "library/r-base": true, "library/swift": true, "library/gcc": true,
	"library/clojure": true, "library/haskell": true, "library/ibm-semeru-runtimes": true,
	"mcr.microsoft.com/dotnet/sdk": true, "mcr.microsoft.com/dotnet/aspnet": true, "mcr.microsoft.com/dotnet/runtime": true,
}

// baseFamily tells how users are created on the final image's base: from
// the package managers its RUNs use, else from the base image's name.
func baseFamily(f *df.File, chain []*df.Stage) family {
	root := chain[0]
	ref := root.Base
	name := strings.ToLower(ref.Registry + "/" + ref.Repository + ":" + ref.Tag)
	if f.EscapeToken == '`' || strings.Contains(name, "windows") || strings.Contains(name, "servercore") || strings.Contains(name, "nanoserver") {
		return famWindows
	}
	for _, s := range chain {
		for _, in := range s.Instructions {
			if in.Cmd == "shell" {
				if len(in.Args) > 0 && (strings.Contains(strings.ToLower(in.Args[0]), "powershell") || strings.Contains(strings.ToLower(in.Args[0]), "cmd")) {
					return famWindows
				}
			}
		}
	}
	fam := famUnknown
	for _, s := range chain {
		for _, in := range s.Instructions {
			if in.Cmd != "run" || in.Script == nil {
				continue
			}
			for i := range in.Script.Commands {
				switch n, _ := in.Script.Commands[i].Program(); n {
				case "apk":
					return famBusybox
				case "apt-get", "apt", "dpkg", "useradd", "groupadd":
					fam = famShadow
				case "yum", "dnf":
					fam = famShadow
				case "microdnf":
					return famUnknown // minimal images: no shadow-utils unless installed
				}
			}
		}
	}
	if fam != famUnknown {
		return fam
	}
	tag := strings.ToLower(ref.Tag)
	switch {
	case strings.Contains(tag, "alpine") || ref.Repository == "library/alpine" || ref.Repository == "library/busybox":
		return famBusybox
	case strings.Contains(tag, "minimal") || strings.Contains(tag, "distroless"):
		return famUnknown
	case shadowBases[ref.Repository] || shadowBases[ref.Registry+"/"+ref.Repository]:
		return famShadow
	}
	return famUnknown
}

// createdUser returns the last user a RUN of the chain creates with
// useradd or adduser, or "".
func createdUser(chain []*df.Stage) string {
	user := ""
	for _, s := range chain {
		for _, in := range s.Instructions {
			if in.Cmd != "run" || in.Script == nil {
				continue
			}
			for i := range in.Script.Commands {
				n, args := in.Script.Commands[i].Program()
				if n != "useradd" && n != "adduser" {
					continue
				}
				var pos []string
				for j := 0; j < len(args); j++ {
					a := args[j]
					if strings.HasPrefix(a, "-") {
						if !strings.Contains(a, "=") && optTakesValue(n, a) {
							j++
						}
						continue
					}
					pos = append(pos, a)
				}
				if len(pos) == 0 {
					continue
				}
				u := pos[len(pos)-1]
				if n == "adduser" {
					u = pos[0] // adduser USER [GROUP]
				}
				if userNameRe.MatchString(u) && u != "root" {
					user = u
				}
			}
		}
	}
	return user
}

// optTakesValue reports whether a useradd/adduser option takes the next word.
func optTakesValue(prog, opt string) bool {
	if prog == "useradd" {
		switch opt {
		case "-u", "--uid", "-g", "--gid", "-G", "--groups", "-d", "--home-dir", "--home", "-s", "--shell", "-c", "--comment",
			"-e", "--expiredate", "-f", "--inactive", "-k", "--skel", "-K", "--key", "-p", "--password", "-b", "--base-dir", "-R", "--root", "-P", "--prefix", "-Z", "--selinux-user":
			return true
		}
		return false
	}
	// BusyBox and Debian adduser.
	switch opt {
	case "-h", "-g", "-s", "-G", "-u", "-k", "--home", "--shell", "--uid", "--gid", "--ingroup", "--gecos", "--firstuid", "--lastuid", "--conf", "--comment":
		return true
	}
	return false
}

// baseUser returns the unprivileged user a well-known base image creates
// for the app, or "": node's `node`, and .NET 8+ images' `app`.
func baseUser(ref df.ImageRef) string {
	if ref.Repository == "library/node" {
		return "node"
	}
	if ref.Registry == "mcr.microsoft.com" && strings.HasPrefix(ref.Repository, "dotnet/") {
		major, _, _ := strings.Cut(ref.Tag, ".")
		if n, err := strconv.Atoi(strings.SplitN(major, "-", 2)[0]); err == nil && n >= 8 {
			return "app"
		}
	}
	return ""
}

// planUser adds a non-root USER at the end of the final stage (before its
// trailing CMD/ENTRYPOINT/EXPOSE/... block), creating the user when the
// base needs one, and COPY --chown for what the new user must own (KS-DF-001).
func (fx *fixer) planUser(st *state, fd finding.Finding) (*candidate, string) {
	f := st.file
	fs := f.FinalStage()
	chain := fs.Chain()
	root := chain[0]
	if root.Base.Unresolved {
		return nil, "the base image is a build argument"
	}
	user, create := "", ""
	nl := st.src.newline()
	prev := ""
	for _, s := range chain {
		for _, in := range s.Instructions {
			if in.Cmd == "user" && len(in.Args) > 0 && !strings.Contains(in.Args[0], "$") {
				name, _, _ := strings.Cut(in.Args[0], ":")
				if name != "root" && name != "0" {
					prev = in.Args[0]
				}
			}
		}
	}
	switch {
	case root.Base.Scratch:
		user = "65534:65534"
	case strings.Contains(root.Base.Repository, "distroless"):
		user = "65532:65532"
	case prev != "":
		user = prev
	case createdUser(chain) != "":
		user = createdUser(chain)
	case baseUser(root.Base) != "":
		user = baseUser(root.Base)
	default:
		user = newUID + ":" + newUID
		switch baseFamily(f, chain) {
		case famWindows:
			// Windows base images ship the unprivileged ContainerUser account.
			user = "ContainerUser"
		case famShadow:
			create = fmt.Sprintf("RUN groupadd --system --gid %s %s && useradd --system --uid %s --gid %s --no-create-home --shell /usr/sbin/nologin %s", newUID, newUser, newUID, newUser, newUser)
		case famBusybox:
			create = fmt.Sprintf("RUN addgroup -S -g %s %s && adduser -S -D -H -u %s -G %s %s", newUID, newUser, newUID, newUser, newUser)
		}
	}
	text := "USER " + user + nl
	if create != "" {
		text = create + nl + text
	}
	at, needNL := userInsertPoint(st, fs)
	if needNL {
		text = nl + text
	}
	c := &candidate{target: fd, edits: []edit{{start: at, end: at, text: text}}, adds: 1}
	if create != "" {
		c.adds = 2
	}
	switch {
	case create != "":
		c.change = "created user " + newUser + " (uid " + newUID + ") and added USER " + user
	case user == "ContainerUser":
		c.change = "added USER ContainerUser (the Windows images' unprivileged account)"
	case user == newUID+":"+newUID:
		c.change = "added USER " + user + " (numeric: the base's distribution is unknown, so no user was created)"
	default:
		c.change = "added USER " + user
	}
	// The copies KS-DF-027 would flag once the stage runs as user get
	// --chown in the same fix: they come before the insertion point, so
	// their offsets hold in the original text.
	preview, err := load(fx.path, apply(st.data, c.edits), fx.opts.Lint)
	if err != nil {
		return nil, "the USER edit does not parse"
	}
	before := map[int]bool{}
	for _, o := range st.findings {
		if o.ID == "KS-DF-027" {
			before[o.Location.Line] = true
		}
	}
	insLine := st.src.lineAt(at)
	for _, o := range preview.findings {
		if o.ID != "KS-DF-027" || before[o.Location.Line] || o.Location.Line >= insLine {
			continue
		}
		in := instructionAt(f, o.Location.Line)
		if in == nil {
			return nil, "a COPY would need --chown"
		}
		cc, why := planChown(st, o, in, user)
		if cc == nil {
			return nil, "a COPY at line " + itoa(in.StartLine) + " would need --chown: " + why
		}
		c.edits = append(c.edits, cc.edits...)
		c.change += ", --chown on line " + itoa(in.StartLine)
	}
	return c, ""
}

// trailingMeta are instructions that may follow USER without changing
// what the build does.
var trailingMeta = map[string]bool{"cmd": true, "entrypoint": true, "healthcheck": true, "expose": true, "stopsignal": true, "label": true, "env": true, "maintainer": true}

// userInsertPoint returns the offset where the new USER goes: before the
// final stage's trailing block of metadata instructions (and the comment
// lines directly above it), else after its last instruction. needNL is
// true when the file does not end with a newline there.
func userInsertPoint(st *state, fs *df.Stage) (int, bool) {
	ins := fs.Instructions
	k := len(ins)
	for k > 0 && trailingMeta[ins[k-1].Cmd] {
		k--
	}
	if k < len(ins) {
		l := ins[k].StartLine
		for l > 1 {
			prev, _ := st.src.line(l - 1)
			t := strings.TrimSpace(string(prev))
			if !strings.HasPrefix(t, "#") || l-1 <= prevEnd(fs, k) {
				break
			}
			l--
		}
		_, off := st.src.line(l)
		return off, false
	}
	last := fs.From
	if len(ins) > 0 {
		last = ins[len(ins)-1]
	}
	at := st.src.nextLineStart(last.EndLine)
	return at, at == len(st.data) && (len(st.data) == 0 || st.data[len(st.data)-1] != '\n')
}

// prevEnd is the last line of the instruction before ins[k] in the stage.
func prevEnd(fs *df.Stage, k int) int {
	if k > 0 {
		return fs.Instructions[k-1].EndLine
	}
	return fs.From.EndLine
}

// planChown adds --chown=<user> to a COPY/ADD of a non-root stage
// (KS-DF-027). user is the stage's user ("": the last USER of the final
// image). A named user must exist when the COPY runs.
func planChown(st *state, fd finding.Finding, in *df.Instruction, user string) (*candidate, string) {
	if in.Cmd != "copy" && in.Cmd != "add" {
		return nil, ""
	}
	if user == "" {
		for _, s := range st.file.FinalStage().Chain() {
			for _, u := range s.Instructions {
				if u.Cmd == "user" && len(u.Args) > 0 {
					user = u.Args[0]
				}
			}
		}
	}
	if user == "" || strings.Contains(user, "$") || strings.ContainsAny(user, " \t\"'") {
		return nil, "the user is a variable"
	}
	if baseFamily(st.file, st.file.FinalStage().Chain()) == famWindows {
		return nil, "COPY --chown does not work for Windows containers"
	}
	name, _, _ := strings.Cut(user, ":")
	if !df.IsNumericID(name) && !userExistsAt(st.file, in, name) {
		return nil, "user " + name + " is created after this " + strings.ToUpper(in.Cmd)
	}
	x := st.src.locate(in)
	if x == nil {
		return nil, "the instruction's text could not be mapped to the source"
	}
	return &candidate{target: fd, edits: []edit{{start: x.kwEnd, end: x.kwEnd, text: " --chown=" + user}}, change: "added --chown=" + user}, ""
}

// userExistsAt reports whether a RUN before in (in its stage chain)
// creates name, or the base is known to have it.
func userExistsAt(f *df.File, in *df.Instruction, name string) bool {
	s := in.Stage
	if s == nil {
		return false
	}
	if baseUser(s.Root().Base) == name {
		return true
	}
	for _, c := range s.Chain() {
		for _, r := range c.Instructions {
			if c == s && r.StartLine >= in.StartLine {
				break
			}
			if r.Cmd != "run" || r.Script == nil {
				continue
			}
			for i := range r.Script.Commands {
				n, args := r.Script.Commands[i].Program()
				if (n == "useradd" || n == "adduser") && df.Has(args, name) {
					return true
				}
			}
		}
	}
	return false
}

// planCreateUser inserts, before a USER naming a user nothing creates, the
// RUN that creates it for the base's distribution (KS-DF-028).
func (fx *fixer) planCreateUser(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	if in.Cmd != "user" || len(in.Args) == 0 || in.Stage == nil {
		return nil, ""
	}
	name, group, hasGroup := strings.Cut(in.Args[0], ":")
	if hasGroup && group != name || !userNameRe.MatchString(name) {
		return nil, "only `USER name` (or name:name) is created mechanically"
	}
	s := in.Stage
	// The RUN must run as root: no non-root USER before it in the chain.
	for _, c := range s.Chain() {
		for _, o := range c.Instructions {
			if c == s && o.StartLine >= in.StartLine {
				break
			}
			if o.Cmd == "user" && len(o.Args) > 0 {
				u, _, _ := strings.Cut(o.Args[0], ":")
				if u != "root" && u != "0" {
					return nil, "an earlier USER runs the stage as non-root, so a RUN cannot create users"
				}
			}
		}
	}
	var run string
	switch baseFamily(st.file, s.Chain()) {
	case famShadow:
		run = fmt.Sprintf("RUN useradd --system --user-group --no-create-home --shell /usr/sbin/nologin %s", name)
	case famBusybox:
		run = fmt.Sprintf("RUN addgroup -S %s && adduser -S -D -H -G %s %s", name, name, name)
	default:
		return nil, "the base's distribution is unknown (or has no shell): use a numeric UID"
	}
	l := in.StartLine
	for l > 1 {
		prev, _ := st.src.line(l - 1)
		if !strings.HasPrefix(strings.TrimSpace(string(prev)), "#") || l-1 <= prevInstrEnd(s, in) {
			break
		}
		l--
	}
	_, at := st.src.line(l)
	return &candidate{target: fd, edits: []edit{{start: at, end: at, text: run + st.src.newline()}}, adds: 1,
		change: "created user " + name + " before the USER"}, ""
}

// prevInstrEnd is the last line of the instruction before in (its stage's
// FROM for the first one).
func prevInstrEnd(s *df.Stage, in *df.Instruction) int {
	end := s.From.EndLine
	for _, o := range s.Instructions {
		if o == in {
			break
		}
		end = o.EndLine
	}
	return end
}
