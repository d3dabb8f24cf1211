package buildctx

import (
	"bytes"
	"io"
	"os"
	"path"
	"strings"
)

// Sensitive says why a context path looks like a secret, or returns "" when
// it does not. It judges the slash-separated context-relative path by name
// only; NPMRCNeedsContent reports the names (.npmrc) that count only when
// their content holds a credential.
//
// Covered: .env files (but not .env.example/.sample/.template/.dist), the
// .git folder, .ssh folders, SSH private keys, *.pem/*.key/*.p12/*.pfx/*.jks
// key material, .aws/credentials, .npmrc, .pypirc, .netrc, .git-credentials,
// .pgpass, .htpasswd, credentials.json and OAuth client secrets, kube
// configs, .docker/config.json and Terraform state.
func Sensitive(p string) string {
	parts := strings.Split(p, "/")
	base := parts[len(parts)-1]
	lower := strings.ToLower(base)
	for i, c := range parts[:len(parts)-1] {
		switch c {
		case ".git":
			return "git metadata (history may hold removed secrets)"
		case ".ssh":
			return "SSH folder"
		case ".aws":
			if lower == "credentials" {
				return "AWS credentials"
			}
		case ".kube":
			if lower == "config" {
				return "Kubernetes config"
			}
		case ".docker":
			if lower == "config.json" && i == len(parts)-2 {
				return "Docker registry credentials"
			}
		}
	}
	switch {
	case lower == ".env" || lower == ".envrc":
		return "environment file"
	case strings.HasPrefix(lower, ".env."):
		switch strings.TrimPrefix(lower, ".env.") {
		case "example", "sample", "template", "dist", "defaults", "schema":
			return ""
		}
		return "environment file"
	case lower == "id_rsa" || lower == "id_dsa" || lower == "id_ecdsa" || lower == "id_ed25519":
		return "SSH private key"
	case lower == ".npmrc":
		return "npm credentials"
	case lower == ".pypirc":
		return "PyPI credentials"
	case lower == ".netrc" || lower == "_netrc":
		return "netrc credentials"
	case lower == ".git-credentials":
		return "git credentials"
	case lower == ".pgpass":
		return "PostgreSQL password file"
	case lower == ".htpasswd":
		return "htpasswd file"
	case lower == "credentials.json" || (strings.HasPrefix(lower, "client_secret") && strings.HasSuffix(lower, ".json")):
		return "cloud credentials"
	case lower == "kubeconfig" || strings.HasSuffix(lower, ".kubeconfig"):
		return "Kubernetes config"
	case strings.HasSuffix(lower, ".tfstate") || strings.HasSuffix(lower, ".tfstate.backup"):
		return "Terraform state (holds resource secrets)"
	}
	switch path.Ext(lower) {
	case ".pem", ".key":
		return "private key or certificate"
	case ".p12", ".pfx", ".jks", ".keystore":
		return "key store"
	}
	return ""
}

// NPMRCNeedsContent reports whether p is an .npmrc, which counts as
// sensitive only when its content holds a credential (see NPMRCHasToken).
func NPMRCNeedsContent(p string) bool { return strings.EqualFold(path.Base(p), ".npmrc") }

// maxNPMRC bounds how much of an .npmrc is read.
const maxNPMRC = 1 << 20

// NPMRCHasToken reports whether the .npmrc at file holds an auth token or
// password (`_authToken`, `_auth`, `_password`). Only the first MB is read.
func NPMRCHasToken(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxNPMRC))
	if err != nil {
		return false, err
	}
	for _, k := range [][]byte{[]byte("_authToken"), []byte("_auth"), []byte("_password")} {
		if bytes.Contains(b, k) {
			return true, nil
		}
	}
	return false, nil
}
