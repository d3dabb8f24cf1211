// Command floor measures the verify floor of bench/image.sh: the least work
// any scanner that checks layer digests must do. It reads every layer
// member of an image archive (docker-archive or OCI archive) once, one
// after another, decompresses gzip layers (with the same gzip package
// kensa's layer walk uses) and hashes the uncompressed bytes with SHA-256,
// as checking a layer against its DiffID requires. Nothing is parsed or
// analysed. It prints the number of layers and bytes hashed.
//
// Usage: go run ./bench/floor ARCHIVE
package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/klauspost/compress/gzip"
)

// layerName matches the layer members of docker-archives (old and new
// layouts) and OCI archives.
var layerName = regexp.MustCompile(`^(blobs/sha256/[0-9a-f]{64}|[0-9a-f]{64}(\.tar)?|[0-9a-f]{64}/layer\.tar)$`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor ARCHIVE")
		os.Exit(2)
	}
	layers, n, err := run(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Printf("%d layers, %d bytes hashed\n", layers, n)
}

// run hashes every layer member of the archive at path.
func run(path string) (layers int, hashed int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return layers, hashed, nil
		}
		if err != nil {
			return layers, hashed, err
		}
		// Config and manifest blobs are small; layers are what is read.
		if hdr.Typeflag != tar.TypeReg || !layerName.MatchString(hdr.Name) || hdr.Size <= 64<<10 {
			continue
		}
		n, err := hashMember(bufio.NewReaderSize(tr, 1<<20), buf)
		if err != nil {
			return layers, hashed, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		layers++
		hashed += n
	}
}

// hashMember hashes one layer's uncompressed bytes.
func hashMember(r *bufio.Reader, buf []byte) (int64, error) {
	var src io.Reader = r
	if magic, err := r.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		src = zr
	}
	h := sha256.New()
	return io.CopyBuffer(h, src, buf)
}
