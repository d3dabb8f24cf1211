package image

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/bytesize"
	"github.com/kensa-sec/kensa/internal/lazyre"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/kensa-sec/kensa/internal/secret"
)

// fate says what happened to a path a layer wrote: still in the final
// filesystem as that layer wrote it, or deleted/replaced by a later layer.
type fate struct {
	gone     bool
	by       int    // layer that deleted or replaced it
	replaced bool   // replaced (overwritten) rather than deleted
	verb     string // "deleted" or "replaced"
}

func (c *checker) fateOf(p string, layer int) fate {
	hist := c.im.History(p)
	for i, ch := range hist {
		if int(ch.Layer) != layer || ch.Kind == layerfs.Deleted {
			continue
		}
		// The last change by this layer decides; look at the next one.
		if i+1 < len(hist) && int(hist[i+1].Layer) != layer {
			next := hist[i+1]
			if next.Kind == layerfs.Deleted {
				return fate{gone: true, by: int(next.Layer), verb: "deleted"}
			}
			return fate{gone: true, by: int(next.Layer), replaced: true, verb: "replaced"}
		}
	}
	return fate{}
}

// layerFindings attributes the secret analyzer's per-layer findings to
// their layer and step. Identical findings written again by later layers
// (a chmod or chown rewrites the file) are one finding naming the first
// layer. A credential file (KS-IM-004) deleted or replaced by a later
// layer becomes KS-IM-005; a file with KS-SE-* secrets that a later layer
// deleted gets the KS-SE-* findings (with the deleting layer in Related)
// plus one KS-IM-005 for the file.
func (c *checker) layerFindings() []finding.Finding {
	type group struct {
		f      finding.Finding
		layers []int
	}
	var order []string
	groups := map[string]*group{}
	for i, l := range c.im.Layers {
		for _, f := range l.Findings {
			key := f.ID + "\x00" + f.Location.Path + "\x00" + itoa(f.Location.Line) + "\x00" + f.Message
			if g, ok := groups[key]; ok {
				g.layers = append(g.layers, i)
				continue
			}
			groups[key] = &group{f: f, layers: []int{i}}
			order = append(order, key)
		}
	}
	var out []finding.Finding
	type fileKey struct {
		path  string
		layer int
	}
	deletedSecrets := map[fileKey][]string{}
	var deletedOrder []fileKey
	credFile := map[fileKey]bool{}
	for _, k := range order {
		g := groups[k]
		f := g.f
		first, last := g.layers[0], g.layers[len(g.layers)-1]
		p := f.Location.Path
		loc := c.loc(first, p)
		loc.Line, loc.EndLine = f.Location.Line, f.Location.EndLine
		f.Location = loc
		if len(g.layers) > 1 {
			f.Message += fmt.Sprintf(" (written again by %d later layers)", len(g.layers)-1)
		}
		ft := c.fateOf(p, last)
		if p != "" && ft.gone {
			rel := c.loc(ft.by, p)
			f.Related = append(f.Related, rel)
			switch {
			case f.ID == secret.CredentialFileRule:
				r := rules.MustLookup("KS-IM-005")
				msg := strings.TrimPrefix(f.Message, "credential file ")
				f.ID, f.Title, f.Severity, f.Fix = r.ID, r.Title, r.Severity, r.Fix
				f.Message = fmt.Sprintf("credential file %s was added by %s and %s by %s, but is still in %s", msg, c.layerName(first), ft.verb, c.layerName(ft.by), c.layerName(first))
				credFile[fileKey{p, first}] = true
			default:
				f.Message += fmt.Sprintf("; the file was %s by %s but the secret is still in %s", ft.verb, c.layerName(ft.by), c.layerName(first))
				fk := fileKey{p, first}
				if _, ok := deletedSecrets[fk]; !ok {
					deletedOrder = append(deletedOrder, fk)
				}
				deletedSecrets[fk] = append(deletedSecrets[fk], f.Title)
			}
		}
		out = append(out, f)
	}
	r := rules.MustLookup("KS-IM-005")
	for _, fk := range deletedOrder {
		if credFile[fk] {
			continue // already a KS-IM-005 for this file
		}
		ft := c.fateOf(fk.path, fk.layer)
		f := r.NewFinding(fmt.Sprintf("%s holds %s; it was added by %s and %s by %s, but is still in %s",
			fk.path, uniqueJoin(deletedSecrets[fk]), c.layerName(fk.layer), ft.verb, c.layerName(ft.by), c.layerName(fk.layer)), c.loc(fk.layer, fk.path))
		f.Related = []finding.Location{c.loc(ft.by, fk.path)}
		out = append(out, f)
	}
	return out
}

func uniqueJoin(ss []string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// stockSetuid are setuid/setgid programs every distribution base ships
// (shadow, util-linux, openssh-client, bsdutils...). They are reported as
// one LOW finding per layer listing them, so a stock Debian or Ubuntu
// base yields one finding instead of a dozen; anything else is one MEDIUM
// finding per file.
var stockSetuid = map[string]bool{
	"passwd": true, "su": true, "mount": true, "umount": true, "chsh": true, "chfn": true,
	"gpasswd": true, "newgrp": true, "chage": true, "expiry": true, "unix_chkpwd": true,
	"wall": true, "write": true, "bsd-write": true, "ssh-keysign": true, "ssh-agent": true,
	"dotlockfile": true, "crontab": true, "pam_extrausers_chkpwd": true, "ping": true,
}

// setuid is KS-IM-006.
func (c *checker) setuid() []finding.Finding {
	r := rules.MustLookup("KS-IM-006")
	var out []finding.Finding
	stock := map[int][]string{}
	for p, st := range c.im.Files() {
		if st.Type != layerfs.TypeFile || st.Mode&(fs.ModeSetuid|fs.ModeSetgid) == 0 {
			continue
		}
		bits := "setuid"
		switch {
		case st.Mode&fs.ModeSetuid != 0 && st.Mode&fs.ModeSetgid != 0:
			bits = "setuid+setgid"
		case st.Mode&fs.ModeSetgid != 0:
			bits = "setgid"
		}
		if stockSetuid[path.Base(p)] {
			stock[st.Layer] = append(stock[st.Layer], p+" ("+bits+")")
			continue
		}
		f := r.NewFinding(fmt.Sprintf("%s is %s (owner uid %d)", p, bits, st.UID), c.loc(st.Layer, p))
		f.Fix = fmt.Sprintf("Remove the bit in the Dockerfile: `RUN chmod a-s %s` (or remove the package that installs it).", p)
		out = append(out, f)
	}
	layers := make([]int, 0, len(stock))
	for l := range stock {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	for _, l := range layers {
		ps := stock[l]
		first, _, _ := strings.Cut(ps[0], " ")
		f := r.NewFinding(fmt.Sprintf("%d stock setuid/setgid programs of the base system: %s", len(ps), strings.Join(ps, ", ")), c.loc(l, first))
		f.Severity = finding.SeverityLow
		f.Fix = "If the app never switches users, strip the bits in the final stage: `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`, or use a distroless base."
		out = append(out, f)
	}
	return out
}

// worldWritable is KS-IM-007: files and folders writable by others, except
// folders with the sticky bit (/tmp) and symlinks (whose mode means
// nothing). Paths below a reported folder are counted in its finding.
func (c *checker) worldWritable() []finding.Finding {
	r := rules.MustLookup("KS-IM-007")
	var out []finding.Finding
	var reported []string
	counts := map[int]int{}
	for p, st := range c.im.Files() {
		if st.Type == layerfs.TypeSymlink || st.Type == layerfs.TypeOther || st.Mode.Perm()&0o002 == 0 {
			continue
		}
		if st.Type == layerfs.TypeDir && st.Mode&fs.ModeSticky != 0 {
			continue
		}
		if n := len(reported); n > 0 && strings.HasPrefix(p, strings.TrimSuffix(reported[n-1], "/")+"/") {
			counts[n-1]++
			continue
		}
		reported = append(reported, p)
		kind := "file"
		if st.Type == layerfs.TypeDir {
			kind = "folder"
		}
		f := r.NewFinding(fmt.Sprintf("%s %s is world-writable (mode %04o)", kind, p, st.Mode.Perm()), c.loc(st.Layer, p))
		f.Fix = fmt.Sprintf("In the Dockerfile, `RUN chmod o-w %s` (or `chmod +t` for a shared folder), or `COPY --chown=<user>` so only the app user can write it.", p)
		out = append(out, f)
	}
	for i, n := range counts {
		out[i].Message += fmt.Sprintf(", and %d world-writable paths below it", n)
	}
	return out
}

// cacheSpec names a package-manager cache location.
type cacheSpec struct {
	name string
	re   func() *regexp.Regexp // matches files inside the cache
	root string                // shown in messages
	fix  string
}

var cacheSpecs = []cacheSpec{
	{"apt package lists", lazyre.New(`^/var/lib/apt/lists/[^/]+$`), "/var/lib/apt/lists", "End the RUN that runs `apt-get update` with `&& rm -rf /var/lib/apt/lists/*`."},
	{"apt package cache", lazyre.New(`^/var/cache/apt/(?:[^/]+\.bin|archives/[^/]+\.deb)$`), "/var/cache/apt", "Run `apt-get clean` (or `rm -rf /var/cache/apt/*`) in the same RUN as the install."},
	{"apk cache", lazyre.New(`^/var/cache/apk/.+`), "/var/cache/apk", "Use `apk add --no-cache`."},
	{"pip cache", lazyre.New(`^/(?:root|home/[^/]+)/\.cache/pip/.+`), "~/.cache/pip", "Use `pip install --no-cache-dir` (or set PIP_NO_CACHE_DIR=1)."},
	{"npm cache", lazyre.New(`^/(?:root|home/[^/]+)/\.npm/.+`), "~/.npm", "Run `npm cache clean --force` in the same RUN as `npm ci`, or use `--mount=type=cache,target=/root/.npm`."},
	{"yarn cache", lazyre.New(`^/(?:usr/local/share|root|home/[^/]+)/\.(?:cache/yarn|yarn/berry/cache)/.+`), "yarn cache", "Run `yarn cache clean` in the same RUN as `yarn install`, or use a cache mount."},
	{"yum/dnf cache", lazyre.New(`^/var/cache/(?:yum|dnf)/.+`), "/var/cache/yum|dnf", "End the RUN with `yum clean all && rm -rf /var/cache/yum` (dnf: `dnf clean all`)."},
	{"Go build cache", lazyre.New(`^/(?:root|home/[^/]+)/\.cache/go-build/.+`), "~/.cache/go-build", "Build in a builder stage or use `--mount=type=cache,target=/root/.cache/go-build`."},
}

// cacheRoots are the folders every cacheSpecs expression starts in: a
// path outside them skips the expressions (an image has thousands of
// files, and this runs on every cold scan).
var cacheRoots = []string{"/var/lib/apt/lists/", "/var/cache/", "/root/", "/home/", "/usr/local/share/"}

func mayBeCache(p string) bool {
	for _, r := range cacheRoots {
		if strings.HasPrefix(p, r) {
			return true
		}
	}
	return false
}

// caches is KS-IM-009: package-manager caches with bytes in the final
// filesystem, one finding per cache naming its bytes and the layer that
// wrote most of them.
func (c *checker) caches() []finding.Finding {
	type acc struct {
		bytes, files int64
		perLayer     map[int]int64
		root         string
	}
	accs := make([]acc, len(cacheSpecs))
	for p, st := range c.im.Files() {
		if st.Type != layerfs.TypeFile || st.Size <= 0 || !mayBeCache(p) {
			continue
		}
		for i, cs := range cacheSpecs {
			if !cs.re().MatchString(p) {
				continue
			}
			a := &accs[i]
			if a.perLayer == nil {
				a.perLayer = map[int]int64{}
				a.root = cacheRoot(p, cs)
			}
			a.bytes += st.Size
			a.files++
			a.perLayer[st.Layer] += st.Size
			break
		}
	}
	r := rules.MustLookup("KS-IM-009")
	var out []finding.Finding
	for i, a := range accs {
		if a.bytes == 0 {
			continue
		}
		top, topBytes := -1, int64(-1)
		for l, b := range a.perLayer {
			if b > topBytes || b == topBytes && l < top {
				top, topBytes = l, b
			}
		}
		f := r.NewFinding(fmt.Sprintf("%s left in the image: %s in %d files under %s, %s of it written by %s",
			cacheSpecs[i].name, bytesize.Format(a.bytes), a.files, a.root, bytesize.Format(topBytes), c.layerName(top)), c.loc(top, a.root))
		f.Fix = cacheSpecs[i].fix
		out = append(out, f)
	}
	return out
}

// cacheRoot returns the cache folder of a file for messages: the spec's
// root with ~ replaced by the home folder the file is in.
func cacheRoot(p string, cs cacheSpec) string {
	if !strings.HasPrefix(cs.root, "~") {
		return cs.root
	}
	parts := strings.Split(p, "/")
	home := "/root"
	if len(parts) > 2 && parts[1] == "home" {
		home = "/home/" + parts[2]
	}
	return home + strings.TrimPrefix(cs.root, "~")
}

var (
	shellNames = []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"}
	pkgMgrs    = []string{"apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "tdnf", "rpm", "zypper"}
	binDirs    = []string{"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"}
)

// shells is KS-IM-010: one INFO finding listing the shells and package
// managers present.
func (c *checker) shells() []finding.Finding {
	var found []string
	firstLayer, firstPath := -1, ""
	for _, group := range [][]string{shellNames, pkgMgrs} {
		for _, n := range group {
			for _, d := range binDirs {
				p := d + "/" + n
				st, ok := c.im.File(p)
				if !ok || st.Type == layerfs.TypeDir || st.Type == layerfs.TypeOther {
					continue
				}
				found = append(found, p)
				if firstPath == "" {
					firstLayer, firstPath = st.Layer, p
				}
				break
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	f := rules.MustLookup("KS-IM-010").NewFinding("shell or package manager present: "+strings.Join(found, ", "), c.loc(firstLayer, firstPath))
	return []finding.Finding{f}
}

// waste is KS-IM-012: per layer, bytes that later layers delete or
// overwrite, above the threshold, naming the biggest wasted paths.
func (c *checker) waste() []finding.Finding {
	perLayer, _ := c.im.Waste()
	type wasted struct {
		path string
		size int64
		by   int
		verb string
	}
	items := map[int][]wasted{}
	for p, hist := range c.im.Histories() {
		for i, ch := range hist {
			if ch.Kind == layerfs.Deleted || ch.Size == 0 || i == len(hist)-1 || perLayer[ch.Layer] < c.in.WasteMinBytes {
				continue
			}
			verb := "overwritten"
			if hist[i+1].Kind == layerfs.Deleted {
				verb = "deleted"
			}
			items[int(ch.Layer)] = append(items[int(ch.Layer)], wasted{p, ch.Size, int(hist[i+1].Layer), verb})
		}
	}
	r := rules.MustLookup("KS-IM-012")
	var out []finding.Finding
	for l, w := range perLayer {
		if w < c.in.WasteMinBytes {
			continue
		}
		its := items[l]
		sort.Slice(its, func(i, j int) bool {
			if its[i].size != its[j].size {
				return its[i].size > its[j].size
			}
			return its[i].path < its[j].path
		})
		var top []string
		for _, it := range its[:min(3, len(its))] {
			top = append(top, fmt.Sprintf("%s %s (%s by layer %d)", it.path, bytesize.Format(it.size), it.verb, it.by))
		}
		p := ""
		if len(its) > 0 {
			p = its[0].path
		}
		f := r.NewFinding(fmt.Sprintf("%s ships %s that later layers delete or overwrite; biggest: %s", c.layerName(l), bytesize.Format(w), strings.Join(top, ", ")), c.loc(l, p))
		out = append(out, f)
	}
	return out
}
