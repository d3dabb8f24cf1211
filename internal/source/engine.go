package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Image sources a reference is looked up in (Options.Sources), in Trivy's
// --image-src spelling.
const (
	SourceDocker = "docker" // the Docker Engine API socket (DOCKER_HOST)
	SourcePodman = "podman" // Podman's Docker-compatible API socket (CONTAINER_HOST)
	SourceRemote = "remote" // the registry
)

// DefaultSources is the lookup order when Options.Sources is empty: local
// engines first (what a user just built), then the registry.
var DefaultSources = []string{SourceDocker, SourcePodman, SourceRemote}

// Engine kinds: an image read from a local engine.
const (
	KindDockerEngine Kind = "docker-engine"
	KindPodmanEngine Kind = "podman-engine"
)

// CheckSources validates an --image-src list.
func CheckSources(srcs []string) error {
	if len(srcs) == 0 {
		return errors.New("name at least one of docker, podman, remote")
	}
	seen := map[string]bool{}
	for _, s := range srcs {
		switch s {
		case SourceDocker, SourcePodman, SourceRemote:
		default:
			return fmt.Errorf("unknown image source %q (want docker, podman or remote)", s)
		}
		if seen[s] {
			return fmt.Errorf("image source %q named twice", s)
		}
		seen[s] = true
	}
	return nil
}

// engineEndpoint is where an engine's API listens.
type engineEndpoint struct {
	name string // SourceDocker or SourcePodman
	// host is the URL as configured (unix:///run/x.sock, tcp://h:2375).
	host string
	// explicit is true when an environment variable named the host:
	// then a missing socket is worth saying, not skipping silently.
	explicit bool
}

// endpoint returns the engine's API address: DOCKER_HOST for docker
// (default /var/run/docker.sock); CONTAINER_HOST for podman (default the
// rootless socket under XDG_RUNTIME_DIR, then /run/podman/podman.sock).
func endpoint(name string) engineEndpoint {
	switch name {
	case SourceDocker:
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return engineEndpoint{name, h, true}
		}
		return engineEndpoint{name, "unix:///var/run/docker.sock", false}
	default:
		if h := os.Getenv("CONTAINER_HOST"); h != "" {
			return engineEndpoint{name, h, true}
		}
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && os.Geteuid() != 0 {
			if p := filepath.Join(d, "podman", "podman.sock"); socketExists(p) {
				return engineEndpoint{name, "unix://" + p, false}
			}
		}
		return engineEndpoint{name, "unix:///run/podman/podman.sock", false}
	}
}

func socketExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

// errEngineAbsent marks an engine with no socket: skipped silently.
var errEngineAbsent = errors.New("no engine socket")

// errNotInEngine marks an engine that answered but does not hold the image.
var errNotInEngine = errors.New("not in the engine")

// engineClient speaks the Docker Engine API (which Podman serves too).
type engineClient struct {
	ep   engineEndpoint
	http *http.Client
	base string
}

// newEngineClient returns a client for ep, or errEngineAbsent when its
// unix socket does not exist.
func newEngineClient(ep engineEndpoint) (*engineClient, error) {
	u, err := url.Parse(ep.host)
	if err != nil {
		return nil, fmt.Errorf("%s host %q: %v", ep.name, ep.host, err)
	}
	tr := &http.Transport{ResponseHeaderTimeout: 2 * time.Minute, DisableCompression: true}
	base := ""
	switch u.Scheme {
	case "unix":
		sock := u.Path
		if !socketExists(sock) {
			if ep.explicit {
				return nil, fmt.Errorf("%s: %s: no such socket", ep.name, ep.host)
			}
			return nil, errEngineAbsent
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		base = "http://engine"
	case "tcp", "http":
		base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("%s host %q: only unix:// and tcp:// (plain HTTP) are supported", ep.name, ep.host)
	}
	return &engineClient{ep: ep, http: &http.Client{Transport: tr}, base: base}, nil
}

// get sends GET path and returns the response when it is 200;
// errNotInEngine on 404.
func (c *engineClient) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s engine at %s: %w", c.ep.name, c.ep.host, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var msg struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
		msg.Message = strings.TrimSpace(string(body))
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", errNotInEngine, msg.Message)
	}
	return nil, fmt.Errorf("%s engine at %s: HTTP %d: %s", c.ep.name, c.ep.host, resp.StatusCode, msg.Message)
}

// openEngine exports ref from the engine (GET /images/{name}/get, the
// `docker save` stream) into an unlinked temporary file and opens it as
// a docker-archive. errEngineAbsent: no socket; errNotInEngine: the
// engine does not hold ref.
func openEngine(ctx context.Context, ep engineEndpoint, ref string, o Options) (*Image, error) {
	c, err := newEngineClient(ep)
	if err != nil {
		return nil, err
	}
	// Ask for the image's metadata first: a missing image is a cheap 404,
	// not a failed export.
	esc := url.PathEscape(ref)
	resp, err := c.get(ctx, "/images/"+esc+"/json")
	if err != nil {
		return nil, err
	}
	var inspect struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&inspect)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s engine at %s: image inspect: %v", ep.name, ep.host, err)
	}
	if resp, err = c.get(ctx, "/images/"+esc+"/get"); err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(o.TempDir, "kensa-engine-*.tar")
	if err != nil {
		return nil, fmt.Errorf("spool image from the %s engine: %w", ep.name, err)
	}
	os.Remove(f.Name()) // the open file stays readable; nothing is left behind
	size, err := io.Copy(f, resp.Body)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s engine at %s: export %s: %w", ep.name, ep.host, ref, err)
	}
	ao := o
	ao.Image = ""
	im, err := OpenArchiveReader(ref, f, size, ao)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s engine at %s: the export of %s is not a readable docker-archive: %w", ep.name, ep.host, ref, err)
	}
	im.closers = append(im.closers, f)
	im.Kind = KindDockerEngine
	if ep.name == SourcePodman {
		im.Kind = KindPodmanEngine
	}
	im.Reference = ref
	if len(im.Names) == 0 {
		im.Names = inspect.RepoTags
	}
	return im, nil
}

// openReference looks ref up in o.Sources in order. Engines without a
// socket are skipped silently; an engine that does not hold the image
// passes to the next source. The error, when every source failed, says
// what each one answered.
func openReference(ctx context.Context, ref string, o Options) (*Image, error) {
	srcs := o.Sources
	if len(srcs) == 0 {
		srcs = DefaultSources
	}
	if err := CheckSources(srcs); err != nil {
		return nil, inputErr(ref, "--image-src: %v", err)
	}
	var tried []string
	for _, s := range srcs {
		if s == SourceRemote {
			im, err := openRemote(ctx, ref, o)
			if err == nil {
				return im, nil
			}
			var se *Error
			if ctx.Err() != nil || !errors.As(err, &se) {
				return nil, err
			}
			tried = append(tried, se.Err.Error())
			continue
		}
		im, err := openEngine(ctx, endpoint(s), ref, o)
		switch {
		case err == nil:
			return im, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, errEngineAbsent):
		case errors.Is(err, errNotInEngine):
			tried = append(tried, fmt.Sprintf("not in the %s engine (%s)", s, endpoint(s).host))
		default:
			tried = append(tried, err.Error())
		}
	}
	if len(tried) == 0 {
		return nil, &Error{Target: ref, Err: fmt.Errorf("no image source to try: no %s socket, and the registry is not in --image-src", strings.Join(srcs, " or "))}
	}
	return nil, &Error{Target: ref, Err: errors.New(strings.Join(tried, "; "))}
}
