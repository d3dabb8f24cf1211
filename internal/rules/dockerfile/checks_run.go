package dockerfile

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
)

// aptNoRecommendsConfigured reports whether a RUN in the chain writes an
// apt config that disables recommends.
func (c *Context) aptNoRecommendsConfigured(stages []*df.Stage) bool {
	found := false
	runs(stages, func(_ *df.Stage, _ *df.Instruction, sc *df.Script) {
		if found {
			return
		}
		sf := c.facts(sc)
		if sf.noRecommends == 0 {
			sf.noRecommends = -1
			if disablesRecommends(sc.Text) {
				sf.noRecommends = 1
			}
		}
		found = sf.noRecommends > 0
	})
	return found
}

// disablesRecommends reports whether shell text mentions
// install-recommends together with false or "0" (case-insensitive): an
// apt configuration that turns recommends off.
func disablesRecommends(text string) bool {
	if !isASCII(text) { // Unicode case folding: lower-case the text
		t := strings.ToLower(text)
		return strings.Contains(t, "install-recommends") && (strings.Contains(t, "false") || strings.Contains(t, "\"0\""))
	}
	return hasInstallRecommends(text) && (containsFoldASCII(text, "false") || strings.Contains(text, "\"0\""))
}

// hasInstallRecommends reports whether ASCII text contains
// "install-recommends" in any case. It hops between '-' bytes (the word
// has one at offset 7), which are rare in shell text.
func hasInstallRecommends(text string) bool {
	const word, dash = "install-recommends", 7
	for i := 0; ; {
		j := strings.IndexByte(text[i:], '-')
		if j < 0 {
			return false
		}
		j += i
		if j >= dash && j-dash+len(word) <= len(text) && strings.EqualFold(text[j-dash:j-dash+len(word)], word) {
			return true
		}
		i = j + 1
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains sub, ignoring ASCII case;
// sub must be lower-case ASCII and not empty.
func containsFoldASCII(s, sub string) bool {
	first := sub[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper -= 'a' - 'A'
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if b := s[i]; b != first && b != upper {
			continue
		}
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func checkNoInstallRecommends(c *Context) {
	for _, s := range c.File.Stages {
		if c.aptNoRecommendsConfigured(s.Chain()) {
			continue
		}
		runs([]*df.Stage{s}, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
			for _, op := range c.pkgOps(sc) {
				if op.Mgr != "apt" || op.Sub != "install" || len(op.Pkgs) == 0 {
					continue
				}
				if op.hasOpt("--no-install-recommends") || optsContain(op.Opts, "Install-Recommends") {
					continue
				}
				c.Report("KS-DF-006", in, fmt.Sprintf("`%s` installs recommended packages too", cmdText(op.Cmd)),
					"Add `--no-install-recommends`: `apt-get install -y --no-install-recommends "+strings.Join(firstN(op.Pkgs, 4), " ")+"`.")
				return
			}
		})
	}
}

func optsContain(opts []string, sub string) bool {
	for _, o := range opts {
		if strings.Contains(o, sub) {
			return true
		}
	}
	return false
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string{}, s[:n]...), "...")
	}
	return s
}

func removesPath(sc *df.Script, prefixes ...string) bool {
	for _, t := range rmTargets(sc) {
		for _, p := range prefixes {
			if strings.HasPrefix(t, p) || strings.HasPrefix(strings.TrimPrefix(t, "~"), p) {
				return true
			}
		}
	}
	return false
}

func checkAptLists(c *Context) {
	runs(c.finalChain(), func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		var inst *pkgOp
		cleaned := false
		for _, op := range c.pkgOps(sc) {
			if op.Mgr != "apt" {
				continue
			}
			if op.Sub == "install" && inst == nil {
				o := op
				inst = &o
			}
			if op.Sub == "dist-clean" || op.Sub == "distclean" {
				cleaned = true
			}
		}
		if inst == nil || cleaned || removesPath(sc, "/var/lib/apt/lists") || hasCacheMount(in, "/var/lib/apt") {
			return
		}
		c.Report("KS-DF-007", in, fmt.Sprintf("`%s` leaves /var/lib/apt/lists in the layer (no rm -rf /var/lib/apt/lists/* in the same RUN)", cmdText(inst.Cmd)), "")
	})
}

func checkApkNoCache(c *Context) {
	runs(c.finalChain(), func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		if removesPath(sc, "/var/cache/apk") || hasCacheMount(in, "/var/cache/apk", "/etc/apk/cache") {
			return
		}
		for _, op := range c.pkgOps(sc) {
			if op.Mgr == "apk" && op.Sub == "add" && !op.hasOpt("--no-cache", "--no-network") {
				c.Report("KS-DF-008", in, fmt.Sprintf("`%s` keeps the apk index cache in /var/cache/apk", cmdText(op.Cmd)),
					"Use `apk add --no-cache "+strings.Join(firstN(op.osPkgs(), 4), " ")+"`.")
				return
			}
		}
	})
}

// stageEnv returns ENV values set in the chain of stages.
func stageEnv(stages []*df.Stage) map[string]string {
	env := map[string]string{}
	for _, in := range chainInstructions(stages) {
		if in.Cmd == "env" {
			for _, kv := range in.KeyValues {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

func checkLangCache(c *Context) {
	chain := c.finalChain()
	env := stageEnv(chain)
	pipNoCache := false
	if v, ok := env["PIP_NO_CACHE_DIR"]; ok && v != "" {
		pipNoCache = true
	}
	runs(chain, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		ops := c.pkgOps(sc)
		for _, op := range ops {
			if !op.isInstall() {
				continue
			}
			switch op.Mgr {
			case "pip":
				if pipNoCache || op.hasOpt("--no-cache-dir") || hasCacheMount(in, "/root/.cache", "~/.cache") || removesPath(sc, "/root/.cache", "~/.cache", "${HOME}/.cache") ||
					cacheCleaned(sc, "pip", "purge") || containsAssign(op.Cmd, "PIP_NO_CACHE_DIR") {
					continue
				}
				c.Report("KS-DF-009", in, fmt.Sprintf("`%s` keeps the pip cache (~/.cache/pip) in the layer", cmdText(op.Cmd)),
					"Add `--no-cache-dir` (or set `ENV PIP_NO_CACHE_DIR=1`, or use `RUN --mount=type=cache,target=/root/.cache/pip`).")
				return
			case "npm":
				if hasCacheMount(in, "/root/.npm", "~/.npm") || cacheCleaned(sc, "npm", "cache") || removesPath(sc, "/root/.npm", "~/.npm", "${HOME}/.npm") {
					continue
				}
				c.Report("KS-DF-009", in, fmt.Sprintf("`%s` leaves the npm cache (~/.npm) in the layer", cmdText(op.Cmd)),
					"Append `&& npm cache clean --force` in the same RUN, or use `RUN --mount=type=cache,target=/root/.npm`.")
				return
			case "yarn":
				if hasCacheMount(in, "/usr/local/share/.cache/yarn", "/root/.cache/yarn", "/root/.yarn") || cacheCleaned(sc, "yarn", "cache") ||
					removesPath(sc, "/usr/local/share/.cache", "/root/.cache/yarn") {
					continue
				}
				c.Report("KS-DF-009", in, fmt.Sprintf("`%s` leaves the yarn cache in the layer", cmdText(op.Cmd)),
					"Append `&& yarn cache clean` in the same RUN, or use `RUN --mount=type=cache,target=/usr/local/share/.cache/yarn`.")
				return
			}
		}
	})
}

func containsAssign(c *df.Command, name string) bool {
	for _, a := range c.Assigns {
		if strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// cacheCleaned reports whether sc runs `<tool> <sub> ...` (e.g. npm cache clean).
func cacheCleaned(sc *df.Script, tool, sub string) bool {
	for _, cmd := range commandNamed(sc, tool, tool+"3") {
		_, args := cmd.Program()
		if len(args) > 0 && args[0] == sub {
			return true
		}
	}
	return false
}

// shells are programs that run a script read from stdin.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true}

// interpreters also run a script from stdin when given no file.
var interpreters = map[string]bool{"python": true, "python3": true, "perl": true, "ruby": true, "node": true, "php": true}

func runsStdin(cmd *df.Command) bool {
	name, args := cmd.Program()
	if shells[name] {
		for _, a := range args {
			switch {
			case a == "-s" || a == "--" || a == "-":
				return true // script from stdin; the rest are its arguments
			case a == "-c" || !strings.HasPrefix(a, "-"):
				return false // runs a command string or a file
			}
		}
		return true
	}
	if interpreters[name] {
		return len(args) == 0 || args[len(args)-1] == "-"
	}
	return false
}

func isFetch(cmd *df.Command) bool {
	n, _ := cmd.Program()
	return n == "curl" || n == "wget"
}

func checkCurlPipeShell(c *Context) {
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		cmds := sc.Commands
		for i := range cmds {
			if !isFetch(&cmds[i]) {
				continue
			}
			// curl ... | sh
			for j := i + 1; j < len(cmds); j++ {
				if cmds[j].Pipeline == cmds[i].Pipeline && cmds[j].Parent == cmds[i].Parent && cmds[j].PipeIndex > cmds[i].PipeIndex && runsStdin(&cmds[j]) {
					c.Report("KS-DF-013", in, fmt.Sprintf("`%s | %s` runs a remote script unverified", cmdText(&cmds[i]), cmdText(&cmds[j])), "")
					return
				}
			}
			// sh -c "$(curl ...)", bash <(curl ...)
			if cmds[i].Subst && cmds[i].Parent >= 0 {
				p := &cmds[cmds[i].Parent]
				if n, _ := p.Program(); shells[n] || interpreters[n] {
					c.Report("KS-DF-013", in, fmt.Sprintf("`%s` runs the output of `%s` unverified", cmdText(p), cmdText(&cmds[i])), "")
					return
				}
			}
		}
	})
}

func checkSudo(c *Context) {
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		for i := range sc.Commands {
			if sc.Commands[i].Name() == "sudo" {
				c.Report("KS-DF-014", in, fmt.Sprintf("`%s` uses sudo", cmdText(&sc.Commands[i])), "")
				return
			}
		}
	})
}

// toolchainPkg reports whether an OS package name is a build toolchain.
func toolchainPkg(mgr, p string) bool {
	switch p {
	case "gcc", "g++", "make", "cmake", "build-essential", "build-base", "golang", "golang-go", "go", "clang", "llvm",
		"autoconf", "automake", "libtool", "pkg-config", "pkgconf", "rustc", "cargo", "gcc-c++", "musl-dev", "libc6-dev", "libc-dev":
		return true
	}
	switch mgr {
	case "apt", "apk":
		return strings.HasSuffix(p, "-dev")
	case "yum", "zypper":
		return strings.HasSuffix(p, "-devel")
	}
	return false
}

func checkToolchain(c *Context) {
	if c.File.IsMultiStage() {
		return
	}
	s := c.File.FinalStage()
	env := stageEnv([]*df.Stage{s})
	runs([]*df.Stage{s}, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		ops := c.pkgOps(sc)
		var left []string
		var first *pkgOp
		for k, op := range ops {
			if op.isOSInstall() {
				virtual := op.virtualName()
				for _, p := range op.osPkgs() {
					name := pkgName(op.Mgr, p)
					if toolchainPkg(op.Mgr, name) && !removedLater(ops, op.Index, op.Mgr, name, virtual) {
						left = append(left, name)
						if first == nil {
							first = &ops[k]
						}
					}
				}
			}
			if op.Mgr == "npm" && (op.Sub == "ci" || op.Sub == "install" && len(op.Pkgs) == 0) && !op.hasOpt("--production", "--omit", "--only") &&
				env["NODE_ENV"] != "production" && !containsAssign(op.Cmd, "NODE_ENV") {
				pruned := false
				for _, o := range ops {
					if o.Mgr == "npm" && o.Sub == "prune" {
						pruned = true
					}
				}
				if !pruned {
					left = append(left, "node devDependencies ("+cmdText(op.Cmd)+")")
					if first == nil {
						first = &ops[k]
					}
				}
			}
		}
		if len(left) == 0 {
			return
		}
		c.Report("KS-DF-018", in, fmt.Sprintf("single-stage image keeps build toolchain: %s", strings.Join(firstN(left, 6), ", ")), "")
	})
}

func checkAptUpdateAlone(c *Context) {
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		var upd *pkgOp
		for _, op := range c.pkgOps(sc) {
			if op.Mgr != "apt" {
				continue
			}
			switch op.Sub {
			case "update":
				if upd == nil {
					o := op
					upd = &o
				}
			case "install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep", "source", "download":
				return
			}
		}
		if upd != nil {
			c.Report("KS-DF-019", in, fmt.Sprintf("`%s` runs without an install in the same RUN: the cached layer goes stale", cmdText(upd.Cmd)), "")
		}
	})
}

func checkPins(c *Context) {
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		var unpinned []string
		mgr := ""
		for _, op := range c.pkgOps(sc) {
			if !op.isOSInstall() {
				continue
			}
			virtual := op.virtualName()
			for _, p := range op.osPkgs() {
				if p == virtual || pinned(op.Mgr, p) {
					continue
				}
				unpinned = append(unpinned, p)
				if mgr == "" {
					mgr = op.Mgr
				}
			}
		}
		if len(unpinned) == 0 {
			return
		}
		ex := map[string]string{"apt": "pkg=1.2.3-1", "apk": "pkg=1.2.3-r0", "yum": "pkg-1.2.3", "zypper": "pkg=1.2.3"}[mgr]
		c.Report("KS-DF-020", in, fmt.Sprintf("%d OS package(s) installed without a version pin: %s", len(unpinned), strings.Join(firstN(unpinned, 6), " ")),
			fmt.Sprintf("Pin versions (`%s`), or pin the base image by digest and accept distro updates deliberately.", ex))
	})
}

var sshPkgs = map[string]map[string]bool{
	"apt":    {"openssh-server": true, "ssh": true, "dropbear": true, "dropbear-bin": true},
	"apk":    {"openssh": true, "openssh-server": true, "dropbear": true},
	"yum":    {"openssh-server": true, "dropbear": true},
	"zypper": {"openssh-server": true, "openssh": true},
}

func checkSSH(c *Context) {
	for _, s := range c.File.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "expose" {
				continue
			}
			for _, a := range in.Args {
				port, _, _ := strings.Cut(a, "/")
				if port == "22" || strings.HasPrefix(port, "22-") {
					c.Report("KS-DF-021", in, fmt.Sprintf("EXPOSE %s publishes the SSH port", a), "Remove `EXPOSE 22` and the SSH server; use `docker exec` / `kubectl exec` for access.")
				}
			}
		}
	}
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		for _, op := range c.pkgOps(sc) {
			if !op.isOSInstall() {
				continue
			}
			for _, p := range op.osPkgs() {
				if sshPkgs[op.Mgr][pkgName(op.Mgr, p)] {
					c.Report("KS-DF-021", in, fmt.Sprintf("`%s` installs the SSH server package %s", clip(cmdText(op.Cmd), 80), p), "")
					return
				}
			}
		}
	})
}

// worldWritableMode reports whether a chmod mode grants write to others
// without the sticky bit.
func worldWritableMode(mode string) bool {
	if mode == "" {
		return false
	}
	if n, err := strconv.ParseUint(mode, 8, 32); err == nil {
		return n&0o002 != 0 && n&0o1000 == 0
	}
	for _, clause := range strings.Split(mode, ",") {
		i := strings.IndexAny(clause, "+=")
		if i < 0 {
			continue
		}
		who, perms := clause[:i], clause[i+1:]
		if !strings.ContainsAny(who, "oa") {
			continue
		}
		if strings.Contains(perms, "w") && !strings.Contains(perms, "t") {
			return true
		}
	}
	return false
}

func checkWorldWritable(c *Context) {
	for _, s := range c.File.Stages {
		for _, in := range s.Instructions {
			if in.Cmd == "copy" || in.Cmd == "add" {
				if m, ok := in.Flag("chmod"); ok && worldWritableMode(m) {
					c.Report("KS-DF-022", in, fmt.Sprintf("%s --chmod=%s makes %s world-writable", strings.ToUpper(in.Cmd), m, in.Dest()), "")
				}
			}
		}
	}
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		for _, cmd := range commandNamed(sc, "chmod") {
			_, args := cmd.Program()
			var mode string
			var paths []string
			for _, a := range args {
				if strings.HasPrefix(a, "-") && !strings.ContainsAny(a, "+=") {
					continue
				}
				if mode == "" {
					mode = a
					continue
				}
				paths = append(paths, a)
			}
			if worldWritableMode(mode) {
				c.Report("KS-DF-022", in, fmt.Sprintf("`%s` makes %s world-writable", cmdText(cmd), strings.Join(firstN(paths, 3), " ")), "")
				return
			}
		}
	})
}

func checkWorkdir(c *Context) {
	for _, s := range c.File.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "workdir" || len(in.Args) == 0 {
				continue
			}
			w := in.Args[0]
			if strings.HasPrefix(w, "$") {
				w = c.File.Expand(s, w)
				if w == "" || strings.Contains(w, "$") {
					continue
				}
			}
			if strings.HasPrefix(w, "/") || isWindowsPath(w) {
				continue
			}
			c.Report("KS-DF-023", in, fmt.Sprintf("WORKDIR %s is relative: it depends on the previous WORKDIR", in.Args[0]),
				fmt.Sprintf("Use an absolute path, e.g. `WORKDIR /%s`.", strings.TrimPrefix(w, "./")))
		}
	}
	// A RUN that starts with `cd DIR` uses cd as a WORKDIR; a cd later in
	// a build script (into an unpacked source tree, say) is the script's
	// business, and WORKDIR would not replace it.
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		for i := range sc.Commands {
			cmd := &sc.Commands[i]
			if cmd.Subst || cmd.InSubshell || cmd.Parent >= 0 {
				continue
			}
			if cmd.Name() != "cd" {
				return
			}
			dir := ""
			if len(cmd.Args) > 1 {
				dir = cmd.Args[1]
			}
			if dir == "" || dir == "-" || dir == "/" || strings.Contains(dir, "$") {
				continue
			}
			c.Report("KS-DF-023", in, fmt.Sprintf("`%s` in RUN: the directory change does not persist and hides where commands run", cmdText(cmd)),
				fmt.Sprintf("Use `WORKDIR %s` before this RUN instead of `cd`.", path.Clean(dir)))
			return
		}
	})
}

func isWindowsPath(p string) bool {
	return len(p) >= 2 && p[1] == ':' || strings.HasPrefix(p, `\`)
}

func checkRPMCache(c *Context) {
	runs(c.finalChain(), func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		ops := c.pkgOps(sc)
		for _, op := range ops {
			if (op.Mgr != "yum" && op.Mgr != "zypper") || !op.isInstall() {
				continue
			}
			if hasCacheMount(in, "/var/cache/yum", "/var/cache/dnf", "/var/cache/zypp", "/var/cache/libdnf5") ||
				removesPath(sc, "/var/cache/yum", "/var/cache/dnf", "/var/cache/zypp", "/var/cache/libdnf5") {
				return
			}
			for _, o := range ops {
				if o.Mgr == op.Mgr && (o.Sub == "clean" || o.Sub == "cc") {
					return
				}
			}
			clean := map[string]string{"yum": op.Cmd.Name() + " clean all", "zypper": "zypper clean -a"}[op.Mgr]
			c.Report("KS-DF-025", in, fmt.Sprintf("`%s` leaves the package cache in the layer (no `%s` in the same RUN)", clip(cmdText(op.Cmd), 80), clean),
				fmt.Sprintf("End the same RUN with `&& %s`.", clean))
			return
		}
	})
}

func checkUpgrade(c *Context) {
	runs(c.File.Stages, func(_ *df.Stage, in *df.Instruction, sc *df.Script) {
		for _, op := range c.pkgOps(sc) {
			up := false
			switch op.Mgr {
			case "apt":
				up = op.Sub == "upgrade" || op.Sub == "dist-upgrade" || op.Sub == "full-upgrade"
			case "apk":
				up = op.Sub == "upgrade"
			case "yum":
				up = (op.Sub == "update" || op.Sub == "upgrade" || op.Sub == "distro-sync") && len(op.Pkgs) == 0
			case "zypper":
				up = (op.Sub == "update" || op.Sub == "up" || op.Sub == "dup" || op.Sub == "dist-upgrade") && len(op.Pkgs) == 0
			}
			if up {
				c.Report("KS-DF-029", in, fmt.Sprintf("`%s` upgrades the distribution inside the image", cmdText(op.Cmd)), "")
				return
			}
		}
	})
}
