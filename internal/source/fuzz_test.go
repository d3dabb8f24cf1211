package source

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/layerfs"
)

// FuzzOpenArchive feeds arbitrary bytes as an image archive: opening and
// walking it must give an image or an error naming the file, never a
// panic, and never read more than the limits allow.
func FuzzOpenArchive(f *testing.F) {
	member := func(tw *tar.Writer, name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
		tw.Write([]byte(body))
	}
	var docker, oci bytes.Buffer
	tw := tar.NewWriter(&docker)
	member(tw, "manifest.json", `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`)
	member(tw, "c.json", `{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}`)
	member(tw, "l.tar", string(make([]byte, 1024)))
	tw.Close()
	tw = tar.NewWriter(&oci)
	member(tw, "oci-layout", `{"imageLayoutVersion":"1.0.0"}`)
	member(tw, "index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}]}`)
	tw.Close()
	f.Add(docker.Bytes())
	f.Add(oci.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := OpenArchiveReader("fuzz.tar", bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.tar: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		defer im.Close()
		var blobs []layerfs.Blob
		for _, l := range im.Layers {
			blobs = append(blobs, layerfs.Blob{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, DigestVerified: l.DigestVerified, Open: l.Open})
		}
		layerfs.Walk(context.Background(), blobs, layerfs.WalkOptions{MaxLayerBytes: 1 << 20, MaxImageBytes: 4 << 20, MaxEntries: 1000})
	})
}
