package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/secret"
)

// Fake credentials built for these tests; none is real.
const (
	fakeAWSKey  = "AKIAQ2RZ7XKPLMNB4V6W"
	fakeGHToken = "ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q"
	fakeNPM     = "npm_Q7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9b"
	fakePass    = "Vt7qLm2Xr9Zp4Kw"
)

func digest(i int) string { return "sha256:" + strings.Repeat(string(rune('a'+i)), 64) }

func fileE(p string, size int64, mode fs.FileMode) layerfs.Entry {
	return layerfs.Entry{Path: p, Type: layerfs.TypeFile, Mode: mode, Size: size}
}

func dirE(p string, mode fs.FileMode) layerfs.Entry {
	return layerfs.Entry{Path: p, Type: layerfs.TypeDir, Mode: fs.ModeDir | mode}
}

func whiteout(p string) layerfs.Entry { return layerfs.Entry{Path: p, Whiteout: true} }

// layerSpec describes one hand-made layer: entries plus file contents that
// the real secret and files analyzers see.
type layerSpec struct {
	entries  []layerfs.Entry
	contents map[string]string
}

// build runs the real analyzers over the contents and merges the layers.
func build(t *testing.T, specs ...layerSpec) *layerfs.Image {
	t.Helper()
	an := []layerfs.Analyzer{secret.Analyzer(secret.Options{}), FilesAnalyzer()}
	var layers []*layerfs.LayerFacts
	for i, s := range specs {
		lf := &layerfs.LayerFacts{Index: i, Digest: digest(i), DiffID: fmt.Sprintf("sha256:%064x", i)}
		es := append([]layerfs.Entry(nil), s.entries...)
		for p, c := range s.contents {
			e := fileE(p, int64(len(c)), 0o644)
			es = append(es, e)
			for _, a := range an {
				if a.Wants(p, e.Size, e.Mode) {
					if err := a.Analyze(context.Background(), &layerfs.File{Entry: e, Content: []byte(c), Layer: i}, lf); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		lf.Entries = layerfs.PackEntries(es)
		layers = append(layers, lf)
	}
	return layerfs.Merge(layers)
}

func cfg(mod func(*v1.ConfigFile)) *v1.ConfigFile {
	c := &v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}}
	if mod != nil {
		mod(c)
	}
	return c
}

var now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

type ruleCase struct {
	name string
	in   func(t *testing.T) Input
	want int    // findings of the rule
	msg  string // substring of the first finding's message, if set
}

func run(t *testing.T, id string, cases []ruleCase) {
	t.Helper()
	pos, neg := 0, 0
	for _, tc := range cases {
		t.Run(id+"/"+tc.name, func(t *testing.T) {
			in := tc.in(t)
			in.Now = now
			var got []finding.Finding
			for _, f := range Check(in) {
				if f.ID == id {
					got = append(got, f)
				}
			}
			if len(got) != tc.want {
				t.Fatalf("%d %s findings, want %d: %+v", len(got), id, tc.want, got)
			}
			if tc.msg != "" && !strings.Contains(got[0].Message, tc.msg) {
				t.Errorf("message %q lacks %q", got[0].Message, tc.msg)
			}
		})
		if tc.want > 0 {
			pos++
		} else {
			neg++
		}
	}
	if pos < 3 || neg < 3 {
		t.Errorf("%s: %d positive and %d negative cases, want at least 3 each", id, pos, neg)
	}
}

func img(t *testing.T, specs ...layerSpec) *layerfs.Image { return build(t, specs...) }

func empty(t *testing.T) *layerfs.Image {
	return build(t, layerSpec{entries: []layerfs.Entry{dirE("/etc", 0o755)}})
}

func TestRootUser(t *testing.T) {
	withUser := func(u string) func(*testing.T) Input {
		return func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/etc/passwd": "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"}}),
				Config: cfg(func(c *v1.ConfigFile) { c.Config.User = u })}
		}
	}
	run(t, "KS-IM-001", []ruleCase{
		{"empty", withUser(""), 1, "sets no user"},
		{"root", withUser("root"), 1, `"root"`},
		{"uid0-group0", withUser("0:0"), 1, ""},
		{"passwd-uid0", withUser("toor"), 1, "UID 0"},
		{"named", withUser("app"), 0, ""},
		{"uid-with-root-group", withUser("1000:0"), 0, ""},
		{"nobody", withUser("nobody"), 0, ""},
		{"rootfs", func(t *testing.T) Input { return Input{Image: empty(t)} }, 0, ""},
	})
}

func TestEnvSecrets(t *testing.T) {
	withEnv := func(env []string, labels map[string]string) func(*testing.T) Input {
		return func(t *testing.T) Input {
			return Input{Image: empty(t), Config: cfg(func(c *v1.ConfigFile) { c.Config.Env = env; c.Config.Labels = labels })}
		}
	}
	run(t, "KS-IM-002", []ruleCase{
		{"aws", withEnv([]string{"PATH=/usr/bin", "AWS_ACCESS_KEY_ID=" + fakeAWSKey}, nil), 1, "holds a credential (AWS access key ID AKIA"},
		{"password", withEnv([]string{"DB_PASSWORD=" + fakePass}, nil), 1, "DB_PASSWORD"},
		{"label", withEnv(nil, map[string]string{"deploy.token": fakeGHToken}), 1, "GitHub token"},
		{"path", withEnv([]string{"PATH=/usr/local/bin:/usr/bin"}, nil), 0, ""},
		{"gpg-key", withEnv([]string{"GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D"}, nil), 0, ""},
		{"password-file", withEnv([]string{"DB_PASSWORD_FILE=/run/secrets/db"}, nil), 0, ""},
		{"reference", withEnv([]string{"TOKEN=${TOKEN}"}, map[string]string{"org.opencontainers.image.source": "https://github.com/x/y"}), 0, ""},
	})
}

func TestHistorySecrets(t *testing.T) {
	withHist := func(env []string, steps ...string) func(*testing.T) Input {
		return func(t *testing.T) Input {
			c := cfg(func(c *v1.ConfigFile) { c.Config.Env = env })
			var specs []layerSpec
			for _, s := range steps {
				empty := strings.Contains(s, "ENV ") || strings.HasPrefix(s, "ARG ")
				c.History = append(c.History, v1.History{CreatedBy: s, EmptyLayer: empty})
				if !empty {
					specs = append(specs, layerSpec{entries: []layerfs.Entry{dirE("/x", 0o755)}})
				}
			}
			return Input{Image: img(t, specs...), Config: c}
		}
	}
	run(t, "KS-IM-003", []ruleCase{
		{"classic-arg", withHist(nil, "/bin/sh -c #(nop) ADD file:abc in /", "|1 NPM_TOKEN="+fakeNPM+" /bin/sh -c npm ci"), 1, "build argument NPM_TOKEN holds a credential (npm access token npm_"},
		{"buildkit-arg-repeated", withHist(nil, "RUN |1 GITHUB_TOKEN="+fakeGHToken+" /bin/sh -c git clone x # buildkit", "RUN |1 GITHUB_TOKEN="+fakeGHToken+" /bin/sh -c make # buildkit"), 1, "also recorded in 1 later steps"},
		{"arg-default", withHist(nil, "ADD rootfs /", "ARG API_PASSWORD="+fakePass), 1, "ARG API_PASSWORD"},
		{"url-in-run", withHist(nil, "/bin/sh -c git clone https://bot:"+fakePass+"@git.corp.io/app.git"), 1, "Password in a URL"},
		{"env-overridden-later", withHist([]string{"AWS_ACCESS_KEY_ID="}, "ADD x /", "ENV AWS_ACCESS_KEY_ID="+fakeAWSKey), 1, "ENV AWS_ACCESS_KEY_ID"},
		{"harmless-arg", withHist(nil, "|1 VERSION=1.2.3 /bin/sh -c make"), 0, ""},
		{"env-path", withHist([]string{"PATH=/usr/local/bin"}, "/bin/sh -c #(nop)  ENV PATH=/usr/local/bin"), 0, ""},
		{"env-in-config", withHist([]string{"AWS_ACCESS_KEY_ID=" + fakeAWSKey}, "ADD x /", "ENV AWS_ACCESS_KEY_ID="+fakeAWSKey), 0, ""},
		{"label-in-config", func(t *testing.T) Input {
			in := withHist(nil, "ADD x /", `LABEL "deploy.token"="`+fakeGHToken+`"`)(t)
			in.Config.Config.Labels = map[string]string{"deploy.token": fakeGHToken}
			return in
		}, 0, ""},
		{"reference", withHist(nil, "/bin/sh -c curl -H \"Authorization: token $TOKEN\" https://api"), 0, ""},
	})
}

// TestNothingLeaks checks that no field of any finding holds a secret,
// including the history step shown in locations.
func TestNothingLeaks(t *testing.T) {
	c := cfg(func(c *v1.ConfigFile) {
		c.Config.User = ""
		c.Config.Env = []string{"AWS_ACCESS_KEY_ID=" + fakeAWSKey}
		c.History = []v1.History{
			{CreatedBy: "ENV AWS_ACCESS_KEY_ID=" + fakeAWSKey, EmptyLayer: true},
			{CreatedBy: "COPY secrets.txt /etc/secrets.txt # buildkit"},
			{CreatedBy: "RUN |2 NPM_TOKEN=" + fakeNPM + " DB_PASSWORD=" + fakePass + " /bin/sh -c chmod 4755 /usr/bin/x # buildkit"},
			{CreatedBy: "RUN |1 NPM_TOKEN=" + fakeNPM + " /bin/sh -c rm /etc/secrets.txt # buildkit"},
		}
	})
	im := img(t,
		layerSpec{contents: map[string]string{"/etc/secrets.txt": "token=" + fakeGHToken + "\n"}},
		layerSpec{entries: []layerfs.Entry{fileE("/usr/bin/x", 10, fs.ModeSetuid|0o755)}},
		layerSpec{entries: []layerfs.Entry{whiteout("/etc/secrets.txt")}},
	)
	fs := Check(Input{Image: im, Config: c, Options: Options{Now: now}})
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fakeAWSKey, fakeNPM, fakePass, fakeGHToken} {
		if strings.Contains(string(b), s) {
			t.Errorf("findings contain secret %s:\n%s", s[:6], b)
		}
	}
	var setuid *finding.Finding
	for i := range fs {
		if fs[i].ID == "KS-IM-006" {
			setuid = &fs[i]
		}
	}
	if setuid == nil || !strings.Contains(setuid.Location.Step, "NPM_TOKEN=npm_") || setuid.Location.Layer != digest(1) || *setuid.Location.LayerIndex != 1 {
		t.Errorf("setuid finding not attributed to layer 1 with a redacted step: %+v", setuid)
	}
}

func TestRedactStep(t *testing.T) {
	for _, tc := range []struct{ in, keep string }{
		{"|1 TOKEN=" + fakeGHToken + " /bin/sh -c make", "|1 TOKEN=ghp_"},
		{"/bin/sh -c #(nop)  ENV DB_PASSWORD=\"" + fakePass + "\" X=1", `ENV DB_PASSWORD="Vt7`},
		{"ENV API_SECRET " + fakePass, "ENV API_SECRET Vt7"},
		{"RUN /bin/sh -c echo hello # buildkit", "RUN /bin/sh -c echo hello # buildkit"},
	} {
		got := RedactStep(tc.in)
		for _, s := range []string{fakeGHToken, fakePass} {
			if strings.Contains(got, s) {
				t.Errorf("RedactStep(%q) = %q still holds the secret", tc.in, got)
			}
		}
		if !strings.Contains(got, tc.keep) {
			t.Errorf("RedactStep(%q) = %q, want it to contain %q", tc.in, got, tc.keep)
		}
	}
}

func TestCredentialFiles(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + strings.Repeat("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n", 3) + "-----END OPENSSH PRIVATE KEY-----\n"
	keyLayer := layerSpec{contents: map[string]string{"/root/.ssh/id_rsa": key}}
	run(t, "KS-IM-004", []ruleCase{
		{"present", func(t *testing.T) Input { return Input{Image: img(t, keyLayer)} }, 1, "SSH private key"},
		{"present-after-unrelated-layer", func(t *testing.T) Input {
			return Input{Image: img(t, keyLayer, layerSpec{entries: []layerfs.Entry{whiteout("/tmp/x")}})}
		}, 1, ""},
		{"npmrc", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/app/.npmrc": "//registry.npmjs.org/:_authToken=" + fakeNPM + "\n"}})}
		}, 1, "npm"},
		{"deleted-is-005", func(t *testing.T) Input {
			return Input{Image: img(t, keyLayer, layerSpec{entries: []layerfs.Entry{whiteout("/root/.ssh/id_rsa")}})}
		}, 0, ""},
		{"public-key", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/root/.ssh/id_rsa.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me"}})}
		}, 0, ""},
		{"npmrc-without-token", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/app/.npmrc": "registry=https://registry.npmjs.org/\n"}})}
		}, 0, ""},
	})
	run(t, "KS-IM-005", []ruleCase{
		{"whiteout", func(t *testing.T) Input {
			return Input{Image: img(t, keyLayer, layerSpec{entries: []layerfs.Entry{whiteout("/root/.ssh/id_rsa")}})}
		}, 1, "added by layer 0 (sha256:aaaaaaaaaaaa) and deleted by layer 1 (sha256:bbbbbbbbbbbb), but is still in layer 0"},
		{"opaque-dir", func(t *testing.T) Input {
			return Input{Image: img(t, keyLayer, layerSpec{entries: []layerfs.Entry{{Path: "/root/.ssh", Type: layerfs.TypeDir, Mode: fs.ModeDir | 0o700, Opaque: true}}})}
		}, 1, "deleted by layer 1"},
		{"overwritten", func(t *testing.T) Input {
			return Input{Image: img(t, keyLayer, layerSpec{contents: map[string]string{"/root/.ssh/id_rsa": "gone\n"}})}
		}, 1, "replaced by layer 1"},
		{"content-secret-deleted", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/etc/secrets.txt": "aws_access_key_id=" + fakeAWSKey + "\n"}},
				layerSpec{entries: []layerfs.Entry{whiteout("/etc/secrets.txt")}})}
		}, 1, "/etc/secrets.txt holds AWS access key ID; it was added by layer 0"},
		{"present", func(t *testing.T) Input { return Input{Image: img(t, keyLayer)} }, 0, ""},
		{"deleted-non-secret", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/etc/motd": "hello\n"}}, layerSpec{entries: []layerfs.Entry{whiteout("/etc/motd")}})}
		}, 0, ""},
		{"content-secret-present", func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/etc/secrets.txt": "aws_access_key_id=" + fakeAWSKey + "\n"}})}
		}, 0, ""},
	})
}

// TestSecretAttribution checks the practice-notes leak: a secret copied in,
// deleted later, is reported with the adding and deleting layers.
func TestSecretAttribution(t *testing.T) {
	im := img(t,
		layerSpec{entries: []layerfs.Entry{dirE("/etc", 0o755)}},
		layerSpec{contents: map[string]string{"/etc/secrets.txt": "x=1\naws_access_key_id=" + fakeAWSKey + "\n"}},
		layerSpec{entries: []layerfs.Entry{whiteout("/etc/secrets.txt")}},
	)
	steps := []string{"ADD rootfs /", "COPY secrets.txt /etc/secrets.txt # buildkit", "RUN /bin/sh -c rm /etc/secrets.txt # buildkit"}
	var se []finding.Finding
	for _, f := range Check(Input{Image: im, Steps: steps, Options: Options{Now: now}}) {
		if f.ID == "KS-SE-aws-access-key-id" {
			se = append(se, f)
		}
	}
	if len(se) != 1 {
		t.Fatalf("want one KS-SE-aws-access-key-id finding, got %+v", se)
	}
	f := se[0]
	l := f.Location
	if l.Path != "/etc/secrets.txt" || l.Line != 2 || l.Layer != digest(1) || l.LayerIndex == nil || *l.LayerIndex != 1 || l.Step != steps[1] {
		t.Errorf("bad location %+v", l)
	}
	if len(f.Related) != 1 || f.Related[0].Layer != digest(2) || f.Related[0].Step != steps[2] {
		t.Errorf("related should name the deleting layer: %+v", f.Related)
	}
	if !strings.Contains(f.Message, "deleted by layer 2") {
		t.Errorf("message should name the deleting layer: %s", f.Message)
	}
}

func TestSecretRewrittenByLaterLayer(t *testing.T) {
	content := map[string]string{"/app/.env": "GITHUB_TOKEN=" + fakeGHToken + "\n"}
	im := img(t, layerSpec{contents: content}, layerSpec{contents: content})
	var got []finding.Finding
	for _, f := range Check(Input{Image: im, Options: Options{Now: now}}) {
		if f.Kind == finding.KindSecret {
			got = append(got, f)
		}
	}
	if len(got) != 1 || *got[0].Location.LayerIndex != 0 || !strings.Contains(got[0].Message, "written again by 1 later layers") {
		t.Errorf("want one finding in layer 0 noting the rewrite, got %+v", got)
	}
}

func TestSetuid(t *testing.T) {
	with := func(es ...layerfs.Entry) func(*testing.T) Input {
		return func(t *testing.T) Input { return Input{Image: img(t, layerSpec{entries: es})} }
	}
	run(t, "KS-IM-006", []ruleCase{
		{"sudo", with(fileE("/usr/bin/sudo", 100, fs.ModeSetuid|0o755)), 1, "/usr/bin/sudo is setuid"},
		{"setgid", with(fileE("/usr/local/bin/tool", 100, fs.ModeSetgid|0o755)), 1, "setgid"},
		{"stock-grouped", with(fileE("/usr/bin/passwd", 1, fs.ModeSetuid|0o755), fileE("/usr/bin/su", 1, fs.ModeSetuid|0o755), fileE("/usr/bin/chage", 1, fs.ModeSetgid|0o755), fileE("/usr/bin/mount", 1, fs.ModeSetuid|0o755)), 1, "4 stock setuid/setgid programs"},
		{"plain", with(fileE("/usr/bin/ls", 100, 0o755)), 0, ""},
		{"setgid-dir", with(layerfs.Entry{Path: "/var/mail", Type: layerfs.TypeDir, Mode: fs.ModeDir | fs.ModeSetgid | 0o2775}), 0, ""},
		{"sticky-file", with(fileE("/usr/bin/x", 1, fs.ModeSticky|0o755)), 0, ""},
	})
}

func TestWorldWritable(t *testing.T) {
	with := func(es ...layerfs.Entry) func(*testing.T) Input {
		return func(t *testing.T) Input { return Input{Image: img(t, layerSpec{entries: es})} }
	}
	run(t, "KS-IM-007", []ruleCase{
		{"dir", with(dirE("/app", 0o777)), 1, "folder /app is world-writable (mode 0777)"},
		{"file", with(fileE("/etc/app.conf", 10, 0o666)), 1, "file /etc/app.conf"},
		{"nested-grouped", with(dirE("/app", 0o777), dirE("/app/data", 0o777), fileE("/app/data/x", 1, 0o666)), 1, "and 2 world-writable paths below it"},
		{"tmp-sticky", with(layerfs.Entry{Path: "/tmp", Type: layerfs.TypeDir, Mode: fs.ModeDir | fs.ModeSticky | 0o777}), 0, ""},
		{"symlink", with(layerfs.Entry{Path: "/usr/bin/vi", Type: layerfs.TypeSymlink, Mode: fs.ModeSymlink | 0o777, Linkname: "vim"}), 0, ""},
		{"device", with(layerfs.Entry{Path: "/dev/null", Type: layerfs.TypeOther, Mode: fs.ModeDevice | 0o666}), 0, ""},
		{"normal", with(dirE("/app", 0o755), fileE("/app/x", 1, 0o644)), 0, ""},
	})
}

func TestHealthcheck(t *testing.T) {
	with := func(hc *v1.HealthConfig) func(*testing.T) Input {
		return func(t *testing.T) Input {
			return Input{Image: empty(t), Config: cfg(func(c *v1.ConfigFile) { c.Config.Healthcheck = hc })}
		}
	}
	run(t, "KS-IM-008", []ruleCase{
		{"none", with(nil), 1, ""},
		{"empty-test", with(&v1.HealthConfig{}), 1, ""},
		{"interval-only", with(&v1.HealthConfig{Interval: time.Second}), 1, ""},
		{"cmd", with(&v1.HealthConfig{Test: []string{"CMD", "curl", "-f", "http://localhost/"}}), 0, ""},
		{"explicit-none", with(&v1.HealthConfig{Test: []string{"NONE"}}), 0, ""},
		{"rootfs", func(t *testing.T) Input { return Input{Image: empty(t)} }, 0, ""},
	})
}

func TestCaches(t *testing.T) {
	with := func(specs ...layerSpec) func(*testing.T) Input {
		return func(t *testing.T) Input { return Input{Image: img(t, specs...)} }
	}
	lists := layerSpec{entries: []layerfs.Entry{dirE("/var/lib/apt/lists", 0o755), fileE("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4", 9<<20, 0o644), fileE("/var/lib/apt/lists/lock", 0, 0o640)}}
	run(t, "KS-IM-009", []ruleCase{
		{"apt-lists", with(layerSpec{}, lists), 1, "apt package lists left in the image: 9.0 MiB in 1 files under /var/lib/apt/lists, 9.0 MiB of it written by layer 1"},
		{"apk", with(layerSpec{entries: []layerfs.Entry{fileE("/var/cache/apk/APKINDEX.abc.tar.gz", 600<<10, 0o644)}}), 1, "apk cache"},
		{"pip-home", with(layerSpec{entries: []layerfs.Entry{fileE("/home/app/.cache/pip/http/a/b", 2048, 0o644)}}), 1, "/home/app/.cache/pip"},
		{"empty-lists", with(layerSpec{entries: []layerfs.Entry{dirE("/var/lib/apt/lists/partial", 0o700), fileE("/var/lib/apt/lists/lock", 0, 0o640)}}), 0, ""},
		{"removed-later", with(lists, layerSpec{entries: []layerfs.Entry{whiteout("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")}}), 0, ""},
		{"apt-config", with(layerSpec{entries: []layerfs.Entry{fileE("/var/cache/apt/archives/lock", 0, 0o640), fileE("/etc/apt/apt.conf.d/docker-clean", 100, 0o644)}}), 0, ""},
	})
}

func TestShells(t *testing.T) {
	with := func(es ...layerfs.Entry) func(*testing.T) Input {
		return func(t *testing.T) Input { return Input{Image: img(t, layerSpec{entries: es})} }
	}
	run(t, "KS-IM-010", []ruleCase{
		{"debian", with(fileE("/usr/bin/dash", 1, 0o755), layerfs.Entry{Path: "/bin/sh", Type: layerfs.TypeSymlink, Linkname: "dash"}, fileE("/usr/bin/apt-get", 1, 0o755), fileE("/usr/bin/dpkg", 1, 0o755)), 1, "/bin/sh, /usr/bin/dash, /usr/bin/apt-get, /usr/bin/dpkg"},
		{"alpine", with(fileE("/bin/busybox", 1, 0o755), fileE("/sbin/apk", 1, 0o755)), 1, "/bin/busybox, /sbin/apk"},
		{"bash-only", with(fileE("/usr/local/bin/bash", 1, 0o755)), 1, ""},
		{"distroless", with(fileE("/app/server", 1, 0o755), dirE("/bin", 0o755)), 0, ""},
		{"completion-files", with(fileE("/usr/share/bash-completion/completions/apt", 1, 0o644)), 0, ""},
		{"dir-named-sh", with(dirE("/usr/bin/sh", 0o755)), 0, ""},
	})
}

func TestPorts(t *testing.T) {
	with := func(ports ...string) func(*testing.T) Input {
		return func(t *testing.T) Input {
			return Input{Image: empty(t), Config: cfg(func(c *v1.ConfigFile) {
				c.Config.ExposedPorts = map[string]struct{}{}
				for _, p := range ports {
					c.Config.ExposedPorts[p] = struct{}{}
				}
			})}
		}
	}
	run(t, "KS-IM-011", []ruleCase{
		{"ssh", with("22/tcp", "8080/tcp"), 1, "SSH port 22/tcp"},
		{"http", with("80/tcp"), 1, "privileged port 80/tcp"},
		{"range-with-ssh", with("20-25/tcp"), 1, "SSH"},
		{"unprivileged", with("8080/tcp", "3000"), 0, ""},
		{"garbage", with("abc/tcp", "-1/udp"), 0, ""},
		{"none", with(), 0, ""},
	})
}

func TestWaste(t *testing.T) {
	big := func(p string, n int64) layerSpec { return layerSpec{entries: []layerfs.Entry{fileE(p, n, 0o644)}} }
	with := func(specs ...layerSpec) func(*testing.T) Input {
		return func(t *testing.T) Input { return Input{Image: img(t, specs...)} }
	}
	run(t, "KS-IM-012", []ruleCase{
		{"deleted", with(big("/tmp/src.tar.gz", 50<<20), layerSpec{entries: []layerfs.Entry{whiteout("/tmp/src.tar.gz")}}), 1, "layer 0 (sha256:aaaaaaaaaaaa) ships 50.0 MiB that later layers delete or overwrite; biggest: /tmp/src.tar.gz 50.0 MiB (deleted by layer 1)"},
		{"overwritten", with(big("/app/bundle.js", 20<<20), big("/app/bundle.js", 21<<20)), 1, "overwritten by layer 1"},
		{"two-layers", with(big("/a", 11<<20), big("/b", 12<<20), layerSpec{entries: []layerfs.Entry{whiteout("/a"), whiteout("/b")}}), 2, ""},
		{"small", with(big("/tmp/x", 1<<20), layerSpec{entries: []layerfs.Entry{whiteout("/tmp/x")}}), 0, ""},
		{"kept", with(big("/opt/model.bin", 500<<20)), 0, ""},
		{"last-layer-only", with(big("/etc/x", 1), big("/opt/big", 90<<20)), 0, ""},
	})
}

func TestEndOfLife(t *testing.T) {
	withOS := func(o *inventory.OS) func(*testing.T) Input {
		return func(t *testing.T) Input {
			return Input{Image: img(t, layerSpec{contents: map[string]string{"/etc/os-release": "ID=x\n"}}), OS: o}
		}
	}
	run(t, "KS-IM-013", []ruleCase{
		{"debian-10", withOS(&inventory.OS{ID: "debian", VersionID: "10", PrettyName: "Debian GNU/Linux 10 (buster)"}), 1, "Debian GNU/Linux 10 (buster) reached end of life on 2024-06-30 (source: https://endoflife.date/debian"},
		{"alpine-patch", withOS(&inventory.OS{ID: "alpine", VersionID: "3.19.1"}), 1, "alpine 3.19.1 reached end of life on 2025-11-01"},
		{"ubuntu-20.04", withOS(&inventory.OS{ID: "ubuntu", VersionID: "20.04"}), 1, ""},
		{"centos-7", withOS(&inventory.OS{ID: "centos", VersionID: "7"}), 1, ""},
		{"debian-12", withOS(&inventory.OS{ID: "debian", VersionID: "12"}), 0, ""},
		{"unknown-os", withOS(&inventory.OS{ID: "arch", VersionID: "rolling"}), 0, ""},
		{"alpine-3.1-not-3.19", withOS(&inventory.OS{ID: "alpine", VersionID: "3.1"}), 1, "alpine 3.1 is older than alpine 3.7, which reached end of life on 2019-11-01"},
		{"older-than-table", withOS(&inventory.OS{ID: "alpine", VersionID: "3.6.5", PrettyName: "Alpine Linux v3.6"}), 1, "Alpine Linux v3.6 is older than alpine 3.7"},
		{"ubuntu-older", withOS(&inventory.OS{ID: "ubuntu", VersionID: "12.04"}), 1, "older than ubuntu 14.04"},
		{"fedora-42", withOS(&inventory.OS{ID: "fedora", VersionID: "42"}), 1, "fedora 42 reached end of life on 2026-05-28"},
		{"newer-than-table", withOS(&inventory.OS{ID: "fedora", VersionID: "99"}), 0, ""},
		{"amzn-not-monotonic", withOS(&inventory.OS{ID: "amzn", VersionID: "2017.09"}), 0, ""},
		{"prerelease", withOS(&inventory.OS{ID: "alpine", VersionID: "3.1_alpha20240807"}), 0, ""},
		{"no-os", withOS(nil), 0, ""},
	})
	// Options.Now decides: the same release is fine before its date.
	in := Input{Image: empty(t), OS: &inventory.OS{ID: "alpine", VersionID: "3.19.1"}, Options: Options{Now: time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC)}}
	for _, f := range Check(in) {
		if f.ID == "KS-IM-013" {
			t.Errorf("alpine 3.19 reported on its last supported day: %s", f.Message)
		}
	}
}

func TestEOLTable(t *testing.T) {
	tab, err := loadEOL()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range tab.Releases {
		ids[r.ID] = true
		if !strings.HasPrefix(r.Source, "https://") {
			t.Errorf("%s %s: source must name where the date comes from", r.ID, r.Version)
		}
	}
	for _, id := range []string{"debian", "ubuntu", "alpine", "rhel", "rocky", "almalinux", "amzn", "centos", "fedora", "opensuse-leap"} {
		if !ids[id] {
			t.Errorf("EOL table lacks %s", id)
		}
	}
}

func TestOptionsScanners(t *testing.T) {
	in := Input{Image: img(t, layerSpec{contents: map[string]string{"/app/.env": "GITHUB_TOKEN=" + fakeGHToken}}), Config: cfg(func(c *v1.ConfigFile) { c.Config.User = "" }), Options: Options{Now: now}}
	in.NoSecrets = true
	for _, f := range Check(in) {
		if f.Kind == finding.KindSecret {
			t.Errorf("NoSecrets still reported %s", f.ID)
		}
	}
	in.NoSecrets, in.NoMisconfig = false, true
	for _, f := range Check(in) {
		if f.Kind != finding.KindSecret {
			t.Errorf("NoMisconfig still reported %s", f.ID)
		}
	}
}
