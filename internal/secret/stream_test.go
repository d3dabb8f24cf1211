package secret

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// streamCorpus returns content of about n bytes mixing text lines, binary
// runs and every detector's positive cases, with positives also planted
// across each piece boundary of a stream with the given piece and overlap
// (where a match must be taken from the next piece).
func streamCorpus(r *rand.Rand, n, piece, over int) []byte {
	var pos []string
	for _, tc := range detectorCases() {
		pos = append(pos, tc.positives...)
	}
	var b []byte
	// Boundaries of the regions a stream takes matches from: piece+over,
	// then every piece after it.
	next := piece + over
	for len(b) < n {
		if len(b) < next && len(b)+200 > next {
			// Start a secret a few bytes either side of the boundary.
			lead := next - len(b) - 40 + r.IntN(80)
			b = append(b, bytes.Repeat([]byte{'\n'}, max(lead, 0))...)
			b = append(b, pos[r.IntN(len(pos))]...)
			b = append(b, '\n')
			next += piece
			continue
		}
		switch r.IntN(4) {
		case 0:
			b = append(b, pos[r.IntN(len(pos))]...)
			b = append(b, '\n')
		case 1:
			b = append(b, elfBlob(r, 1+r.IntN(3000))...)
		default:
			for range 1 + r.IntN(20) {
				b = append(b, rnd(csLetter+"  =:", 1+r.IntN(90))...)
				b = append(b, '\n')
			}
		}
	}
	return b
}

// feed writes b to st in pieces of random sizes.
func feed(r *rand.Rand, st *Stream, b []byte) []Match {
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(300<<10))
		st.Write(b[:n])
		b = b[n:]
	}
	return st.Close()
}

// TestStreamMatchesScan: scanning content in pieces finds exactly what
// one scan of the whole content finds, at the same offsets and lines,
// including secrets that straddle piece boundaries.
func TestStreamMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, tc := range []struct{ piece, over int }{
		{streamPiece, streamOverlap},
		{96 << 10, streamOverlap},
	} {
		data := streamCorpus(r, 3*tc.piece+tc.piece/2, tc.piece, tc.over)
		want := Scan(data)
		got := feed(r, newStream(defaultScanner(), tc.piece, tc.over, 0), data)
		if len(want) < 100 {
			t.Fatalf("corpus too thin: %d matches", len(want))
		}
		if testing.Verbose() {
			t.Logf("piece %d: %d matches in %d bytes", tc.piece, len(want), len(data))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("piece %d: stream found %d matches, whole scan %d; first difference: %s",
				tc.piece, len(got), len(want), firstDiff(got, want))
		}
		checkMatches(t, data, got)
	}
}

func firstDiff(a, b []Match) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i].RuleID + " vs " + b[i].RuleID
		}
	}
	return "length"
}

// TestStreamLimit: a stream keeps the first limit matches and counts all.
func TestStreamLimit(t *testing.T) {
	var b []byte
	for range 300 {
		b = append(b, "hf_"+rnd(csLetter, 34)+"\n"...)
	}
	b = append(b, bytes.Repeat([]byte("x\n"), streamPiece)...)
	b = append(b, "hf_"+rnd(csLetter, 34)+"\n"...)
	all := Scan(b)
	st := newStream(defaultScanner(), 4<<10, streamOverlap, 10)
	got := feed(rand.New(rand.NewPCG(1, 1)), st, b)
	if len(all) != 301 || st.Count() != len(all) || !reflect.DeepEqual(got, all[:10]) {
		t.Fatalf("limit 10: kept %d, counted %d, whole scan %d", len(got), st.Count(), len(all))
	}
	if ms := NewStream(0).Close(); ms != nil {
		t.Fatalf("empty stream found %v", ms)
	}
}

// FuzzStream places fuzz data across a piece boundary of a stream (lead
// says where) and compares the stream with one scan of the whole.
func FuzzStream(f *testing.F) {
	f.Add([]byte("GITHUB_TOKEN=ghp_"+rnd(csAlnum, 36)), uint16(20))
	f.Add([]byte(pemBlock("RSA PRIVATE KEY")), uint16(100))
	f.Add([]byte("password = \"Tr0ub4dor&3xyz\"\npassword=ghp_"+rnd(csAlnum, 36)), uint16(7))
	const piece, over = 8 << 10, streamOverlap
	filler := bytes.Repeat([]byte("some filler text, 0123456789\n"), (piece+3*over)/29)
	f.Fuzz(func(t *testing.T, data []byte, lead uint16) {
		at := piece + over - int(lead%2048)
		content := append(append(append([]byte(nil), filler[:at]...), data...), filler...)
		want := Scan(content)
		got := feed(rand.New(rand.NewPCG(uint64(lead), 0)), newStream(defaultScanner(), piece, over, 0), content)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stream found %v, whole scan %v", ruleIDs(got), ruleIDs(want))
		}
	})
}
