// Package trusttest builds keyless sigstore material for tests: in-toto
// statements about an image digest, v0.3 sigstore bundles signed by
// sigstore-go's virtual sigstore (a Fulcio CA, Rekor log and TSA made in
// the test), and that virtual sigstore's trusted_root.json.
package trusttest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// BundleMediaType is the media type of the bundles Bundle makes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Statement returns an in-toto statement whose subject is the sha256
// digest, as cosign signs an image into a sigstore bundle.
func Statement(digest string) []byte {
	b, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "registry.test/app", "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	return b
}

// Bundle signs statement keylessly as subject/issuer with vs and returns
// it as a v0.3 sigstore bundle (certificate, Rekor entry with inclusion
// proof, RFC 3161 timestamp, DSSE envelope).
func Bundle(vs *ca.VirtualSigstore, subject, issuer string, statement []byte) ([]byte, error) {
	// Inside the virtual CA's leaf validity, which starts now.
	e, err := vs.AttestAtTime(subject, issuer, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		return nil, err
	}
	vc, err := e.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := e.SignatureContent()
	if err != nil {
		return nil, err
	}
	be, ok := sc.(*bundle.Envelope)
	if !ok {
		return nil, fmt.Errorf("signature content is %T, not a DSSE envelope", sc)
	}
	env := be.RawEnvelope()
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: s.KeyID})
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	tles, err := e.TlogEntries()
	if err != nil {
		return nil, err
	}
	var pbTles []*protorekor.TransparencyLogEntry
	for _, te := range tles {
		tle := proto.Clone(te.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
		tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
		pbTles = append(pbTles, tle)
	}
	tss, err := e.Timestamps()
	if err != nil {
		return nil, err
	}
	var rfc []*protocommon.RFC3161SignedTimestamp
	for _, ts := range tss {
		rfc = append(rfc, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	pb := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               pbTles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType, Signatures: sigs}},
	}
	return protojson.Marshal(pb)
}

// TrustedRootJSON returns vs as a sigstore trusted_root.json.
func TrustedRootJSON(vs *ca.VirtualSigstore) ([]byte, error) {
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), rawIDs(vs.CTLogs()), vs.TimestampingAuthorities(), rawIDs(vs.RekorLogs()))
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// rawIDs gives the virtual sigstore's logs their binary key IDs: it keeps
// the hex form in ID, which a serialized trusted root would hex-encode
// again.
func rawIDs(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	out := map[string]*root.TransparencyLog{}
	for k, tl := range logs {
		c := *tl
		if raw, err := hex.DecodeString(k); err == nil {
			c.ID = raw
		}
		out[k] = &c
	}
	return out
}
