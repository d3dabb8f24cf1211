package cli

import "github.com/kensa-sec/kensa/internal/secret"

// Secret detectors define their own rule metadata (KS-SE-*).
func init() { extraRules = append(extraRules, secret.Rules) }
