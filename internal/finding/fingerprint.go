package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// volatile matches the parts of a message that change when nothing about
// the finding did: digests of rebuilt layers and every number (line and
// layer indexes, history steps, sizes, versions).
var volatile = regexp.MustCompile(`sha256:[0-9a-f]{6,64}|[0-9]+`)

// Fingerprint identifies a finding across scans: the same problem keeps
// its fingerprint when lines move, layers are rebuilt (new digests, new
// indexes) or a still-vulnerable package changes version. It hashes the
// rule or advisory ID, the file path inside the target or image (without
// line), the Dockerfile, the package's ecosystem and name, and the message
// with digests and numbers removed.
func Fingerprint(f Finding) string {
	h := sha256.New()
	l := f.Location
	msg := strings.Join(strings.Fields(volatile.ReplaceAllString(f.Message, "#")), " ")
	fmt.Fprintf(h, "kensa-fp/1\x00%s\x00%s\x00%s\x00%s", f.ID, l.Path, l.Dockerfile, msg)
	if f.Package != nil {
		fmt.Fprintf(h, "\x00%s\x00%s", f.Package.Ecosystem, f.Package.Name)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
