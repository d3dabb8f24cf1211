package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Token scopes: read sees reports and images, submit also queues scans,
// admin may do everything.
const (
	ScopeRead   = "read"
	ScopeSubmit = "submit"
	ScopeAdmin  = "admin"
)

// ValidScope reports whether s is a known scope.
func ValidScope(s string) bool { return s == ScopeRead || s == ScopeSubmit || s == ScopeAdmin }

// tokenPrefix marks kensa tokens (and makes them recognizable to secret
// scanners).
const tokenPrefix = "kensa_"

// CreateToken makes a new random token with scopes and stores its SHA-256
// hash; the token itself is returned once and never stored.
func (s *Store) CreateToken(ctx context.Context, name string, scopes []string) (string, error) {
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return "", fmt.Errorf("token scope %q: want read, submit or admin", sc)
		}
	}
	if len(scopes) == 0 {
		return "", errors.New("token needs at least one scope")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	if err := s.AddToken(ctx, name, tok, scopes); err != nil {
		return "", err
	}
	return tok, nil
}

// AddToken stores the hash of a given token (the bootstrap admin token
// from the environment); adding the same token again changes nothing.
func (s *Store) AddToken(ctx context.Context, name, tok string, scopes []string) error {
	if len(tok) < 16 {
		return errors.New("token too short: want at least 16 characters")
	}
	h := sha256.Sum256([]byte(tok))
	_, err := s.pool.Exec(ctx, "INSERT INTO tokens (name, hash, scopes) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING", name, h[:], scopes)
	if err != nil {
		return fmt.Errorf("save token %s: %w", name, err)
	}
	return nil
}

// TokenScopes returns the scopes of tok, or nil when it is unknown.
func (s *Store) TokenScopes(ctx context.Context, tok string) ([]string, error) {
	if !strings.HasPrefix(tok, tokenPrefix) && len(tok) < 16 {
		return nil, nil
	}
	h := sha256.Sum256([]byte(tok))
	var scopes []string
	err := s.pool.QueryRow(ctx, "SELECT scopes FROM tokens WHERE hash = $1", h[:]).Scan(&scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token lookup: %w", err)
	}
	return scopes, nil
}

// Allows reports whether scopes grant need: admin grants all, submit
// grants read.
func Allows(scopes []string, need string) bool {
	if slices.Contains(scopes, ScopeAdmin) {
		return true
	}
	if need == ScopeRead && slices.Contains(scopes, ScopeSubmit) {
		return true
	}
	return slices.Contains(scopes, need)
}
