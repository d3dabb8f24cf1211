package harden

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/manifest"
	rtrules "github.com/kensa-sec/kensa/internal/rules/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// memFS is an in-memory merged filesystem (path → node, plus contents).
type memFS struct {
	nodes map[string]Node
	files map[string][]byte
}

func (m memFS) Stat(p string) (Node, bool)       { n, ok := m.nodes[p]; return n, ok }
func (m memFS) ReadFile(p string) ([]byte, bool) { b, ok := m.files[p]; return b, ok }
func (m memFS) Walk(fn func(string, Node) bool) {
	ps := make([]string, 0, len(m.nodes))
	for p := range m.nodes {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	for _, p := range ps {
		if !fn(p, m.nodes[p]) {
			return
		}
	}
}

// newFS builds a memFS: "d /path uid" for folders, "f /path uid" for
// files, "l /path target" for symlinks.
func newFS(spec string, files map[string]string) memFS {
	m := memFS{nodes: map[string]Node{"/": {Dir: true, Mode: 0o755}}, files: map[string][]byte{}}
	for _, line := range strings.Split(strings.TrimSpace(spec), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n := Node{Mode: 0o755}
		switch f[0] {
		case "d":
			n.Dir = true
		case "l":
			n.Symlink, n.Linkname = true, f[2]
		}
		if len(f) == 3 && f[0] != "l" {
			var uid int
			for _, c := range f[2] {
				uid = uid*10 + int(c-'0')
			}
			n.UID, n.GID = uid, uid
		}
		m.nodes[f[1]] = n
	}
	for p, c := range files {
		m.files[p] = []byte(c)
		if _, ok := m.nodes[p]; !ok {
			m.nodes[p] = Node{Mode: 0o644}
		}
	}
	return m
}

const debianPasswd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"

func cfg(user string, ports []string, vols []string) *v1.ConfigFile {
	c := &v1.ConfigFile{}
	c.Config.User = user
	if len(ports) > 0 {
		c.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			c.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if len(vols) > 0 {
		c.Config.Volumes = map[string]struct{}{}
		for _, v := range vols {
			c.Config.Volumes[v] = struct{}{}
		}
	}
	return c
}

// TestDerive covers the user, writable-path and capability derivations.
func TestDerive(t *testing.T) {
	nginxFS := newFS(`
d /etc
d /etc/nginx
d /run
l /var/run /run
d /tmp
d /var
d /var/lib
d /var/lib/nginx
d /var/lib/nginx/body
d /var/log
d /var/log/nginx
d /usr/share/nginx/html
f /usr/share/nginx/html/index.html
`, map[string]string{"/etc/passwd": debianPasswd})
	appFS := newFS(`
d /tmp
d /app 10001
f /app/server 10001
d /data 10001
d /home/app/.cache 10001
`, map[string]string{"/etc/passwd": debianPasswd + "app:x:10001:10001::/home/app:/bin/sh\n", "/etc/group": "app:x:10001:\nstaff:x:50:\n"})
	cases := []struct {
		name     string
		cfg      *v1.ConfigFile
		fs       memFS
		user     string
		writable []string
		caps     string
		notes    string
	}{
		{"nginx as root in config: package user, package paths, port 80", cfg("", []string{"80/tcp"}, nil), nginxFS,
			"33:33", []string{"/run", "/tmp", "/var/lib/nginx", "/var/log/nginx"}, "NET_BIND_SERVICE", ""},
		{"config user by name with group, owned empty dirs", cfg("app:staff", []string{"8080/tcp"}, []string{"/data"}), appFS,
			"10001:50", []string{"/data", "/home/app/.cache", "/tmp"}, "", "/app is owned by uid 10001 and holds 1 files"},
		{"numeric config user", cfg("10001", nil, nil), appFS, "10001:10001", []string{"/data", "/home/app/.cache", "/tmp"}, "", "/app is owned"},
		{"root config falls back to file owner", cfg("root", nil, nil), newFS("d /tmp\nd /srv 2000\nf /srv/app 2000\n", map[string]string{"/etc/passwd": debianPasswd}),
			"2000:2000", []string{"/tmp"}, "", "/srv is owned by uid 2000"},
		{"nothing: nobody", cfg("", []string{"443/tcp", "8443/udp"}, nil), newFS("d /tmp\n", map[string]string{"/etc/passwd": debianPasswd}),
			"65534:65534", []string{"/tmp"}, "NET_BIND_SERVICE", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Derive("app:1", c.cfg, c.fs)
			if err != nil {
				t.Fatal(err)
			}
			if p.User() != c.user {
				t.Errorf("user %s (%s), want %s", p.User(), p.UserWhy, c.user)
			}
			var ws []string
			for _, w := range p.Writable {
				ws = append(ws, w.Path)
			}
			if strings.Join(ws, " ") != strings.Join(c.writable, " ") {
				t.Errorf("writable %v, want %v", ws, c.writable)
			}
			if p.capNames() != c.caps {
				t.Errorf("caps %q, want %q", p.capNames(), c.caps)
			}
			if notes := strings.Join(p.Notes, "\n"); (c.notes == "") != (notes == "") || !strings.Contains(notes, c.notes) {
				t.Errorf("notes %q, want %q", notes, c.notes)
			}
		})
	}
}

// TestRenderGolden renders the nginx profile in every format
// (testdata/nginx.<format>; -update rewrites them).
func TestRenderGolden(t *testing.T) {
	p := &Profile{Image: "registry.example/web/nginx:1.27", UID: 101, GID: 101, UserName: "nginx", UserWhy: "/etc/passwd user nginx",
		Writable: []Writable{{"/run", "pid file"}, {"/tmp", "temporary files"}, {"/var/cache/nginx", "caches"}},
		CapAdd:   []Cap{{"NET_BIND_SERVICE", "EXPOSE 80 as uid 101"}}, Ports: []Port{{80, "tcp"}}}
	for _, f := range Formats {
		out, err := Render(p, f)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "nginx."+f)
		if *update {
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if out != string(want) {
			t.Errorf("%s differs from %s:\n%s", f, golden, out)
		}
	}
	if _, err := Render(p, "helm"); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestRenderedPassesRuntimeRules: what harden prints for compose, k8s and
// Cloud Run loads as a manifest and raises none of the hardening rules
// (only what the profile cannot change: the digest pin, probes, and the
// image's own port below 1024, for which it adds NET_BIND_SERVICE).
func TestRenderedPassesRuntimeRules(t *testing.T) {
	allowed := map[string]bool{"KS-RT-012": true, "KS-RT-018": true, "KS-RT-015": true}
	for _, f := range []string{"compose", "k8s", "cloudrun"} {
		golden := filepath.Join("testdata", "nginx."+f)
		c := rtrules.New(rtrules.Options{})
		st, err := manifest.LoadFile(context.Background(), golden, manifest.Options{}, func(w *manifest.Workload) error { c.Check(w); return nil })
		if err != nil || st.Objects != 1 {
			t.Fatalf("%s: %v, %+v", golden, err, st)
		}
		for _, fd := range c.Finish() {
			if !allowed[fd.ID] {
				t.Errorf("%s: %s %s", golden, fd.ID, fd.Message)
			}
		}
	}
}
