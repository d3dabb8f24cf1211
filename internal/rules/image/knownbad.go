package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"

	"github.com/kensa-sec/kensa/internal/layerfs"
)

//go:embed knownbad.txt
var knownBadData []byte

// badFile is one entry of knownbad.txt.
type badFile struct {
	What, Source string
}

// knownBad is the parsed list: file base names (lower case) and SHA-256
// digests (hex), and the sizes of the listed digests.
type knownBad struct {
	names   map[string]badFile
	digests map[string]badFile
	sizes   map[int64]bool
}

// parseKnownBad reads the knownbad.txt format.
func parseKnownBad(data []byte) (*knownBad, error) {
	kb := &knownBad{names: map[string]badFile{}, digests: map[string]badFile{}, sizes: map[int64]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		if len(parts) != 3 || strings.TrimSpace(parts[1]) == "" || !strings.HasPrefix(strings.TrimSpace(parts[2]), "https://") {
			return nil, fmt.Errorf("knownbad line %d: want `KIND VALUE | what | https://source`", n)
		}
		bf := badFile{What: strings.TrimSpace(parts[1]), Source: strings.TrimSpace(parts[2])}
		f := strings.Fields(parts[0])
		switch {
		case len(f) == 2 && f[0] == "name" && !strings.Contains(f[1], "/"):
			kb.names[strings.ToLower(f[1])] = bf
		case len(f) == 3 && f[0] == "sha256":
			if b, err := hex.DecodeString(f[1]); err != nil || len(b) != sha256.Size || f[1] != strings.ToLower(f[1]) {
				return nil, fmt.Errorf("knownbad line %d: %q is not a lower-case SHA-256 hex digest", n, f[1])
			}
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || size <= 0 {
				return nil, fmt.Errorf("knownbad line %d: bad size %q", n, f[2])
			}
			kb.digests[f[1]] = bf
			kb.sizes[size] = true
		default:
			return nil, fmt.Errorf("knownbad line %d: want `name BASENAME` or `sha256 HEX SIZE`", n)
		}
	}
	return kb, sc.Err()
}

// shippedBad is kensa's list; a broken list is a build-time bug (the
// tests parse it).
var shippedBad = func() *knownBad {
	kb, err := parseKnownBad(knownBadData)
	if err != nil {
		panic(err)
	}
	return kb
}()

// HashAnalyzer returns the analyzer that records the SHA-256 of every
// regular file whose size is one of the listed digests' sizes
// (LayerFacts.Digests), for KS-HI-004. Its version follows the list, so
// editing knownbad.txt invalidates cached layers.
func HashAnalyzer() layerfs.Analyzer { return hashAnalyzer{kb: shippedBad} }

type hashAnalyzer struct{ kb *knownBad }

func (hashAnalyzer) Name() string { return "image-hashes" }

func (hashAnalyzer) Version() int {
	h := fnv.New32a()
	h.Write(knownBadData)
	return int(h.Sum32() & 0x7fffffff)
}

func (a hashAnalyzer) Wants(_ string, size int64, mode fs.FileMode) bool {
	return mode.IsRegular() && a.kb.sizes[size]
}

func (a hashAnalyzer) Analyze(_ context.Context, f *layerfs.File, out *layerfs.LayerFacts) error {
	sum := sha256.Sum256(f.Content)
	if d := hex.EncodeToString(sum[:]); a.kb.digests[d] != (badFile{}) {
		if out.Digests == nil {
			out.Digests = map[string]string{}
		}
		out.Digests[f.Path] = d
	}
	return nil
}
