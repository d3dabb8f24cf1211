package dockerfile

import (
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
)

// pkgOp is one package-manager invocation found in a RUN.
type pkgOp struct {
	Index int    // command index in the script
	Mgr   string // apt, apk, yum (yum/dnf/microdnf/tdnf), zypper, pip, npm, yarn, pnpm
	Sub   string // subcommand: install, add, update, upgrade, ...
	Opts  []string
	Pkgs  []string // positional arguments after the subcommand
	Cmd   *df.Command
}

// pkgOps finds package-manager invocations in a script.
func pkgOps(sc *df.Script) []pkgOp {
	var out []pkgOp
	for i := range sc.Commands {
		c := &sc.Commands[i]
		name, args := c.Program()
		mgr := ""
		switch name {
		case "apt-get", "apt", "aptitude":
			mgr = "apt"
		case "apk":
			mgr = "apk"
		case "yum", "dnf", "microdnf", "tdnf":
			mgr = "yum"
		case "zypper":
			mgr = "zypper"
		case "pip", "pip3", "pip2":
			mgr = "pip"
		case "python", "python3", "python2":
			if len(args) >= 2 && args[0] == "-m" && strings.HasPrefix(args[1], "pip") {
				mgr, args = "pip", args[2:]
			} else if len(args) >= 3 && strings.HasPrefix(args[0], "-") && args[1] == "-m" && strings.HasPrefix(args[2], "pip") {
				mgr, args = "pip", args[3:]
			}
		case "npm", "yarn", "pnpm":
			mgr = name
		default:
			switch {
			case strings.HasPrefix(name, "pip3."):
				mgr = "pip"
			case strings.HasPrefix(name, "python3.") && len(args) >= 2 && args[0] == "-m" && args[1] == "pip":
				mgr, args = "pip", args[2:]
			}
		}
		if mgr == "" {
			continue
		}
		op := pkgOp{Index: i, Mgr: mgr, Cmd: c}
		var sub int
		op.Opts, sub, op.Pkgs = df.SplitPkgArgs(mgr, args)
		if sub >= 0 {
			op.Sub = args[sub]
		}
		out = append(out, op)
	}
	return out
}

// isInstall reports whether op installs packages.
func (op *pkgOp) isInstall() bool {
	switch op.Mgr {
	case "apt", "yum":
		return op.Sub == "install" || op.Mgr == "yum" && op.Sub == "groupinstall"
	case "apk":
		return op.Sub == "add"
	case "zypper":
		return op.Sub == "install" || op.Sub == "in"
	case "pip":
		return op.Sub == "install"
	case "npm":
		return op.Sub == "install" || op.Sub == "i" || op.Sub == "ci"
	case "yarn":
		return op.Sub == "" || op.Sub == "install"
	case "pnpm":
		return op.Sub == "install" || op.Sub == "i"
	}
	return false
}

// isOSInstall reports whether op installs OS packages.
func (op *pkgOp) isOSInstall() bool {
	switch op.Mgr {
	case "apt", "apk", "yum", "zypper":
		return op.isInstall()
	}
	return false
}

// hasOpt reports whether op was given any of the options (a prefix match
// for options given as --opt=value).
func (op *pkgOp) hasOpt(opts ...string) bool {
	for _, o := range op.Opts {
		for _, w := range opts {
			if o == w || strings.HasPrefix(o, w+"=") {
				return true
			}
		}
	}
	return false
}

// osPkgs returns package arguments that name packages (not files, URLs or variables).
func (op *pkgOp) osPkgs() []string {
	var out []string
	for _, p := range op.Pkgs {
		if strings.ContainsAny(p, "/$*") || strings.HasSuffix(p, ".deb") || strings.HasSuffix(p, ".rpm") || strings.HasSuffix(p, ".apk") {
			continue
		}
		if strings.HasPrefix(p, "@") { // yum group
			continue
		}
		out = append(out, p)
	}
	return out
}

// pkgName strips a version pin from an OS package argument.
func pkgName(mgr, p string) string {
	switch mgr {
	case "apt":
		p, _, _ = strings.Cut(p, "=")
		p, _, _ = strings.Cut(p, ":")
		return p
	case "apk":
		if i := strings.IndexAny(p, "=~<>"); i > 0 {
			return p[:i]
		}
		return p
	}
	return p
}

// pinned reports whether an OS package argument carries a version.
func pinned(mgr, p string) bool {
	switch mgr {
	case "apt":
		return strings.Contains(p, "=")
	case "apk":
		return strings.ContainsAny(p, "=~<>")
	case "yum", "zypper":
		// name-1.2.3 or name-1.2.3-1.el9; zypper also name=1.2 / name>=1.2
		if strings.ContainsAny(p, "=<>") {
			return true
		}
		for i := 0; i+1 < len(p); i++ {
			if p[i] == '-' && p[i+1] >= '0' && p[i+1] <= '9' {
				return true
			}
		}
	}
	return false
}

// removes reports whether a later command of the same script removes
// pkg (apt-get purge/remove, apk del, yum remove), or, for apk, the
// --virtual group the package was installed in.
func removedLater(ops []pkgOp, after int, mgr, pkg, virtual string) bool {
	for _, op := range ops {
		if op.Index <= after || op.Mgr != mgr {
			continue
		}
		switch op.Sub {
		case "purge", "remove", "autoremove", "del", "erase", "rm":
		default:
			continue
		}
		if mgr == "apt" && (op.Sub == "autoremove" || op.hasOpt("--auto-remove", "--autoremove")) {
			return true
		}
		for _, p := range op.Pkgs {
			if p == pkg || virtual != "" && p == virtual {
				return true
			}
		}
	}
	return false
}

// virtualName returns the apk --virtual/-t group name of op, or "".
func (op *pkgOp) virtualName() string {
	for i, o := range op.Opts {
		if (o == "-t" || o == "--virtual") && i+1 < len(op.Opts) {
			return op.Opts[i+1]
		}
		if v, ok := strings.CutPrefix(o, "--virtual="); ok {
			return v
		}
	}
	return ""
}

// commandNamed returns the commands of sc whose program is one of names.
func commandNamed(sc *df.Script, names ...string) []*df.Command {
	var out []*df.Command
	for i := range sc.Commands {
		n, _ := sc.Commands[i].Program()
		for _, w := range names {
			if n == w {
				out = append(out, &sc.Commands[i])
				break
			}
		}
	}
	return out
}

// rmTargets returns the path arguments of rm commands in sc (with their command).
func rmTargets(sc *df.Script) []string {
	var out []string
	for _, c := range commandNamed(sc, "rm") {
		_, args := c.Program()
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				out = append(out, a)
			}
		}
	}
	return out
}

// hasCacheMount reports whether in mounts a cache (or tmpfs) at a target
// beginning with one of prefixes.
func hasCacheMount(in *df.Instruction, prefixes ...string) bool {
	for _, m := range in.Mounts() {
		if m["type"] != "cache" && m["type"] != "tmpfs" {
			continue
		}
		t := m["target"]
		if t == "" {
			t = m["dst"]
		}
		if t == "" {
			t = m["destination"]
		}
		for _, p := range prefixes {
			if strings.HasPrefix(t, p) || strings.HasPrefix(p, strings.TrimSuffix(t, "/")+"/") {
				return true
			}
		}
	}
	return false
}
