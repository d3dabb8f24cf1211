package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options configure loading.
type Options struct {
	Limits Limits
	// Env holds the variables compose interpolation sees; unset ones read
	// as empty (listed in a note). The process environment is not used, so
	// a scan does not depend on (or leak) the caller's variables.
	Env map[string]string
	// WorkingDir is where compose resolves `extends: file:` (default the
	// compose file's folder).
	WorkingDir string
}

// Stats says what a load read.
type Stats struct {
	Format    Format // format of the file (compose, or kubernetes for a stream)
	Documents int
	Objects   int // workloads checked (compose services, k8s/Knative objects with a pod spec)
	Skips     []Skip
	Notes     []string
}

// SkipNotes summarises skips as report notes: one line per file and
// reason, with kinds counted.
func (st *Stats) SkipNotes() []string {
	type key struct{ file, reason string }
	groups := map[key]map[string]int{}
	var order []key
	for _, s := range st.Skips {
		k := key{s.File, s.Reason}
		if groups[k] == nil {
			groups[k] = map[string]int{}
			order = append(order, k)
		}
		groups[k][s.Kind]++
	}
	var out []string
	for _, k := range order {
		var kinds []string
		for kind, n := range groups[k] {
			if kind == "" {
				kind = "document"
			}
			kinds = append(kinds, fmt.Sprintf("%s ×%d", kind, n))
		}
		sort.Strings(kinds)
		out = append(out, fmt.Sprintf("%s: skipped (%s): %s", k.file, k.reason, strings.Join(kinds, ", ")))
	}
	return out
}

// ErrNotManifest says the input is YAML but neither a compose file nor
// Kubernetes/Knative objects.
var ErrNotManifest = errors.New("neither a compose file nor Kubernetes/Knative objects")

// LoadFile opens path ("-": standard input) and loads it with Load.
func LoadFile(ctx context.Context, path string, opts Options, fn func(*Workload) error) (*Stats, error) {
	if path == "-" {
		return Load(ctx, "<stdin>", os.Stdin, opts, fn)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	defer f.Close()
	return Load(ctx, path, f, opts, fn)
}

// Load reads one manifest file (name is used in locations and errors) and
// calls fn for each workload, one document at a time. A compose file is
// loaded whole (bounded by Limits.MaxComposeBytes); a Kubernetes stream is
// split into documents and each decoded on its own, so memory does not
// grow with the number of documents. Unsupported kinds become Skips.
func Load(ctx context.Context, name string, r io.Reader, opts Options, fn func(*Workload) error) (*Stats, error) {
	lim := opts.Limits.withDefaults()
	st := &Stats{Format: FormatKubernetes}
	sp := newSplitter(r, name, lim.MaxDocumentBytes)
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		d, err := sp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
		st.Documents++
		root, err := decode(name, d, lim)
		if err != nil {
			return st, err
		}
		if root == nil {
			continue
		}
		if first && isCompose(root) {
			return st, loadComposeStream(ctx, name, d, sp, opts, lim, st, fn)
		}
		first = false
		if err := kubeObjects(name, root, d.offset, st, fn); err != nil {
			return st, err
		}
	}
	if st.Objects == 0 && len(st.Skips) > 0 && allNotObjects(st.Skips) {
		return st, &Error{File: name, Msg: ErrNotManifest.Error()}
	}
	return st, nil
}

func allNotObjects(sk []Skip) bool {
	for _, s := range sk {
		if s.Kind != "" {
			return false
		}
	}
	return true
}

// loadComposeStream gathers the rest of a compose file (bounded) and loads it.
func loadComposeStream(ctx context.Context, name string, d document, sp *splitter, opts Options, lim Limits, st *Stats, fn func(*Workload) error) error {
	st.Format = FormatCompose
	var buf bytes.Buffer
	buf.Write(d.data)
	for {
		nd, err := sp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		st.Documents++
		buf.Write(nd.data)
		if buf.Len() > lim.MaxComposeBytes {
			return &Error{File: name, Msg: fmt.Sprintf("compose file larger than the %d MiB limit", lim.MaxComposeBytes>>20)}
		}
	}
	data := buf.Bytes()
	// Compose files are one document in practice; the line map is the
	// first document's (its offset is 0 unless comments or directives
	// precede it, which the splitter keeps in the document).
	raw, err := decode(name, document{data: data}, lim)
	if err != nil {
		return err
	}
	return loadCompose(ctx, name, data, raw, opts, st, fn)
}

// Sniff reports the format of a manifest from its first document (at most
// the document limit is read): compose, kubernetes/knative, or "" when it
// is neither (or not YAML).
func Sniff(r io.Reader) Format {
	sp := newSplitter(io.LimitReader(r, DefaultMaxDocumentBytes+1), "", DefaultMaxDocumentBytes)
	for i := 0; i < 8; i++ {
		d, err := sp.next()
		if err != nil {
			return ""
		}
		// Only the top-level keys are looked at: no alias expansion check
		// here (Load refuses YAML bombs with a proper error).
		var root yaml.Node
		if err := yaml.Unmarshal(d.data, &root); err != nil {
			return ""
		}
		if root.Kind == 0 {
			continue
		}
		if isCompose(&root) {
			return FormatCompose
		}
		if isKubeObject(deref(&root)) {
			return FormatKubernetes
		}
		return ""
	}
	return ""
}

// SniffFile is Sniff on a file; "" when it cannot be read.
func SniffFile(path string) Format {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	return Sniff(f)
}
