// Package admission is kensa admit's Kubernetes side: the
// admission.k8s.io/v1 AdmissionReview wire format, the images a workload
// object runs (containers, init and ephemeral containers of a pod or a pod
// template), and the validating webhook that answers with kensa's trust
// decision per image.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxReviewBytes bounds an AdmissionReview body (the API server's own
// request limit is 3 MiB).
const MaxReviewBytes = 3 << 20

// APIVersion and Kind of the review objects this webhook speaks.
const (
	APIVersion = "admission.k8s.io/v1"
	ReviewKind = "AdmissionReview"
)

// Review is an admission.k8s.io/v1 AdmissionReview (the fields kensa
// reads and writes).
type Review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *Request  `json:"request,omitempty"`
	Response   *Response `json:"response,omitempty"`
}

// GroupVersionKind names an object's type.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// GroupVersionResource names a resource.
type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// Request is the API server's question.
type Request struct {
	UID         string               `json:"uid"`
	Kind        GroupVersionKind     `json:"kind"`
	Resource    GroupVersionResource `json:"resource"`
	SubResource string               `json:"subResource,omitempty"`
	Name        string               `json:"name,omitempty"`
	Namespace   string               `json:"namespace,omitempty"`
	Operation   string               `json:"operation"`
	Object      json.RawMessage      `json:"object,omitempty"`
	OldObject   json.RawMessage      `json:"oldObject,omitempty"`
	DryRun      *bool                `json:"dryRun,omitempty"`
}

// Response is the webhook's answer.
type Response struct {
	UID      string   `json:"uid"`
	Allowed  bool     `json:"allowed"`
	Status   *Status  `json:"status,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Status explains a denial (metav1.Status, the fields the API server
// shows to the user).
type Status struct {
	Code    int32  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// DecodeReview reads an AdmissionReview request. It rejects other API
// versions and kinds, a missing request or uid, trailing data and bodies
// over MaxReviewBytes.
func DecodeReview(data []byte) (*Review, error) {
	if len(data) > MaxReviewBytes {
		return nil, fmt.Errorf("AdmissionReview: %d bytes, more than %d", len(data), MaxReviewBytes)
	}
	var r Review
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("AdmissionReview: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("AdmissionReview: data after the object")
	}
	if r.APIVersion != APIVersion || r.Kind != ReviewKind {
		return nil, fmt.Errorf("AdmissionReview: apiVersion %q kind %q, want %s %s", r.APIVersion, r.Kind, APIVersion, ReviewKind)
	}
	if r.Request == nil {
		return nil, fmt.Errorf("AdmissionReview: no request")
	}
	if r.Request.UID == "" {
		return nil, fmt.Errorf("AdmissionReview: request has no uid")
	}
	return &r, nil
}

// Image is one image a workload runs, with where it is named.
type Image struct {
	// Path is the field path, e.g. spec.template.spec.initContainers[0].
	Path string `json:"path"`
	// Container is the container's name.
	Container string `json:"container"`
	Image     string `json:"image"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type podSpec struct {
	Containers          []container `json:"containers"`
	InitContainers      []container `json:"initContainers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
}

// podSpecPath says where each workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// Images returns every image the object of kind runs, in field order
// (containers, initContainers, ephemeralContainers). ok is false for a
// kind that holds no pod spec. A malformed object is an error.
func Images(kind string, object []byte) (images []Image, ok bool, err error) {
	path, ok := podSpecPath[kind]
	if !ok {
		return nil, false, nil
	}
	var cur json.RawMessage = object
	for i, key := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil, true, fmt.Errorf("%s: %s: %w", kind, joinPath(path[:i]), err)
		}
		next, found := m[key]
		if !found || string(next) == "null" {
			return nil, true, fmt.Errorf("%s: no %s", kind, joinPath(path[:i+1]))
		}
		cur = next
	}
	var ps podSpec
	if err := json.Unmarshal(cur, &ps); err != nil {
		return nil, true, fmt.Errorf("%s: %s: %w", kind, joinPath(path), err)
	}
	base := joinPath(path)
	for _, g := range []struct {
		field string
		cs    []container
	}{{"containers", ps.Containers}, {"initContainers", ps.InitContainers}, {"ephemeralContainers", ps.EphemeralContainers}} {
		for i, c := range g.cs {
			images = append(images, Image{Path: fmt.Sprintf("%s.%s[%d]", base, g.field, i), Container: c.Name, Image: c.Image})
		}
	}
	return images, true, nil
}

func joinPath(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}
