package admission

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/trust"
)

// denyAll denies every image without touching a network: the fuzzer
// checks the decoder and the answer's shape, not the trust decision.
type denyAll struct{}

func (denyAll) Resolve(_ context.Context, image string) (name.Digest, *trust.Decision) {
	return name.Digest{}, &trust.Decision{Image: image, Reasons: []string{"fuzz"}}
}
func (denyAll) CheckDigest(_ context.Context, image string, _ name.Digest) trust.Decision {
	return trust.Decision{Image: image, Reasons: []string{"fuzz"}}
}

// FuzzDecodeReview: any body is decoded or refused without a panic; a
// decoded review is answered with its uid, and a workload that names any
// image is never allowed when every image is denied.
func FuzzDecodeReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a","image":"x"}]}}}}`))
	h := NewWebhook(denyAll{}, Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rev, err := DecodeReview(data)
		if err != nil {
			return
		}
		resp := h.Review(context.Background(), rev.Request)
		if resp.UID != rev.Request.UID {
			t.Fatalf("uid %q answered as %q", rev.Request.UID, resp.UID)
		}
		if rev.Request.Operation == "DELETE" || rev.Request.Operation == "CONNECT" {
			return
		}
		images, ok, err := Images(rev.Request.Kind.Kind, rev.Request.Object)
		if ok && err == nil && len(images) > 0 && resp.Allowed && len(rev.Request.Object) > 0 && string(rev.Request.Object) != "null" {
			t.Fatalf("allowed %d denied images", len(images))
		}
	})
}
