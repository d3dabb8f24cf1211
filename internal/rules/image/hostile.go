package image

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/lazyre"
	"github.com/kensa-sec/kensa/internal/rules"
)

// hostile runs the KS-HI-* checks.
func (c *checker) hostile() []finding.Finding {
	var out []finding.Finding
	out = append(out, c.escapes()...)
	out = append(out, c.tmpExecutables()...)
	out = append(out, c.ownSetuid()...)
	out = append(out, c.knownBadFiles()...)
	out = append(out, c.fetchAndRun()...)
	out = append(out, c.historyMismatch()...)
	return out
}

// escapes is KS-HI-001: one finding per layer, naming its escaping
// entries as stored.
func (c *checker) escapes() []finding.Finding {
	r := rules.MustLookup("KS-HI-001")
	var out []finding.Finding
	for i, l := range c.im.Layers {
		if len(l.Escapes) == 0 {
			continue
		}
		var names []string
		for _, e := range l.Escapes {
			switch e.Kind {
			case layerfs.EscapeName:
				names = append(names, fmt.Sprintf("%q", e.Name))
			case layerfs.EscapeThroughLink:
				names = append(names, fmt.Sprintf("%q (written through the symlink %s this layer created)", e.Name, e.Link))
			default:
				names = append(names, fmt.Sprintf("%q (%s to %q)", e.Name, e.Kind, e.Link))
			}
		}
		more := ""
		if len(names) > 5 {
			more = fmt.Sprintf(" and %d more", len(names)-5)
			names = names[:5]
		}
		f := r.NewFinding(fmt.Sprintf("%s holds %d tar entries that leave the root before normalisation: %s%s", c.layerName(i), len(l.Escapes), strings.Join(names, ", "), more),
			c.loc(i, layerfs.Clean(l.Escapes[0].Name)))
		out = append(out, f)
	}
	return out
}

// worldWritableDirs are the folders every process may write to.
var worldWritableDirs = []string{"/tmp/", "/var/tmp/", "/dev/shm/"}

// tmpExecutables is KS-HI-002: regular files with an execute bit in the
// final filesystem under /tmp, /var/tmp or /dev/shm.
func (c *checker) tmpExecutables() []finding.Finding {
	r := rules.MustLookup("KS-HI-002")
	var out []finding.Finding
	for p, st := range c.im.Files() {
		if st.Type != layerfs.TypeFile || st.Mode.Perm()&0o111 == 0 {
			continue
		}
		if !slices.ContainsFunc(worldWritableDirs, func(d string) bool { return strings.HasPrefix(p, d) }) {
			continue
		}
		out = append(out, r.NewFinding(fmt.Sprintf("%s is executable (mode %04o, owner uid %d) in a world-writable folder; it was written by %s", p, st.Mode.Perm(), st.UID, c.layerName(st.Layer)), c.loc(st.Layer, p)))
	}
	return out
}

// baseEnd matches the history entries a base image ends with.
var baseEnd = lazyre.New(`(^|#\(nop\)\s+)(CMD|ENTRYPOINT)\b`)

// ownLayers returns the index of the image's first own layer: the layers
// after the last empty-layer CMD or ENTRYPOINT history entry that more
// layers follow (a base image ends with one, e.g. CMD ["bash"]). ok is
// false when the history shows no such boundary (an image built FROM
// scratch, or without history): the split is unknown.
func (c *checker) ownLayers() (start int, ok bool) {
	if c.in.Config == nil {
		return 0, false
	}
	layer, candidate := 0, -1
	for _, h := range c.in.Config.History {
		if !h.EmptyLayer {
			layer++
			if candidate >= 0 {
				start, ok = candidate, true
			}
			continue
		}
		if baseEnd().MatchString(strings.TrimSpace(h.CreatedBy)) {
			candidate = layer
		}
	}
	if ok && start >= len(c.im.Layers) {
		return 0, false
	}
	return start, ok
}

// ownSetuid is KS-HI-003: setuid/setgid files in the final filesystem
// that did not exist before the image's own layers.
func (c *checker) ownSetuid() []finding.Finding {
	start, ok := c.ownLayers()
	if !ok {
		return nil
	}
	r := rules.MustLookup("KS-HI-003")
	var out []finding.Finding
	for p, st := range c.im.Files() {
		if st.Type != layerfs.TypeFile || st.Mode&(fs.ModeSetuid|fs.ModeSetgid) == 0 || st.Layer < start {
			continue
		}
		if h := c.im.History(p); len(h) > 0 && int(h[0].Layer) < start {
			continue // the base had the path; KS-IM-006 reports its bits
		}
		bits := "setuid"
		if st.Mode&fs.ModeSetuid == 0 {
			bits = "setgid"
		} else if st.Mode&fs.ModeSetgid != 0 {
			bits = "setuid+setgid"
		}
		f := r.NewFinding(fmt.Sprintf("%s is %s (owner uid %d) and was added by %s, one of the image's own layers (the base image ends at layer %d)", p, bits, st.UID, c.layerName(st.Layer), start-1), c.loc(st.Layer, p))
		f.Fix = fmt.Sprintf("Remove the bit in the Dockerfile (`RUN chmod a-s %s`) or the package that installs it.", p)
		out = append(out, f)
	}
	return out
}

// knownBadFiles is KS-HI-004: listed names in the final filesystem, and
// listed digests in any layer.
func (c *checker) knownBadFiles() []finding.Finding {
	r := rules.MustLookup("KS-HI-004")
	var out []finding.Finding
	for p, st := range c.im.Files() {
		if st.Type != layerfs.TypeFile {
			continue
		}
		if bf, ok := shippedBad.names[strings.ToLower(path.Base(p))]; ok {
			f := r.NewFinding(fmt.Sprintf("%s is named like %s (written by %s)", p, bf.What, c.layerName(st.Layer)), c.loc(st.Layer, p))
			f.References = []string{bf.Source}
			out = append(out, f)
		}
	}
	for i, l := range c.im.Layers {
		for _, p := range sortedKeys(l.Digests) {
			bf, ok := shippedBad.digests[l.Digests[p]]
			if !ok {
				continue
			}
			msg := fmt.Sprintf("%s in %s has the SHA-256 of %s (sha256:%s)", p, c.layerName(i), bf.What, l.Digests[p])
			if ft := c.fateOf(p, i); ft.gone {
				msg += fmt.Sprintf("; %s by %s, it still ships in %s", ft.verb, c.layerName(ft.by), c.layerName(i))
			}
			f := r.NewFinding(msg, c.loc(i, p))
			f.References = []string{bf.Source}
			out = append(out, f)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// runShells run a script given on stdin or with -c; interpreters run
// code given with -c / -e or on stdin.
var (
	runShells    = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "busybox": true}
	interpreters = map[string]bool{"python": true, "python2": true, "python3": true, "perl": true, "ruby": true, "node": true, "php": true}
	fetchers     = map[string]bool{"curl": true, "wget": true, "fetch": true, "aria2c": true}
	// netCode is interpreter code that fetches from the network.
	netCode = lazyre.New(`urllib|urlopen|requests\.get|http\.client|LWP::|Net::HTTP|open-uri|https?://|fetch\(|file_get_contents\(`)
	// runsCode is interpreter code that executes what it has.
	runsCode = lazyre.New(`\bexec\b|\beval\b|os\.system|subprocess|\bsystem\(|child_process|\bspawn\b|` + "`")
)

// fetchAndRun is KS-HI-005: the config's ENTRYPOINT + CMD, read as the
// shell command it runs, fetches code and runs it.
func (c *checker) fetchAndRun() []finding.Finding {
	if c.in.Config == nil {
		return nil
	}
	argv := append(slices.Clone(c.in.Config.Config.Entrypoint), c.in.Config.Config.Cmd...)
	if len(argv) == 0 {
		return nil
	}
	why := fetchRunReason(argv)
	if why == "" {
		return nil
	}
	r := rules.MustLookup("KS-HI-005")
	what := "ENTRYPOINT"
	if len(c.in.Config.Config.Entrypoint) == 0 {
		what = "CMD"
	}
	loc := finding.Location{}
	if h := c.lastHist(what); h != nil {
		loc.Step = h.redacted
	}
	return []finding.Finding{r.NewFinding(fmt.Sprintf("%s %s: %s", what, RedactStep(shellQuote(argv)), why), loc)}
}

// lastHist returns the last history entry of an instruction (CMD,
// ENTRYPOINT), or nil.
func (c *checker) lastHist(instr string) *histEntry {
	re := regexp.MustCompile(`(^|#\(nop\)\s+)` + instr + `\b`)
	for i := len(c.hist) - 1; i >= 0; i-- {
		if re.MatchString(strings.TrimSpace(c.hist[i].createdBy)) {
			return &c.hist[i]
		}
	}
	return nil
}

// fetchRunReason says how argv downloads and runs code, or "".
func fetchRunReason(argv []string) string {
	text := shellQuote(argv)
	if n := dockerfile.Basename(argv[0]); runShells[n] {
		for i := 1; i < len(argv)-1; i++ {
			if argv[i] == "-c" || (strings.HasPrefix(argv[i], "-") && strings.HasSuffix(argv[i], "c") && !strings.HasPrefix(argv[i], "--")) {
				text = argv[i+1]
				break
			}
		}
	}
	f, err := dockerfile.Parse("ENTRYPOINT", []byte("FROM scratch\nRUN "+strings.ReplaceAll(text, "\n", " ")+"\n"))
	if err != nil || len(f.Stages) == 0 || len(f.Stages[0].Instructions) == 0 || f.Stages[0].Instructions[0].Script == nil {
		return ""
	}
	cmds := f.Stages[0].Instructions[0].Script.Commands
	for i := range cmds {
		name, args := cmds[i].Program()
		if interpreters[strings.TrimRight(name, "0123456789.")] || interpreters[name] {
			for j, a := range args {
				if (a == "-c" || a == "-e" || a == "-r") && j+1 < len(args) && netCode().MatchString(args[j+1]) && runsCode().MatchString(args[j+1]) {
					return fmt.Sprintf("`%s %s` fetches code from the network and runs it", name, a)
				}
			}
		}
		if !fetchers[name] {
			continue
		}
		for j := i + 1; j < len(cmds); j++ {
			if cmds[j].Pipeline == cmds[i].Pipeline && cmds[j].Parent == cmds[i].Parent && cmds[j].PipeIndex > cmds[i].PipeIndex {
				if n, a := cmds[j].Program(); runShells[n] || interpreters[strings.TrimRight(n, "0123456789.")] {
					if !slices.Contains(a, "-c") {
						return fmt.Sprintf("the output of `%s` is piped into `%s` at every start", name, n)
					}
				}
			}
		}
		if cmds[i].Subst && cmds[i].Parent >= 0 {
			if n, _ := cmds[cmds[i].Parent].Program(); runShells[n] || interpreters[strings.TrimRight(n, "0123456789.")] || n == "eval" || n == "source" || n == "." {
				return fmt.Sprintf("`%s` runs the output of `%s` at every start", n, name)
			}
		}
		// curl -o FILE URL && chmod +x FILE && FILE
		if out := outputFile(name, args); out != "" {
			for j := i + 1; j < len(cmds); j++ {
				n, a := cmds[j].Program()
				prog := ""
				if len(cmds[j].Unwrapped()) > 0 {
					prog = cmds[j].Unwrapped()[0]
				}
				if samePath(prog, out) || ((runShells[n] || interpreters[strings.TrimRight(n, "0123456789.")]) && len(a) > 0 && samePath(a[len(a)-1], out)) {
					return fmt.Sprintf("`%s` downloads %s and a later command runs it at every start", name, out)
				}
			}
		}
	}
	return ""
}

// outputFile returns the file a fetcher writes (-o/-O FILE), or "".
func outputFile(name string, args []string) string {
	short := func(a string, letter byte) bool { // -o, -so, -sSLo
		return len(a) >= 2 && a[0] == '-' && a[1] != '-' && a[len(a)-1] == letter
	}
	for j := 0; j+1 < len(args); j++ {
		a := args[j]
		if (name == "curl" && (short(a, 'o') || a == "--output")) || (name == "wget" && (short(a, 'O') || a == "--output-document")) {
			if args[j+1] != "-" {
				return args[j+1]
			}
		}
	}
	return ""
}

func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return path.Clean(a) == path.Clean(b) || path.Clean("./"+a) == path.Clean("./"+b)
}

// shellQuote joins argv into one shell command line.
func shellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~{}") {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// metadataOnly are instructions that never change the filesystem: a
// history entry for one that is not marked empty_layer is out of step with
// the layers. (WORKDIR is not here: BuildKit gives it a layer when it
// creates the folder.)
var metadataOnly = lazyre.New(`^(/bin/sh -c #\(nop\)\s+)?(ENV|LABEL|CMD|ENTRYPOINT|EXPOSE|USER|ARG|STOPSIGNAL|HEALTHCHECK|SHELL|MAINTAINER|ONBUILD)\b`)

// historyMismatch is KS-HI-006.
func (c *checker) historyMismatch() []finding.Finding {
	if c.in.Config == nil || len(c.in.Config.History) == 0 {
		return nil
	}
	r := rules.MustLookup("KS-HI-006")
	var out []finding.Finding
	nonEmpty := 0
	var odd []string
	for i, h := range c.in.Config.History {
		if h.EmptyLayer {
			continue
		}
		nonEmpty++
		if m := metadataOnly().FindStringSubmatch(strings.TrimSpace(h.CreatedBy)); m != nil {
			odd = append(odd, fmt.Sprintf("step %d (%s)", i+1, m[2]))
		}
	}
	if n := len(c.im.Layers); nonEmpty != n {
		out = append(out, r.NewFinding(fmt.Sprintf("the history lists %d steps that made a layer, but the image has %d layers: layers were added or removed after the build, or the history was rewritten", nonEmpty, n), finding.Location{}))
	}
	if len(odd) > 0 {
		out = append(out, r.NewFinding(fmt.Sprintf("history entries for instructions that never change the filesystem are not marked empty_layer: %s; the history is out of step with the layers", strings.Join(odd, ", ")), finding.Location{}))
	}
	return out
}
