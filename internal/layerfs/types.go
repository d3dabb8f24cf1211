// Package layerfs walks image layers: it reads each layer's tar stream once,
// offers files to analyzers that asked for them, and merges layers (whiteouts,
// opaque directories) into a final view with a per-path history.
package layerfs

import (
	"context"
	"io/fs"
	"math"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// EntryType is the kind of a layer entry.
type EntryType uint8

// Entry types.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeSymlink
	TypeHardlink
	TypeOther // devices, fifos
)

// Entry is one normalized tar header of a layer. An image holds one per
// path per layer (hundreds of thousands in a big image) and the merged
// view refers to them instead of copying, so the fields are laid out to
// fit 56 bytes plus the path.
type Entry struct {
	// Path is cleaned and absolute ("/etc/passwd"); never contains "..".
	Path     string `json:"p"`
	Linkname string `json:"l,omitempty"`
	Size     int64  `json:"s,omitempty"`
	// Mode is the permissions plus fs.ModeSetuid/ModeSetgid/ModeSticky.
	Mode fs.FileMode `json:"m"`
	// UID and GID are the owner ids (tar ids beyond 32 bits are clamped,
	// see ID).
	UID  int32     `json:"u,omitempty"`
	GID  int32     `json:"g,omitempty"`
	Type EntryType `json:"t"`
	// Whiteout marks an entry that deletes Path from lower layers; Opaque
	// marks a directory whose lower-layer contents are hidden.
	Whiteout bool `json:"w,omitempty"`
	Opaque   bool `json:"o,omitempty"`
}

// ID converts a tar header's uid or gid to an Entry's, clamping values a
// hostile archive may carry beyond the 32-bit range.
func ID(v int) int32 {
	return int32(max(min(v, math.MaxInt32), math.MinInt32))
}

// File is a regular file offered to an analyzer, with its content.
type File struct {
	Entry
	// Content holds the whole file (at most the walk's per-file cap; files
	// above it are never offered and are recorded in LayerFacts.Skipped).
	// It is only valid during Analyze: the walk reuses the buffer for the
	// next file, so an analyzer must copy any bytes it keeps (string(b),
	// append([]byte(nil), b...)) and must not hand Content to anything that
	// outlives the call (goroutines, caches, sub-slices in its output).
	// It is read-only: for a layer walked from a memory map it is the
	// mapped file itself, unmapped once the layer is done.
	Content []byte
	// Layer is the index of the layer being walked.
	Layer int
}

// Analyzer extracts facts from the files of one layer. The walk asks Wants
// for every regular file and calls Analyze with the content of those
// wanted. Layers are walked in parallel, so an Analyzer must be safe for
// concurrent use; within one layer calls are sequential, so writing to out
// needs no locking. Name and Version form the layer-cache key: bump Version
// whenever the analyzer's output for the same bytes changes.
type Analyzer interface {
	Name() string
	Version() int
	Wants(path string, size int64, mode fs.FileMode) bool
	Analyze(ctx context.Context, f *File, out *LayerFacts) error
}

// Streamer is an Analyzer that can also take a file's content in pieces,
// so that a large file costs the walk one piece of memory instead of its
// size. The walk streams a file larger than StreamThreshold when every
// analyzer that wants it returns a Sink for it; otherwise each gets the
// whole content through Analyze, as any Analyzer does.
type Streamer interface {
	Analyzer
	// Stream returns a sink for f's content (f.Content is nil), or nil
	// when this file must be analyzed whole.
	Stream(f *File) Sink
}

// Sink takes one file's content in order, for a Streamer.
type Sink interface {
	// Write takes the next piece of content; p is only valid during the
	// call.
	Write(p []byte)
	// Close ends the file and records what was found in out.
	Close(ctx context.Context, out *LayerFacts) error
}

// StreamThreshold is the size above which a file is streamed to
// analyzers that can take it in pieces (see Streamer); it is also the
// size of those pieces.
const StreamThreshold = 1 << 20

// Skip records a file that was not analyzed and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// LayerFacts is everything the walk learned from one layer. It is what the
// layer cache stores (keyed by DiffID and analyzer versions), so every field
// but Entries must survive a JSON round trip.
type LayerFacts struct {
	Index  int    `json:"index"`
	Digest string `json:"digest"`
	DiffID string `json:"diff_id"`
	// Size is the uncompressed byte count of the layer's files.
	Size int64 `json:"size"`
	// Entries holds every path of the layer, packed; the layer cache
	// stores them in its own binary form, not as JSON.
	Entries Entries `json:"-"`
	// RegularFiles counts the regular files the layer writes.
	RegularFiles int `json:"regular_files"`
	// Packages found by inventory extractors; Layer is set to Index.
	Packages []inventory.Package `json:"packages,omitempty"`
	// OS is set when the layer holds an os-release file.
	OS *inventory.OS `json:"os,omitempty"`
	// Owners maps the language-package metadata files that an OS package
	// manager installed (a Python dist's METADATA listed in a dpkg
	// /var/lib/dpkg/info/*.list file, say) to the owning list file's path
	// and package: Resolve marks those packages as managed by it.
	Owners map[string]Owner `json:"owners,omitempty"`
	// Findings from per-file analyzers (secrets, credential files), with
	// Location.Path set to the file; layer fields are filled by the merge.
	Findings []finding.Finding `json:"findings,omitempty"`
	// Files keeps the content of small files image rules read from the
	// merged view (/etc/passwd, /etc/group, /etc/os-release), by path.
	Files   map[string][]byte `json:"files,omitempty"`
	Skipped []Skip            `json:"skipped,omitempty"`
	// Escapes are the entries whose raw name or link target leaves the
	// root (normalised in Entries; at most 64 kept per layer).
	Escapes []Escape `json:"escapes,omitempty"`
	// Digests holds the SHA-256 (hex), by path, of the files an analyzer
	// found on a list of digests (the image rules' known-bad files).
	Digests map[string]string `json:"digests,omitempty"`
}

// Owner is the OS package that installed a file: Manager is the package
// type ("deb"), Name the package and List the file listing it
// (/var/lib/dpkg/info/python3-urllib3.list).
type Owner struct {
	Manager string `json:"manager"`
	Name    string `json:"name"`
	List    string `json:"list"`
}
