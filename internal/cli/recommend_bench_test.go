package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/kensa-sec/kensa/internal/testimages"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// BenchmarkRecommendTenCandidates measures what issue 13 asks: ten
// candidate bases that share the debian-base layer (each adds one small
// layer of its own), ranked by `kensa recommend` with a fresh layer cache
// per run (the shared layer is walked once, then answered by the cache
// nine times) and with --no-cache (walked ten times).
//
//	go test -run '^$' -bench BenchmarkRecommendTenCandidates ./internal/cli/
func BenchmarkRecommendTenCandidates(b *testing.B) {
	dir := b.TempDir()
	db := filepath.Join(dir, "kensa.db")
	if _, err := vulndb.Import(vulndb.ImportOptions{DBPath: db, Paths: []string{"../vulndb/testdata/osv/Debian"}}); err != nil {
		b.Fatal(err)
	}
	base, err := tarball.ImageFromPath(testimages.Path(b, testimages.DebianBase, testimages.FormDocker), nil)
	if err != nil {
		b.Fatal(err)
	}
	var cands []string
	for i := range 10 {
		img, err := mutate.AppendLayers(base, layerOf(b, [][2]string{{fmt.Sprintf("etc/candidate-%d", i), strings.Repeat("x", 4096)}}))
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("cand%d.tar", i))
		tag, err := name.NewTag(fmt.Sprintf("cand:%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if err := tarball.WriteToFile(p, tag, img); err != nil {
			b.Fatal(err)
		}
		cands = append(cands, p)
	}
	app := testimages.Path(b, testimages.Leaky, testimages.FormDocker)
	baseRef := testimages.Path(b, testimages.DebianBase, testimages.FormLayout)
	for _, mode := range []string{"shared-layer-cache", "no-cache"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				args := []string{"recommend", "-q", "--db", db, "--base", baseRef, "--candidates", strings.Join(cands, ",")}
				if mode == "no-cache" {
					args = append(args, "--no-cache")
				} else {
					args = append(args, "--cache-dir", filepath.Join(dir, fmt.Sprintf("cache-%s-%d", b.Name(), i)))
				}
				var out, errb bytes.Buffer
				if code := Main(append(args, app), &out, &errb); code != 0 {
					b.Fatalf("recommend: exit %d: %s", code, errb.String())
				}
			}
		})
	}
}
