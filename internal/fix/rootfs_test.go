package fix

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestCreatedUserOnDebian runs the user-creating RUNs that the KS-DF-001
// and KS-DF-028 fixes write for a Debian base inside the real debootstrap Debian root the test
// images are built from (chroot), and checks the user and group it made:
// the command works on the distribution it was chosen for.
func TestCreatedUserOnDebian(t *testing.T) {
	tarball := testimages.RootfsTarball(t, testimages.DebianBase)
	res, err := Fix(context.Background(), "Dockerfile", []byte("FROM debian:12\nCOPY app /srv/data/\nCMD [\"/srv/app\"]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (groupadd .*)$`).FindStringSubmatch(string(res.Fixed))
	if m == nil {
		t.Fatalf("no user-creating RUN in:\n%s", res.Fixed)
	}
	if !strings.Contains(string(res.Fixed), "USER 10001:10001\n") || !strings.Contains(string(res.Fixed), "COPY --chown=10001:10001 app /srv/data/") {
		t.Fatalf("USER/--chown missing:\n%s", res.Fixed)
	}
	// KS-DF-028: a USER nothing creates gets its useradd.
	res2, err := Fix(context.Background(), "Dockerfile", []byte("FROM debian:12\nUSER appuser\nCMD [\"/srv/app\"]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2 := regexp.MustCompile(`(?m)^RUN (useradd .*)$`).FindStringSubmatch(string(res2.Fixed))
	if m2 == nil {
		t.Fatalf("no useradd RUN in:\n%s", res2.Fixed)
	}
	root := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", tarball, err, out)
	}
	for _, script := range []string{m[1], m2[1]} {
		var cmd *exec.Cmd
		if os.Geteuid() == 0 {
			cmd = exec.Command("chroot", root, "/bin/sh", "-c", script)
		} else {
			cmd = exec.Command("unshare", "--user", "--map-root-user", "--mount", "chroot", root, "/bin/sh", "-c", script)
		}
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if !regexp.MustCompile(`(?m)^app:x:10001:10001:[^:]*:[^:]*:/usr/sbin/nologin$`).Match(passwd) {
		t.Errorf("no app user with uid/gid 10001 in /etc/passwd:\n%s", passwd)
	}
	if !regexp.MustCompile(`(?m)^app:x:10001:$`).Match(group) {
		t.Errorf("no app group 10001 in /etc/group:\n%s", group)
	}
	if !regexp.MustCompile(`(?m)^appuser:x:[0-9]+:[0-9]+:[^:]*:[^:]*:/usr/sbin/nologin$`).Match(passwd) || !regexp.MustCompile(`(?m)^appuser:x:[0-9]+:$`).Match(group) {
		t.Errorf("no appuser user and group:\n%s\n%s", passwd, group)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/nologin")); err != nil {
		t.Errorf("the shell the user gets does not exist: %v", err)
	}
}
