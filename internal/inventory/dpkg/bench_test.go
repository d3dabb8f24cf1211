package dpkg

import (
	"os"
	"testing"
)

func BenchmarkStatus(b *testing.B) {
	in, err := os.ReadFile("testdata/status")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := (Extractor{}).Extract("/var/lib/dpkg/status", in); err != nil {
			b.Fatal(err)
		}
	}
}
