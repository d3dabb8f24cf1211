package layerfs

import (
	"hash"
	"io"
)

// readahead reads (and decompresses) a layer in one goroutine and hashes
// it in a second, a few chunks ahead of the tar walk that consumes it, so
// reading, hashing and analysis of one layer run on separate cores: a
// single big layer no longer waits for its SHA-256 between reads.
//
// Memory is bounded: readaheadBufs chunks of readaheadChunk bytes cycle
// from the reader to the hasher to the consumer and back; no stage
// allocates.
type readahead struct {
	filled chan []byte // read, not yet hashed
	chunks chan []byte // hashed, for the consumer
	free   chan []byte
	stop   chan struct{}
	done   chan struct{} // closed when both goroutines are done
	cur    []byte
	held   []byte // the chunk cur points into, returned to free when spent
	err    error  // set by the reader before filled is closed
}

const (
	// readaheadChunk fits a chunk in one core's L2 cache (512 KiB on the
	// EPYC machines here) while the next stage reads it: 512 KiB chunks
	// were no faster and cost 1.5 MB more per layer walk.
	readaheadChunk = 256 << 10
	readaheadDepth = 4
	// readaheadBufs lets each of the three stages hold a chunk while
	// readaheadDepth more wait in the queues.
	readaheadBufs = readaheadDepth + 2
)

// newReadahead starts reading src. Every byte read is written to h (when
// non-nil) before the consumer sees it, so h is complete once Read has
// returned the final error and Close has returned.
func newReadahead(src io.Reader, h hash.Hash) *readahead {
	r := &readahead{
		filled: make(chan []byte, readaheadDepth/2),
		chunks: make(chan []byte, readaheadDepth/2),
		free:   make(chan []byte, readaheadBufs),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range readaheadBufs {
		r.free <- make([]byte, readaheadChunk)
	}
	go r.hash(h)
	go r.produce(src)
	return r
}

func (r *readahead) produce(src io.Reader) {
	defer close(r.filled)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.stop:
			return
		}
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			select {
			case r.filled <- buf[:n]:
			case <-r.stop:
				return
			}
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if err != nil {
			r.err = err
			return
		}
	}
}

// hash writes each filled chunk to h and passes it on. It returns only
// after the reader has closed filled (so after the reader's err is set and
// the reader has stopped using src), closing chunks and then done.
func (r *readahead) hash(h hash.Hash) {
	defer close(r.done)
	defer close(r.chunks)
	for buf := range r.filled {
		if h != nil {
			h.Write(buf)
		}
		select {
		case r.chunks <- buf:
		case <-r.stop:
			// Drain so the reader, blocked on filled, sees stop too.
			for range r.filled {
			}
			return
		}
	}
}

func (r *readahead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.held != nil {
			r.free <- r.held[:cap(r.held)]
			r.held = nil
		}
		b, ok := <-r.chunks
		if !ok {
			return 0, r.err
		}
		r.cur, r.held = b, b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops both goroutines and waits for them, so the source may be
// used (or closed) by the caller afterwards.
func (r *readahead) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}
