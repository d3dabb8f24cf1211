package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestHardenTestImages derives profiles from the real test images: the
// config user (gobin: 65534), nobody when the image has none, the exposed
// port (leaky: 22 → NET_BIND_SERVICE), /tmp and /run as tmpfs.
func TestHardenTestImages(t *testing.T) {
	isolate(t)
	cases := []struct {
		image, format string
		want          []string
	}{
		{testimages.Gobin, "compose", []string{`user: "65534:65534"`, "read_only: true", "- /tmp:mode=1777", "- /run:mode=1777", "cap_drop: [ALL]", "no-new-privileges:true", `the image config's User "65534"`}},
		{testimages.Leaky, "docker-run", []string{"--user 65534:65534", "--read-only", "--tmpfs /tmp:mode=1777", "--cap-drop ALL", "--cap-add NET_BIND_SERVICE", "-p 22:22/tcp", "no non-root user in the image"}},
		{testimages.NPM, "k8s", []string{"runAsUser: 65534", "readOnlyRootFilesystem: true", "drop: [\"ALL\"]", "mountPath: /tmp", "emptyDir: {}"}},
		{testimages.DebianBase, "cloudrun", []string{"kind: Service", "run.googleapis.com/ingress: internal-and-cloud-load-balancing", "USER 65534:65534", "medium: Memory"}},
	}
	for _, c := range cases {
		t.Run(c.image+"/"+c.format, func(t *testing.T) {
			archive := testimages.Path(t, c.image, testimages.FormDocker)
			code, out, stderr := run(t, "harden", "-q", "--format", c.format, archive)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if c.image != testimages.Leaky && strings.Contains(out, "cap_add") {
				t.Errorf("capability added without a low port:\n%s", out)
			}
		})
	}
	if code, _, stderr := run(t, "harden", "--format", "helm", testimages.Path(t, testimages.Gobin, testimages.FormDocker)); code != 2 || !strings.Contains(stderr, `unknown format "helm"`) {
		t.Errorf("bad format: exit %d, %s", code, stderr)
	}
}

// TestScanManifestWithImage: a compose file next to the image it runs is
// compared with the image's hardened profile: root instead of the image's
// user, and a read-only root without the tmpfs mounts the image needs.
func TestScanManifestWithImage(t *testing.T) {
	dir := isolate(t)
	linkOrCopy(t, testimages.Path(t, testimages.Gobin, testimages.FormDocker), filepath.Join(dir, "gobin.docker.tar"))
	dfWrite(t, dir, "compose.yaml", "services:\n  app:\n    image: registry.example/gobin:1.0\n    user: root\n    read_only: true\n    tmpfs: [/tmp]\n    cap_add: [CHOWN]\n")
	rep := scanJSON(t, "--scanners", "misconfig", dir)
	wantAt(t, rep, "KS-RT-025 compose.yaml:4", "KS-RT-026 compose.yaml:5", "KS-RT-025 compose.yaml:7")
	for _, f := range rep.Findings {
		if f.ID == "KS-RT-026" && (!strings.Contains(f.Message, "/run, /var/tmp") || strings.Contains(f.Message, "on /tmp") || !strings.Contains(f.Fix, "- /run:mode=1777")) {
			t.Errorf("KS-RT-026 %q fix %q", f.Message, f.Fix)
		}
		if f.ID == "KS-RT-025" && f.Location.Line == 4 && !strings.Contains(f.Message, "runs as 65534:65534") {
			t.Errorf("KS-RT-025 %q", f.Message)
		}
	}
	// Another image in the manifest: not compared.
	dfWrite(t, dir, "compose.yaml", "services:\n  app:\n    image: nginx:1.27\n    read_only: true\n")
	for _, f := range scanJSON(t, "--scanners", "misconfig", dir).Findings {
		if f.ID == "KS-RT-025" || f.ID == "KS-RT-026" {
			t.Errorf("compared an unrelated image: %+v", f)
		}
	}
}

// TestScanManifestProfileImage: --profile-image names the image to compare
// a manifest with when it is not in the manifest's folder.
func TestScanManifestProfileImage(t *testing.T) {
	dir := isolate(t)
	archive := testimages.Path(t, testimages.Gobin, testimages.FormDocker)
	m := dfWrite(t, dir, "deploy/compose.yaml", "services:\n  app:\n    image: gobin:2\n    read_only: true\n  root:\n    image: gobin:2\n    user: \"0\"\n")
	rep := scanJSON(t, "--scanners", "misconfig", "--profile-image", archive, m)
	wantAt(t, rep, "KS-RT-026 "+m+":4", "KS-RT-025 "+m+":7", "KS-RT-001 "+m+":7")
	// gobin's config runs it as 65534: a service without user: is not root.
	if got := at(rep); got["KS-RT-025 "+m+":2"] || got["KS-RT-001 "+m+":2"] {
		t.Errorf("service without user: reported as root although the image runs as 65534: %v", got)
	}
	if code, _, stderr := run(t, "scan", "--profile-image", "no such.tar", m); code != 2 || !strings.Contains(stderr, "profile image no such.tar") {
		t.Errorf("missing profile image: exit %d, %s", code, stderr)
	}
}
