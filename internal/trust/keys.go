// Package trust holds kensa's supply-chain trust checks: cosign-format
// image signatures (the simple-signing payload under a sha256-<hex>.sig tag,
// and sigstore bundles found through the OCI 1.1 referrers API), kensa's
// signed scan attestations (in-toto statements in DSSE envelopes under a
// sha256-<hex>.att tag) and the admission decision built on both.
package trust

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// maxKeyFile bounds how much of a key file is read.
const maxKeyFile = 64 << 10

// PublicKey is a trusted verification key with the name it is reported by.
type PublicKey struct {
	// Name is what reports call the key: the config entry's name, or the
	// file it was read from.
	Name string
	// ID is "sha256:" and the hex SHA-256 of the key's DER encoding.
	ID       string
	Key      crypto.PublicKey
	verifier signature.Verifier
}

// ParsePublicKey reads a PEM public key (cosign.pub: ECDSA P-256, or RSA,
// or Ed25519); name labels it in errors and reports.
func ParsePublicKey(name string, pemBytes []byte) (*PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	id, err := keyID(pub)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	return &PublicKey{Name: name, ID: id, Key: pub, verifier: v}, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (*PublicKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return ParsePublicKey(path, data)
}

// keyID fingerprints a public key.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// PrivateKey is a signing key with the public key that verifies it.
type PrivateKey struct {
	Public *PublicKey
	signer signature.Signer
}

// ParsePrivateKey reads a PEM private key: cosign's own format (an
// "ENCRYPTED SIGSTORE PRIVATE KEY" / "ENCRYPTED COSIGN PRIVATE KEY" block,
// scrypt + secretbox, as `cosign generate-key-pair` writes it) decrypted with
// password, or a plain PKCS#8 / SEC 1 key.
func ParsePrivateKey(name string, pemBytes, password []byte) (*PrivateKey, error) {
	pf := func(bool) ([]byte, error) { return password, nil }
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, pf)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w (wrong password? set KENSA_PASSWORD or COSIGN_PASSWORD)", name, err)
	}
	s, err := signature.LoadDefaultSigner(priv)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	pk, err := ParsePublicKey(name, pubPEM)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{Public: pk, signer: s}, nil
}

// LoadPrivateKey reads a PEM private key file.
func LoadPrivateKey(path string, password []byte) (*PrivateKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return ParsePrivateKey(path, data, password)
}

// GenerateKeyPair returns a new ECDSA P-256 key pair in cosign's format: the
// private key encrypted with password (plain PKCS#8 when password is empty)
// and the PEM public key.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	var pf cryptoutils.PassFunc
	if len(password) > 0 {
		pf = func(bool) ([]byte, error) { return password, nil }
	}
	return cryptoutils.GeneratePEMEncodedECDSAKeyPair(ellipticP256(), pf)
}

// readBounded reads at most maxKeyFile bytes of path.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a key file", path, maxKeyFile)
	}
	return data, nil
}

func ellipticP256() elliptic.Curve { return elliptic.P256() }
