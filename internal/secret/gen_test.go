package secret

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
)

// Character sets for constructing fake credentials. Every token in these
// tests is generated from a fixed seed: none is a real credential.
const (
	csB32    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	csAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	csLetter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	csHex    = "0123456789abcdef"
	csB64    = csAlnum + "+/"
	csURL    = csAlnum + "-_"
)

var rng = rand.New(rand.NewPCG(42, 1))

// rnd returns n characters drawn from cs.
func rnd(cs string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(cs[rng.IntN(len(cs))])
	}
	return b.String()
}

func uuid() string {
	return rnd(csHex, 8) + "-" + rnd(csHex, 4) + "-" + rnd(csHex, 4) + "-" + rnd(csHex, 4) + "-" + rnd(csHex, 12)
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// pemBody returns a fake PEM body (base64 lines).
func pemBody(lines int) string {
	var b strings.Builder
	for range lines {
		b.WriteString(rnd(csB64, 64))
		b.WriteByte('\n')
	}
	return b.String()
}

func pemBlock(label string) string {
	return "-----BEGIN " + label + "-----\n" + pemBody(6) + "-----END " + label + "-----\n"
}

func jwt(header string) string {
	return b64url(header) + "." + b64url(`{"sub":"`+rnd(csAlnum, 12)+`","iat":1700000000}`) + "." + rnd(csURL, 43)
}
