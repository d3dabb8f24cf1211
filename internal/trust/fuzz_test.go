package trust

import (
	"strings"
	"testing"
)

// FuzzParsePayload: any bytes give a payload with a sha256 digest or an
// error, never a panic.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r.example/app"},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("a", 64) + `"},"type":"cosign container image signature"},"optional":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePayload(data)
		if err != nil {
			return
		}
		if !digestPattern.MatchString(p.Digest) {
			t.Fatalf("accepted digest %q", p.Digest)
		}
	})
}

// fuzzKey is one fixed key for the attestation fuzzer (a fresh key per
// input would make the fuzzer measure key generation).
var fuzzKey, fuzzPub = func() (*PrivateKey, *PublicKey) {
	privPEM, pubPEM, err := GenerateKeyPair(nil)
	if err != nil {
		panic(err)
	}
	k, err := ParsePrivateKey("fuzz.key", privPEM, nil)
	if err != nil {
		panic(err)
	}
	p, err := ParsePublicKey("fuzz.pub", pubPEM)
	if err != nil {
		panic(err)
	}
	return k, p
}()

// FuzzParseAttestation: the envelope, statement and predicate parsers
// never panic; a statement that parses is also checked through a signed
// envelope, which must verify and name the digest it was made for.
func FuzzParseAttestation(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, body, err := ParseEnvelope(data); err == nil {
			_, _, _ = ParseStatement(body)
		}
		digests, _, err := ParseStatement(data)
		if err != nil {
			return
		}
		env, err := SignEnvelope(fuzzKey, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range digests {
			if !strings.HasPrefix(d, "sha256:") {
				t.Fatalf("digest %q", d)
			}
			if _, err := VerifyEnvelope(env, d, []*PublicKey{fuzzPub}); err != nil {
				t.Fatalf("own signature does not verify for %s: %v", d, err)
			}
		}
		if _, err := VerifyEnvelope(env, "sha256:not-a-subject", []*PublicKey{fuzzPub}); err == nil {
			t.Fatalf("verified for a digest the statement does not name")
		}
	})
}
