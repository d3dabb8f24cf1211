package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// PredicateType is the in-toto predicate type of a kensa scan attestation.
const PredicateType = "https://github.com/kensa-sec/kensa/attestation/scan/v1"

// InTotoPayloadType is the DSSE payload type of an in-toto statement.
const InTotoPayloadType = "application/vnd.in-toto+json"

// ScanPredicate is what a kensa attestation says about one image scan.
type ScanPredicate struct {
	Scanner   PredicateScanner `json:"scanner"`
	ScannedAt time.Time        `json:"scanned_at"`
	// Reference is the name the image was scanned under.
	Reference string `json:"reference"`
	// Scanners lists what ran: misconfig, secret, vuln.
	Scanners []string `json:"scanners"`
	// DB describes the vulnerability database; nil when vuln did not run.
	DB *PredicateDB `json:"db,omitempty"`
	// Summary counts unsuppressed findings by severity.
	Summary PredicateSummary `json:"summary"`
	Policy  PredicatePolicy  `json:"policy"`
	// Report is the digest of the full JSON report (kept by the caller).
	Report PredicateReport `json:"report"`
}

// PredicateScanner names the scanner.
type PredicateScanner struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// PredicateDB is the vulnerability database snapshot a scan used.
type PredicateDB struct {
	Built   time.Time `json:"built"`
	Sources []string  `json:"sources,omitempty"`
}

// PredicateSummary counts findings.
type PredicateSummary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"by_severity"`
	Suppressed int            `json:"suppressed"`
}

// PredicatePolicy is the gate the scan was checked against.
type PredicatePolicy struct {
	// MaxSeverity is the highest severity allowed; Passed says whether no
	// finding was above it.
	MaxSeverity string `json:"max_severity"`
	Passed      bool   `json:"passed"`
	// Config is the sha256 digest of the kensa.yaml used, if any.
	Config string `json:"config,omitempty"`
}

// PredicateReport points at the full report.
type PredicateReport struct {
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
}

// NewStatement returns the in-toto v1 statement for p about the image d.
func NewStatement(d name.Digest, p *ScanPredicate) ([]byte, error) {
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var pred structpb.Struct
	if err := protojson.Unmarshal(pj, &pred); err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Name:   d.Context().Name(),
			Digest: map[string]string{"sha256": strings.TrimPrefix(d.DigestStr(), "sha256:")},
		}},
		PredicateType: PredicateType,
		Predicate:     &pred,
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return protojson.Marshal(st)
}

// SignEnvelope signs an in-toto statement as a DSSE envelope with key.
func SignEnvelope(key *PrivateKey, statement []byte) ([]byte, error) {
	sig, err := key.signer.SignMessage(bytes.NewReader(dsse.PAE(InTotoPayloadType, statement)))
	if err != nil {
		return nil, err
	}
	env := dsse.Envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []dsse.Signature{{KeyID: key.Public.ID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	return json.Marshal(env)
}

// Attest signs p as an in-toto statement about d in a DSSE envelope and
// appends it to d's sha256-<hex>.att image, as cosign attest does.
func Attest(ctx context.Context, d name.Digest, key *PrivateKey, p *ScanPredicate, reg Registry) error {
	st, err := NewStatement(d, p)
	if err != nil {
		return fmt.Errorf("attest %s: statement: %w", d, err)
	}
	return AttestStatement(ctx, d, key, PredicateType, st, reg)
}

// VulnPredicateType is cosign's standard vulnerability-scan predicate.
const VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"

// VulnPredicate is cosign's vuln/v1 predicate: the scanner, its database
// and the scan result (kensa's JSON report).
type VulnPredicate struct {
	Invocation struct {
		Parameters any    `json:"parameters"`
		URI        string `json:"uri"`
		EventID    string `json:"event_id"`
		BuilderID  string `json:"builder.id"`
	} `json:"invocation"`
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
		} `json:"db"`
		Result json.RawMessage `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  time.Time `json:"scanStartedOn"`
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

// NewVulnStatement returns the in-toto statement with cosign's vuln/v1
// predicate about d.
func NewVulnStatement(d name.Digest, p *VulnPredicate) ([]byte, error) {
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var pred structpb.Struct
	if err := protojson.Unmarshal(pj, &pred); err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: d.Context().Name(), Digest: map[string]string{"sha256": strings.TrimPrefix(d.DigestStr(), "sha256:")}}},
		PredicateType: VulnPredicateType,
		Predicate:     &pred,
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return protojson.Marshal(st)
}

// AttestStatement signs an in-toto statement of predicateType as a DSSE
// envelope and appends it to d's sha256-<hex>.att image.
func AttestStatement(ctx context.Context, d name.Digest, key *PrivateKey, predicateType string, st []byte, reg Registry) error {
	env, err := SignEnvelope(key, st)
	if err != nil {
		return fmt.Errorf("attest %s: sign: %w", d, err)
	}
	tag, err := AttestationTag(d)
	if err != nil {
		return err
	}
	layer := static.NewLayer(env, types.MediaType(DSSEMediaType))
	return reg.appendLayer(ctx, tag, layer, map[string]string{PredicateTypeAnnotation: predicateType, SignatureAnnotation: ""})
}

// Attestation is a verified kensa attestation.
type Attestation struct {
	Signer    string
	KeyID     string
	Predicate ScanPredicate
}

// ParseEnvelope reads a DSSE envelope (bounded, strict about its shape).
func ParseEnvelope(data []byte) (*dsse.Envelope, []byte, error) {
	if len(data) > maxPayload {
		return nil, nil, fmt.Errorf("DSSE envelope: %d bytes, more than %d", len(data), maxPayload)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	if env.PayloadType != InTotoPayloadType {
		return nil, nil, fmt.Errorf("DSSE envelope: payload type %q, want %q", env.PayloadType, InTotoPayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, nil, fmt.Errorf("DSSE envelope: no signatures")
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("DSSE envelope: payload: %w", err)
	}
	return &env, body, nil
}

// ParseStatement reads an in-toto statement carrying a kensa predicate and
// returns the subject's sha256 digests and the predicate.
func ParseStatement(body []byte) ([]string, *ScanPredicate, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(body, &st); err != nil {
		return nil, nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, fmt.Errorf("in-toto statement: predicate type %q, want %q", st.GetPredicateType(), PredicateType)
	}
	var digests []string
	for _, s := range st.GetSubject() {
		if h := s.GetDigest()["sha256"]; h != "" {
			digests = append(digests, "sha256:"+h)
		}
	}
	pj, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, fmt.Errorf("in-toto statement: predicate: %w", err)
	}
	var p ScanPredicate
	dec := json.NewDecoder(bytes.NewReader(pj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, nil, fmt.Errorf("kensa predicate: %w", err)
	}
	if p.ScannedAt.IsZero() {
		return nil, nil, fmt.Errorf("kensa predicate: no scanned_at")
	}
	if p.Summary.BySeverity == nil {
		return nil, nil, fmt.Errorf("kensa predicate: no summary.by_severity")
	}
	return digests, &p, nil
}

// VerifyEnvelope checks a DSSE envelope against the trusted keys and
// returns the attestation when a trusted key signed a kensa statement
// whose subject is digest.
func VerifyEnvelope(data []byte, digest string, keys []*PublicKey) (*Attestation, error) {
	env, body, err := ParseEnvelope(data)
	if err != nil {
		return nil, err
	}
	pae := dsse.PAE(env.PayloadType, body)
	var signer *PublicKey
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae)) == nil {
				signer = k
				break
			}
		}
		if signer != nil {
			break
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("DSSE envelope: no trusted key verifies its signatures")
	}
	digests, p, err := ParseStatement(body)
	if err != nil {
		return nil, err
	}
	found := false
	for _, d := range digests {
		found = found || d == digest
	}
	if !found {
		return nil, fmt.Errorf("attested digest differs: the statement names %s, the image is %s", strings.Join(digests, ", "), digest)
	}
	return &Attestation{Signer: signer.Name, KeyID: signer.ID, Predicate: *p}, nil
}

// FetchAttestations returns the DSSE envelopes with kensa's predicate type
// under d's sha256-<hex>.att tag (unverified: pass each to VerifyEnvelope).
func FetchAttestations(ctx context.Context, d name.Digest, reg Registry) ([][]byte, error) {
	tag, err := AttestationTag(d)
	if err != nil {
		return nil, err
	}
	img, err := reg.artifactImage(ctx, tag)
	if err != nil || img == nil {
		return nil, err
	}
	layers, err := readLayers(img)
	if err != nil {
		return nil, fmt.Errorf("attestations %s: %w", tag, err)
	}
	var out [][]byte
	for _, l := range layers {
		if string(l.Desc.MediaType) == DSSEMediaType && l.Desc.Annotations[PredicateTypeAnnotation] == PredicateType {
			out = append(out, l.Content)
		}
	}
	return out, nil
}
