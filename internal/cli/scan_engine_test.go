package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/testimages"
)

// podmanService starts `podman system service` on a unix socket in a
// temporary folder, with its own vfs storage (no clash with other podman
// or buildah users of this machine), loads the docker-archive images into
// that storage with `podman load`, and returns the socket's URL. The
// service is stopped when the test ends. scripts/setup.sh installs podman.
func podmanService(t *testing.T, archives ...string) string {
	t.Helper()
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.Fatal("podman not found: run scripts/setup.sh (it installs podman with apt)")
	}
	dir, err := os.MkdirTemp("", "kensa-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	global := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--events-backend", "none", "--tmpdir", filepath.Join(dir, "tmp")}
	sock := filepath.Join(dir, "podman.sock")
	var logb bytes.Buffer
	svc := exec.Command(bin, append(global, "system", "service", "--time=0", "unix://"+sock)...)
	svc.Stdout, svc.Stderr = &logb, &logb
	if err := svc.Start(); err != nil {
		t.Fatalf("start podman service: %v", err)
	}
	t.Cleanup(func() {
		svc.Process.Kill()
		svc.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman service made no socket in 30s: %s", logb.String())
		}
	}
	for _, a := range archives {
		out, err := exec.Command(bin, append(global, "load", "-q", "-i", a)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman load %s: %v\n%s", a, err, out)
		}
	}
	return "unix://" + sock
}

// TestScanEngineImage: `kensa scan NAME` finds an image that only a local
// engine holds (Podman's Docker-compatible API, reached as podman through
// CONTAINER_HOST and as docker through DOCKER_HOST) and reports exactly
// what scanning the same image's archive reports; --image-src decides the
// order, engines without a socket are skipped, and a name no source holds
// says what each source answered.
func TestScanEngineImage(t *testing.T) {
	isolate(t)
	archive := testimages.Path(t, testimages.Leaky, testimages.FormDocker)
	host := podmanService(t, archive)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	want := findingKeys(scanJSON(t, "--no-cache", "--scanners", "misconfig,secret", archive))
	if !strings.Contains(want, "KS-IM-005") {
		t.Fatalf("archive scan lacks the leaky image's findings:\n%s", want)
	}
	none := filepath.Join(t.TempDir(), "none.sock")

	t.Setenv("DOCKER_HOST", "")
	os.Unsetenv("DOCKER_HOST")
	t.Setenv("CONTAINER_HOST", host)
	// Default order: no docker socket here (skipped silently), then podman.
	rep := scanJSON(t, "--no-cache", "--scanners", "misconfig,secret", "leaky:latest")
	if got := findingKeys(rep); got != want {
		t.Errorf("podman engine scan differs from the archive scan:\n got %s\nwant %s", got, want)
	}
	if rep.Image == nil || !strings.HasPrefix(rep.Image.Digest, "sha256:") {
		t.Errorf("image info %+v", rep.Image)
	}
	// The same API as a Docker engine, named by DOCKER_HOST.
	t.Setenv("DOCKER_HOST", host)
	t.Setenv("CONTAINER_HOST", "unix://"+none)
	if got := findingKeys(scanJSON(t, "--no-cache", "--scanners", "misconfig,secret", "--image-src", "docker", "docker.io/library/leaky:latest")); got != want {
		t.Errorf("docker engine scan differs from the archive scan:\n got %s\nwant %s", got, want)
	}
	// Not held by the engine, and no other source: each answer is named.
	code, out, errOut := run(t, "scan", "--no-cache", "--image-src", "docker,podman", "nosuch:1")
	if code != ExitBadInput || out != "" || !strings.Contains(errOut, "nosuch:1: no such file or folder; tried it as an image reference: not in the docker engine ("+host+")") ||
		!strings.Contains(errOut, "podman: unix://"+none+": no such socket") {
		t.Errorf("missing image: exit %d, stderr %q", code, errOut)
	}
	// A bad --image-src is an input error before anything is opened.
	code, _, errOut = run(t, "scan", "--image-src", "docker,hub", archive)
	if code != ExitBadInput || !strings.Contains(errOut, `--image-src: unknown image source "hub"`) {
		t.Errorf("bad --image-src: exit %d, stderr %q", code, errOut)
	}
}
