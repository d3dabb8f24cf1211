package layerfs

import (
	"io"
)

// readahead decompresses (and hashes) a layer in its own goroutine, a few
// chunks ahead of the tar walk that consumes it, so decompression and
// analysis of one layer use two cores.
type readahead struct {
	chunks chan []byte
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	cur    []byte
	held   []byte // the chunk cur points into, returned to free when spent
	err    error  // set by the producer before chunks is closed
}

const (
	readaheadChunk = 512 << 10
	readaheadDepth = 4
)

func newReadahead(src io.Reader) *readahead {
	r := &readahead{
		chunks: make(chan []byte, readaheadDepth),
		free:   make(chan []byte, readaheadDepth+1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range readaheadDepth + 1 {
		r.free <- make([]byte, readaheadChunk)
	}
	go r.produce(src)
	return r
}

func (r *readahead) produce(src io.Reader) {
	defer close(r.done)
	defer close(r.chunks)
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
			case r.chunks <- buf[:n]:
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

// Close stops the producer and waits for it, so the source may be used
// (or closed) by the caller afterwards.
func (r *readahead) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}
