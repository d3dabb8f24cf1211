package fix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	dfrules "github.com/kensa-sec/kensa/internal/rules/dockerfile"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// mirror is an in-process registry (go-containerregistry's pkg/registry)
// holding an image for every reference pushed; its resolver asks it, over
// HTTP, for the digest of the same repository and tag.
type mirror struct {
	host   string
	pushed map[string]string // original reference → digest pushed
}

func newMirror(t testing.TB) *mirror {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &mirror{host: u.Host, pushed: map[string]string{}}
}

// local returns the mirror's name for ref.
func (m *mirror) local(ref string) (name.Reference, error) {
	nr, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	tag := "latest"
	if t, ok := nr.(name.Tag); ok {
		tag = t.TagStr()
	}
	return name.ParseReference(fmt.Sprintf("%s/%s:%s", m.host, nr.Context().RepositoryStr(), tag))
}

// push stores a random image under ref's repository and tag.
func (m *mirror) push(t testing.TB, ref string) {
	t.Helper()
	if _, ok := m.pushed[ref]; ok {
		return
	}
	lr, err := m.local(ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(lr, img); err != nil {
		t.Fatalf("push %s: %v", lr, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m.pushed[ref] = d.String()
}

// Digest resolves ref against the mirror with the real Registry resolver.
func (m *mirror) Digest(ctx context.Context, ref string) (string, error) {
	lr, err := m.local(ref)
	if err != nil {
		return "", err
	}
	return (&Registry{}).Digest(ctx, lr.String())
}

// lint parses and lints data.
func lint(t testing.TB, data []byte) (*df.File, []finding.Finding) {
	t.Helper()
	f, err := df.Parse("Dockerfile", data)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	return f, dfrules.Lint(f, dfrules.Options{})
}

// alignLines maps each instruction start line of before to the line of the
// same instruction in after. Fixes only insert RUN and USER instructions
// (and turn ADD into COPY), so a greedy walk aligns them; anything else
// is an error.
func alignLines(before, after *df.File) (map[int]int, error) {
	m := map[int]int{}
	j := 0
	same := func(a, b string) bool { return a == b || a == "add" && b == "copy" }
	for _, in := range before.Instructions {
		for j < len(after.Instructions) && !same(in.Cmd, after.Instructions[j].Cmd) {
			if c := after.Instructions[j].Cmd; c != "run" && c != "user" {
				return nil, fmt.Errorf("line %d: unexpected %s in the fixed file", after.Instructions[j].StartLine, c)
			}
			j++
		}
		if j == len(after.Instructions) {
			return nil, fmt.Errorf("line %d: %s lost in the fixed file", in.StartLine, in.Cmd)
		}
		m[in.StartLine] = after.Instructions[j].StartLine
		j++
	}
	for ; j < len(after.Instructions); j++ {
		if c := after.Instructions[j].Cmd; c != "run" && c != "user" {
			return nil, fmt.Errorf("line %d: unexpected trailing %s in the fixed file", after.Instructions[j].StartLine, c)
		}
	}
	return m, nil
}

var digitsRe = regexp.MustCompile(`[0-9]+`)

// buildkitInstructions parses data with BuildKit's parser and then its
// instruction parser, as a build does before running anything.
func buildkitInstructions(data []byte) error {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return err
	}
	_, _, err = instructions.Parse(res.AST, nil)
	return err
}

// roundTrip checks one fix result: the fixed file parses, every applied
// fix's finding is gone, the other findings are the same (same rule, same
// instruction, same message where the instruction was not edited), no new
// finding appeared, and fixing again changes nothing. It returns the
// number of findings cleared per rule.
func roundTrip(t *testing.T, name string, orig []byte, res *Result, opts Options) map[string]int {
	t.Helper()
	bf, before := lint(t, orig)
	af, err := df.Parse("Dockerfile", res.Fixed)
	if err != nil {
		t.Fatalf("%s: fixed file does not parse: %v\n%s", name, err, res.Fixed)
	}
	after := dfrules.Lint(af, dfrules.Options{})
	// BuildKit's instruction parser (flags, JSON forms, stage names) must
	// accept the fixed file whenever it accepted the original.
	if err := buildkitInstructions(orig); err == nil {
		if err := buildkitInstructions(res.Fixed); err != nil {
			t.Errorf("%s: BuildKit's instruction parser rejects the fixed file: %v\n%s", name, err, res.Fixed)
		}
	}
	lm, err := alignLines(bf, af)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	mapLine := func(l int) int {
		if n, ok := lm[l]; ok {
			return n
		}
		return l // line 1 findings without an instruction
	}
	edited := map[int]bool{}
	origText := map[int]string{}
	for _, in := range bf.Instructions {
		origText[in.StartLine] = in.Original
	}
	for _, in := range af.Instructions {
		edited[in.StartLine] = true
	}
	for l, n := range lm {
		if a := instructionAt(af, n); a != nil && a.Original == origText[l] {
			delete(edited, n)
		}
	}
	want := map[string]int{}
	for _, fd := range before {
		want[fd.ID+"@"+itoa(mapLine(fd.Location.Line))]++
	}
	cleared := map[string]int{}
	for _, a := range res.Applied {
		k := a.Rule + "@" + itoa(mapLine(a.Line))
		want[k]--
		cleared[a.Rule]++
		for _, id := range a.Also {
			want[id+"@"+itoa(mapLine(a.Line))]--
			cleared[id]++
		}
	}
	got := map[string]int{}
	for _, fd := range after {
		got[fd.ID+"@"+itoa(fd.Location.Line)]++
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] < 0 {
			t.Errorf("%s: %s: more fixes applied than findings", name, k)
		}
		if got[k] != max(want[k], 0) {
			t.Errorf("%s: finding %s: want %d after fixing, got %d\nfixed file:\n%s", name, k, max(want[k], 0), got[k], res.Fixed)
		}
	}
	// Messages of findings on instructions the fix did not touch are unchanged.
	msgs := map[string]int{}
	for _, fd := range before {
		l := mapLine(fd.Location.Line)
		if !edited[l] {
			msgs[fd.ID+"@"+itoa(l)+" "+digitsRe.ReplaceAllString(fd.Message, "N")]++
		}
	}
	for _, fd := range after {
		if edited[fd.Location.Line] {
			continue
		}
		k := fd.ID + "@" + itoa(fd.Location.Line) + " " + digitsRe.ReplaceAllString(fd.Message, "N")
		if msgs[k] == 0 {
			t.Errorf("%s: finding changed or new: %s", name, k)
		}
		msgs[k]--
	}
	again, err := Fix(context.Background(), "Dockerfile", res.Fixed, opts)
	if err != nil {
		t.Fatalf("%s: second fix: %v", name, err)
	}
	if again.Changed() {
		t.Errorf("%s: fixing twice is not idempotent:\n%s", name, again.Diff())
	}
	return cleared
}

// appliedText renders the applied fixes and notes for golden files.
func appliedText(res *Result) string {
	var sb strings.Builder
	for _, a := range res.Applied {
		fmt.Fprintf(&sb, "fixed %s line %d: %s", a.Rule, a.Line, a.Change)
		if len(a.Also) > 0 {
			fmt.Fprintf(&sb, " (also clears %s)", strings.Join(a.Also, ", "))
		}
		sb.WriteString("\n")
	}
	for _, l := range res.Left {
		fmt.Fprintf(&sb, "left %s line %d: %s\n", l.Rule, l.Line, l.Reason)
	}
	return sb.String()
}
