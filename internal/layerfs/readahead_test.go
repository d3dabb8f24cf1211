package layerfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// oddReader returns at most max bytes per Read, like a pipe or a
// decompressor, so chunks are filled by several reads.
type oddReader struct {
	r   io.Reader
	max int
}

func (o oddReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), o.max)]) }

// TestReadaheadBytesAndHash streams inputs around the chunk size through
// the readahead, reading in odd sizes: the consumer must see exactly the
// input and the hash must be the input's SHA-256.
func TestReadaheadBytesAndHash(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 511, readaheadChunk - 1, readaheadChunk, readaheadChunk + 1, 3*readaheadChunk + 77, (readaheadBufs + 3) * readaheadChunk} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		h := sha256.New()
		ra := newReadahead(oddReader{bytes.NewReader(data), 100_003}, h)
		var got bytes.Buffer
		buf := make([]byte, 4093)
		for {
			k, err := ra.Read(buf)
			got.Write(buf[:k])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
		}
		ra.Close()
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("%d bytes: consumer saw %d different bytes", n, got.Len())
		}
		if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("%d bytes: hash differs from the input's", n)
		}
	}
}

// TestReadaheadError passes the source's error to the consumer after the
// bytes read before it.
func TestReadaheadError(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(bytes.NewReader(make([]byte, 1000)), errReader{boom})
	ra := newReadahead(src, sha256.New())
	defer ra.Close()
	got, err := io.ReadAll(ra)
	if len(got) != 1000 || !errors.Is(err, boom) {
		t.Fatalf("read %d bytes, err %v; want 1000 bytes and boom", len(got), err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestReadaheadCloseEarly stops a readahead whose consumer read one
// chunk of an endless source: Close must return (both goroutines end)
// and the source must not be read afterwards.
func TestReadaheadCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		src := &countingZeros{}
		ra := newReadahead(src, sha256.New())
		if _, err := io.ReadFull(ra, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		ra.Close()
		n := src.reads
		time.Sleep(time.Millisecond)
		if src.reads != n {
			t.Fatal("source read after Close returned")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines left running (had %d)", g, before)
	}
}

// countingZeros is an endless source of zeros that counts its reads.
type countingZeros struct{ reads int }

func (c *countingZeros) Read(p []byte) (int, error) {
	c.reads++
	clear(p)
	return len(p), nil
}
