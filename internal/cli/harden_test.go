package cli

import (
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
