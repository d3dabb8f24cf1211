package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry event sources ParseRegistryEvent recognizes.
const (
	SourceDistribution = "distribution" // CNCF Distribution (registry:2) notifications
	SourceHarbor       = "harbor"       // Harbor webhook, default or CloudEvents payload
	SourceDockerHub    = "dockerhub"    // Docker Hub repository webhook
)

// maxEventImages bounds the images one notification may ask to scan.
const maxEventImages = 200

// RegistryEvent is what a registry push notification asks kensa to scan.
type RegistryEvent struct {
	// Source is the registry kind that sent it (Source* constants).
	Source string `json:"source"`
	// Images are the pushed manifests, by digest when the event gives one,
	// each once.
	Images []PushedImage `json:"images"`
	// Ignored are the events of the notification that ask for no scan
	// (pulls, deletes, layer blobs), with the reason.
	Ignored []IgnoredEvent `json:"ignored"`
}

// PushedImage is one pushed manifest to scan.
type PushedImage struct {
	// Reference is registry/repository[:tag]@digest, or
	// registry/repository:tag when the event names no digest (Docker Hub).
	Reference string `json:"reference"`
	// Tag is the tag pushed, when the event names one.
	Tag string `json:"tag,omitempty"`
}

// IgnoredEvent is one event of a notification that asks for no scan.
type IgnoredEvent struct {
	// Index is the event's position in the notification (0 for payloads
	// holding one event).
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// manifestTypes are the media types of a pushed manifest worth scanning.
var manifestTypes = map[string]bool{
	string(types.DockerManifestSchema2): true,
	string(types.DockerManifestList):    true,
	string(types.OCIManifestSchema1):    true,
	string(types.OCIImageIndex):         true,
}

// probe holds the top-level keys that tell the payload kinds apart.
type probe struct {
	Events      json.RawMessage `json:"events"`
	Type        json.RawMessage `json:"type"`
	EventData   json.RawMessage `json:"event_data"`
	SpecVersion json.RawMessage `json:"specversion"`
	Data        json.RawMessage `json:"data"`
	PushData    json.RawMessage `json:"push_data"`
	Repository  json.RawMessage `json:"repository"`
}

// ParseRegistryEvent reads a registry's push notification: a Distribution
// notification envelope ({"events": [...]}, each with action, target
// mediaType/digest/repository/tag and request.host), a Harbor webhook
// (type PUSH_ARTIFACT with event_data.resources[].resource_url/digest/tag,
// or its CloudEvents form harbor.artifact.pushed) or a Docker Hub webhook
// (push_data.tag, repository.repo_name). It returns the manifests to scan
// and the events it ignored; an error means the body is not such a
// notification.
func ParseRegistryEvent(body []byte) (*RegistryEvent, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("registry event: empty body")
	}
	var p probe
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("registry event: invalid JSON: %w", err)
	}
	switch {
	case present(p.Events):
		return parseDistribution(body)
	case present(p.EventData) && present(p.Type):
		return parseHarbor(body, false)
	case present(p.SpecVersion) && present(p.Data) && present(p.Type):
		return parseHarbor(body, true)
	case present(p.PushData) && present(p.Repository):
		return parseDockerHub(body)
	}
	return nil, errors.New("registry event: not a Distribution (events[]), Harbor (type, event_data) or Docker Hub (push_data, repository) notification")
}

func present(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }

// collector gathers one notification's images, each once.
type collector struct {
	ev   *RegistryEvent
	seen map[string]bool
}

func newCollector(source string) *collector {
	return &collector{ev: &RegistryEvent{Source: source, Images: []PushedImage{}, Ignored: []IgnoredEvent{}}, seen: map[string]bool{}}
}

func (c *collector) ignore(i int, format string, args ...any) {
	c.ev.Ignored = append(c.ev.Ignored, IgnoredEvent{Index: i, Reason: fmt.Sprintf(format, args...)})
}

// add records the manifest host/repo@digest (or host/repo:tag without a
// digest); a tag is kept alongside a digest when it is valid.
func (c *collector) add(i int, host, repo, digest, tag string) error {
	reg, err := name.NewRegistry(host)
	if err != nil || host == "" || strings.ContainsAny(host, "/@ ") {
		c.ignore(i, "registry host %q is not valid", clipString(host))
		return nil
	}
	r := reg.Repo(repo)
	if _, err := name.NewRepository(r.Name(), name.StrictValidation); err != nil || repo == "" {
		c.ignore(i, "repository %q is not valid", clipString(repo))
		return nil
	}
	if tag != "" {
		if _, err := name.NewTag(r.Name()+":"+tag, name.StrictValidation); err != nil {
			c.ignore(i, "tag %q is not valid", clipString(tag))
			return nil
		}
	}
	var ref name.Reference
	switch {
	case digest != "":
		// repo:tag@digest pulls the digest and keeps the tag in sight
		// (image lists, report targets).
		base := r.Name()
		if tag != "" {
			base += ":" + tag
		}
		d, err := name.NewDigest(base+"@"+digest, name.StrictValidation)
		if err != nil {
			c.ignore(i, "digest %q is not valid", clipString(digest))
			return nil
		}
		ref = d
	case tag != "":
		ref = r.Tag(tag)
	default:
		c.ignore(i, "%s: the event names neither a digest nor a tag", r.Name())
		return nil
	}
	s := ref.String()
	if c.seen[s] {
		return nil
	}
	if len(c.ev.Images) >= maxEventImages {
		return fmt.Errorf("registry event: more than %d images in one notification", maxEventImages)
	}
	c.seen[s] = true
	c.ev.Images = append(c.ev.Images, PushedImage{Reference: s, Tag: tag})
	return nil
}

// clipString shortens attacker-sized strings quoted in reasons.
func clipString(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

type distributionEnvelope struct {
	Events []struct {
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
			URL        string `json:"url"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

func parseDistribution(body []byte) (*RegistryEvent, error) {
	var env distributionEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("registry event: Distribution notification: %w", err)
	}
	c := newCollector(SourceDistribution)
	for i, e := range env.Events {
		t := e.Target
		switch {
		case e.Action != "push":
			c.ignore(i, "action %q is not a push", clipString(e.Action))
			continue
		case !manifestTypes[t.MediaType]:
			c.ignore(i, "media type %q is not an image manifest or index", clipString(t.MediaType))
			continue
		case t.Repository == "":
			c.ignore(i, "the event names no repository")
			continue
		}
		host := e.Request.Host
		if host == "" {
			if u, err := url.Parse(t.URL); err == nil {
				host = u.Host
			}
		}
		if host == "" {
			c.ignore(i, "the event names no registry host (request.host or target.url)")
			continue
		}
		if err := c.add(i, host, t.Repository, t.Digest, t.Tag); err != nil {
			return nil, err
		}
	}
	return c.ev, nil
}

type harborData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository struct {
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

func parseHarbor(body []byte, cloudEvent bool) (*RegistryEvent, error) {
	var env struct {
		Type      string     `json:"type"`
		EventData harborData `json:"event_data"`
		Data      harborData `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("registry event: Harbor webhook: %w", err)
	}
	c := newCollector(SourceHarbor)
	data, push := env.EventData, "PUSH_ARTIFACT"
	if cloudEvent {
		data, push = env.Data, "harbor.artifact.pushed"
	}
	if env.Type != push {
		c.ignore(0, "event type %q is not %s", clipString(env.Type), push)
		return c.ev, nil
	}
	for i, r := range data.Resources {
		if r.ResourceURL == "" {
			c.ignore(i, "resource without resource_url")
			continue
		}
		// resource_url is host/project/repo:tag or host/project/repo@digest.
		repo := r.ResourceURL
		if at := strings.LastIndex(repo, "@"); at >= 0 {
			repo = repo[:at]
		} else if colon := strings.LastIndex(repo, ":"); colon > strings.LastIndex(repo, "/") {
			repo = repo[:colon]
		}
		tag := r.Tag
		if strings.HasPrefix(tag, "sha256:") { // Harbor names an untagged push by its digest
			tag = ""
		}
		host, path, _ := strings.Cut(repo, "/")
		if err := c.add(i, host, path, r.Digest, tag); err != nil {
			return nil, err
		}
	}
	if len(data.Resources) == 0 {
		c.ignore(0, "the event names no resources")
	}
	return c.ev, nil
}

func parseDockerHub(body []byte) (*RegistryEvent, error) {
	var env struct {
		PushData struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("registry event: Docker Hub webhook: %w", err)
	}
	c := newCollector(SourceDockerHub)
	if env.Repository.RepoName == "" {
		c.ignore(0, "the event names no repository (repository.repo_name)")
		return c.ev, nil
	}
	if env.PushData.Tag == "" {
		c.ignore(0, "%s: the event names no tag (push_data.tag)", clipString(env.Repository.RepoName))
		return c.ev, nil
	}
	if err := c.add(0, name.DefaultRegistry, dockerHubRepo(env.Repository.RepoName), "", env.PushData.Tag); err != nil {
		return nil, err
	}
	return c.ev, nil
}

// dockerHubRepo names an official image (repo_name "nginx") under library/.
func dockerHubRepo(n string) string {
	if !strings.Contains(n, "/") {
		return "library/" + n
	}
	return n
}
