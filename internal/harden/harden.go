// Package harden derives, from an image's config and merged filesystem,
// the runtime settings that let it run locked down: a non-root uid:gid, a
// read-only root filesystem with tmpfs/emptyDir mounts only where the
// image needs to write, all capabilities dropped but the ones it proves it
// needs, no-new-privileges, the default seccomp profile and its ports. It
// renders them as compose, Kubernetes, docker run or Cloud Run settings.
package harden

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Node is one path of the image's final filesystem.
type Node struct {
	Dir, Symlink bool
	Linkname     string
	UID, GID     int
	Mode         fs.FileMode
}

// FS is the merged filesystem view a profile is derived from.
type FS interface {
	// Stat returns a path's final state.
	Stat(p string) (Node, bool)
	// ReadFile returns a small file's content (/etc/passwd, /etc/group).
	ReadFile(p string) ([]byte, bool)
	// Walk calls fn for every path in path order until it returns false.
	Walk(fn func(p string, n Node) bool)
}

// Writable is a path the container must be able to write.
type Writable struct {
	Path string
	Why  string
}

// Cap is a capability the image needs, and why.
type Cap struct {
	Name string
	Why  string
}

// Port is a port the image exposes.
type Port struct {
	Port  int
	Proto string // "tcp" or "udp"
}

// Profile is the hardened runtime profile of one image.
type Profile struct {
	Image string
	// UID and GID the container should run as; UserName is the passwd
	// name when known and UserWhy says where the ids come from.
	UID, GID int
	UserName string
	UserWhy  string
	// FromConfig is true when the image's config User already runs it as
	// UID (non-root): a runtime that sets no user is not root.
	FromConfig bool
	// Writable are the tmpfs / emptyDir mounts the read-only root needs.
	Writable []Writable
	// CapAdd are the capabilities added back after dropping ALL.
	CapAdd []Cap
	Ports  []Port
	// Notes are things the profile cannot settle (an app dir holding files
	// that the runtime user owns: a volume, not a tmpfs).
	Notes []string
}

// User returns "uid:gid".
func (p *Profile) User() string { return fmt.Sprintf("%d:%d", p.UID, p.GID) }

// passwdEntry is one /etc/passwd line.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
	shell    string
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]})
	}
	return out
}

func parseGroup(b []byte) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		if gid, err := strconv.Atoi(f[2]); err == nil {
			out[f[0]] = gid
		}
	}
	return out
}

// knownServiceUsers are the users packages create to run their daemon,
// in preference order, with the path that shows the package is there.
var knownServiceUsers = []struct{ user, marker string }{
	{"nginx", "/etc/nginx"}, {"www-data", "/etc/nginx"}, {"www-data", "/etc/apache2"},
	{"postgres", "/usr/lib/postgresql"}, {"redis", "/etc/redis"}, {"mysql", "/etc/mysql"},
	{"node", "/usr/local/bin/node"}, {"nonroot", "/"},
}

// knownWritable are paths packages write at run time (pid files, caches,
// logs, temp bodies), with the marker path that shows the package.
var knownWritable = []struct{ marker, path, why string }{
	{"/etc/nginx", "/var/cache/nginx", "nginx proxy and fastcgi caches"},
	{"/etc/nginx", "/var/lib/nginx", "nginx client-body and proxy temp files (Debian)"},
	{"/etc/nginx", "/var/log/nginx", "nginx access and error logs"},
	{"/etc/nginx", "/run", "nginx pid file (/run/nginx.pid)"},
	{"/etc/apache2", "/var/run/apache2", "apache pid and sockets"},
	{"/etc/apache2", "/var/lock/apache2", "apache lock files"},
	{"/etc/apache2", "/var/log/apache2", "apache logs"},
	{"/usr/lib/postgresql", "/var/run/postgresql", "postgres sockets and pid"},
	{"/etc/redis", "/var/run/redis", "redis pid"},
}

// skipOwned are trees whose ownership says nothing about the app.
var skipOwned = []string{"/proc", "/sys", "/dev", "/etc", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/var/lib/dpkg", "/var/lib/apt", "/var/cache/apt", "/var/cache/debconf", "/var/lib/systemd"}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// Derive builds the profile of an image from its config and filesystem.
func Derive(image string, cfg *v1.ConfigFile, fsys FS) (*Profile, error) {
	if cfg == nil {
		return nil, fmt.Errorf("image %s: no config", image)
	}
	p := &Profile{Image: image}
	passwd := parsePasswd(readFile(fsys, "/etc/passwd"))
	groups := parseGroup(readFile(fsys, "/etc/group"))
	deriveUser(p, cfg.Config.User, passwd, groups, fsys)

	add := func(path, why string) {
		for _, w := range p.Writable {
			if under(path, w.Path) {
				return
			}
		}
		// A new parent replaces the children it covers.
		kept := p.Writable[:0]
		for _, w := range p.Writable {
			if !under(w.Path, path) {
				kept = append(kept, w)
			}
		}
		p.Writable = append(kept, Writable{Path: path, Why: why})
	}
	vols := make([]string, 0, len(cfg.Config.Volumes))
	for v := range cfg.Config.Volumes {
		vols = append(vols, path.Clean("/"+v))
	}
	sort.Strings(vols)
	for _, v := range vols {
		add(v, "declared VOLUME")
	}
	add("/tmp", "temporary files")
	for _, d := range []string{"/var/tmp", "/run", "/var/run"} {
		if n, ok := fsys.Stat(d); ok && n.Dir {
			add(d, "runtime state and temporary files")
		}
	}
	for _, k := range knownWritable {
		if _, ok := fsys.Stat(k.marker); !ok {
			continue
		}
		if n, ok := resolveDir(fsys, k.path); ok && n != "" {
			add(n, k.why)
		}
	}
	if p.UID != 0 {
		ownedDirs(p, fsys, add)
	}
	sort.Slice(p.Writable, func(i, j int) bool { return p.Writable[i].Path < p.Writable[j].Path })

	ports := make([]Port, 0, len(cfg.Config.ExposedPorts))
	for k := range cfg.Config.ExposedPorts {
		num, proto, _ := strings.Cut(k, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || n > 65535 {
			continue
		}
		if proto == "" {
			proto = "tcp"
		}
		ports = append(ports, Port{Port: n, Proto: proto})
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Port < ports[j].Port })
	p.Ports = ports
	for _, pt := range ports {
		if pt.Port < 1024 && p.UID != 0 {
			p.CapAdd = []Cap{{"NET_BIND_SERVICE", fmt.Sprintf("EXPOSE %d is below 1024 and the process runs as uid %d", pt.Port, p.UID)}}
			break
		}
	}
	return p, nil
}

func readFile(fsys FS, p string) []byte {
	b, _ := fsys.ReadFile(p)
	return b
}

// resolveDir follows a symlinked directory (/var/run -> /run) once.
func resolveDir(fsys FS, p string) (string, bool) {
	n, ok := fsys.Stat(p)
	if !ok {
		return "", false
	}
	if n.Symlink {
		t := n.Linkname
		if !strings.HasPrefix(t, "/") {
			t = path.Join(path.Dir(p), t)
		}
		n2, ok := fsys.Stat(t)
		if !ok || !n2.Dir {
			return "", false
		}
		return t, true
	}
	return p, n.Dir
}

// deriveUser picks the uid:gid to run as.
func deriveUser(p *Profile, user string, passwd []passwdEntry, groups map[string]int, fsys FS) {
	name, group, _ := strings.Cut(strings.TrimSpace(user), ":")
	byName := func(n string) (passwdEntry, bool) {
		for _, e := range passwd {
			if e.name == n {
				return e, true
			}
		}
		return passwdEntry{}, false
	}
	gidOf := func(def int) int {
		if group == "" {
			return def
		}
		if g, err := strconv.Atoi(group); err == nil {
			return g
		}
		if g, ok := groups[group]; ok {
			return g
		}
		return def
	}
	if name != "" && name != "root" && name != "0" {
		if uid, err := strconv.Atoi(name); err == nil {
			gid := uid
			for _, e := range passwd {
				if e.uid == uid {
					gid, p.UserName = e.gid, e.name
					break
				}
			}
			p.UID, p.GID, p.UserWhy, p.FromConfig = uid, gidOf(gid), fmt.Sprintf("the image config's User %q", user), true
			return
		}
		if e, ok := byName(name); ok {
			p.UID, p.GID, p.UserName, p.UserWhy = e.uid, gidOf(e.gid), e.name, fmt.Sprintf("the image config's User %q (/etc/passwd)", user)
			p.FromConfig = true
			return
		}
		p.Notes = append(p.Notes, fmt.Sprintf("the image config's User %q is not in /etc/passwd", user))
	}
	for _, k := range knownServiceUsers {
		if _, ok := fsys.Stat(k.marker); !ok {
			continue
		}
		if e, ok := byName(k.user); ok && e.uid != 0 {
			p.UID, p.GID, p.UserName, p.UserWhy = e.uid, e.gid, e.name, fmt.Sprintf("/etc/passwd user %s, created by the package that owns %s", e.name, k.marker)
			return
		}
	}
	// The numeric owner of the app's files.
	owners := map[[2]int]int{}
	fsys.Walk(func(pth string, n Node) bool {
		if n.UID > 0 && !n.Symlink && !skipped(pth) && n.UID != 65534 {
			owners[[2]int{n.UID, n.GID}]++
		}
		return true
	})
	best, bestN := [2]int{}, 0
	for k, v := range owners {
		if v > bestN || (v == bestN && k[0] < best[0]) {
			best, bestN = k, v
		}
	}
	if bestN > 0 {
		p.UID, p.GID, p.UserWhy = best[0], best[1], fmt.Sprintf("the numeric owner of %d app files", bestN)
		for _, e := range passwd {
			if e.uid == best[0] {
				p.UserName = e.name
			}
		}
		return
	}
	for _, e := range passwd {
		if e.uid >= 1000 && e.uid < 65534 {
			p.UID, p.GID, p.UserName, p.UserWhy = e.uid, e.gid, e.name, "the first regular user of /etc/passwd"
			return
		}
	}
	p.UID, p.GID, p.UserName = 65534, 65534, "nobody"
	if e, ok := byName("nobody"); ok {
		p.GID = e.gid
	}
	p.UserWhy = "no non-root user in the image: nobody (files root owns stay readable, none writable)"
}

func skipped(p string) bool {
	for _, s := range skipOwned {
		if under(p, s) {
			return true
		}
	}
	return false
}

// ownedDirs adds the folders the runtime user owns (outside system trees)
// that hold no files in the image; owned folders with files are noted:
// a tmpfs would hide them, they need a volume.
func ownedDirs(p *Profile, fsys FS, add func(string, string)) {
	type dirInfo struct{ files int }
	owned := map[string]*dirInfo{}
	var order []string
	fsys.Walk(func(pth string, n Node) bool {
		if skipped(pth) || pth == "/" {
			return true
		}
		if n.Dir && n.UID == p.UID && n.Mode&0o200 != 0 {
			// Only the topmost owned folder.
			for _, o := range order {
				if under(pth, o) {
					return true
				}
			}
			owned[pth] = &dirInfo{}
			order = append(order, pth)
			return true
		}
		if !n.Dir {
			for _, o := range order {
				if under(pth, o) {
					owned[o].files++
				}
			}
		}
		return true
	})
	for _, d := range order {
		if owned[d].files == 0 {
			add(d, fmt.Sprintf("empty folder owned by uid %d: the app writes here", p.UID))
		} else if !under(d, "/tmp") && !under(d, "/run") && !under(d, "/var/run") {
			p.Notes = append(p.Notes, fmt.Sprintf("%s is owned by uid %d and holds %d files in the image: if the app writes there, mount a volume initialised from the image (a tmpfs would hide the files); else chown it to root", d, p.UID, owned[d].files))
		}
	}
}
