package image

import (
	"context"
	"io/fs"

	"github.com/kensa-sec/kensa/internal/layerfs"
)

// keptFiles are the small files the image rules read from the merged view.
var keptFiles = map[string]bool{
	"/etc/passwd": true, "/etc/group": true, "/etc/os-release": true, "/usr/lib/os-release": true,
}

// maxKeptFile bounds the size of a kept file.
const maxKeptFile = 256 << 10

// FilesAnalyzer returns the analyzer that keeps the content of the small
// files the image rules need (/etc/passwd, /etc/group, os-release) in
// LayerFacts.Files. The image engine adds it to the layer walk.
func FilesAnalyzer() layerfs.Analyzer { return filesAnalyzer{} }

type filesAnalyzer struct{}

func (filesAnalyzer) Name() string { return "image-files" }
func (filesAnalyzer) Version() int { return 1 }

func (filesAnalyzer) Wants(p string, size int64, mode fs.FileMode) bool {
	return mode.IsRegular() && size <= maxKeptFile && keptFiles[p]
}

func (filesAnalyzer) Analyze(_ context.Context, f *layerfs.File, out *layerfs.LayerFacts) error {
	if out.Files == nil {
		out.Files = map[string][]byte{}
	}
	out.Files[f.Path] = append([]byte(nil), f.Content...)
	return nil
}
