package rego

import (
	"io/fs"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

// Input is the document a policy sees as `input`. Which parts are set
// depends on the target (docs/policies.md): a Dockerfile target has
// Dockerfile, an image has Image (and Dockerfile when --dockerfile names
// the one that built it), every target has Report.
type Input struct {
	// Kind is the report's target kind: "dockerfile", "dockerfile+image",
	// "image", "rootfs" or "sbom".
	Kind       string      `json:"kind"`
	Target     string      `json:"target"`
	Dockerfile *Dockerfile `json:"dockerfile,omitempty"`
	Image      *Image      `json:"image,omitempty"`
	// OS and Packages are the inventory (image, rootfs and SBOM targets,
	// when the vuln scanner ran).
	OS       *inventory.OS       `json:"os,omitempty"`
	Packages []inventory.Package `json:"packages"`
	Report   Report              `json:"report"`
}

// Report is the report so far: the findings the other scanners made that
// no ignore entry, inline comment, VEX statement or config rule
// suppressed, and their counts by severity.
type Report struct {
	Findings []finding.Finding `json:"findings"`
	Summary  finding.Summary   `json:"summary"`
}

// Dockerfile is the Dockerfile model (internal/dockerfile) without its
// cycles: stages name their base stage by index.
type Dockerfile struct {
	Path         string         `json:"path"`
	Syntax       string         `json:"syntax"`
	GlobalArgs   []*Instruction `json:"global_args"`
	Stages       []*Stage       `json:"stages"`
	Instructions []*Instruction `json:"instructions"`
}

// Stage is one FROM block.
type Stage struct {
	Index    int      `json:"index"`
	Name     string   `json:"name"`
	Base     ImageRef `json:"base"`
	Platform string   `json:"platform"`
	// BaseStage is the index of the earlier stage this one builds on, or
	// -1 when it builds on an image.
	BaseStage int `json:"base_stage"`
	// Final is true for the last stage (the one that makes the image).
	Final bool `json:"final"`
	// CopiesFrom lists the indexes of stages COPY --from names.
	CopiesFrom   []int             `json:"copies_from"`
	Args         map[string]string `json:"args"`
	From         *Instruction      `json:"from"`
	Instructions []*Instruction    `json:"instructions"`
}

// ImageRef is a FROM reference split into its parts.
type ImageRef struct {
	Raw              string `json:"raw"`
	Resolved         string `json:"resolved"`
	Registry         string `json:"registry"`
	RegistryExplicit bool   `json:"registry_explicit"`
	Repository       string `json:"repository"`
	Tag              string `json:"tag"`
	Digest           string `json:"digest"`
	Scratch          bool   `json:"scratch"`
	Unresolved       bool   `json:"unresolved"`
}

// Instruction is one Dockerfile instruction.
type Instruction struct {
	// Cmd is the lower-case keyword ("from", "run", "copy", ...).
	Cmd       string     `json:"cmd"`
	Args      []string   `json:"args"`
	Flags     []string   `json:"flags"`
	JSON      bool       `json:"json"`
	Original  string     `json:"original"`
	StartLine int        `json:"start_line"`
	EndLine   int        `json:"end_line"`
	KeyValues []KeyValue `json:"key_values"`
	Heredocs  []Heredoc  `json:"heredocs"`
	// Stage is the index of the stage holding it, -1 for global ARGs.
	Stage int `json:"stage"`
	// Commands are a RUN's simple commands (argv without quotes).
	Commands [][]string   `json:"commands"`
	OnBuild  *Instruction `json:"onbuild,omitempty"`
}

// KeyValue is an ENV/LABEL pair or an ARG declaration.
type KeyValue struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	HasValue bool   `json:"has_value"`
}

// Heredoc is a heredoc body.
type Heredoc struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Image is an image's config, history, layers and final filesystem.
type Image struct {
	Reference   string              `json:"reference"`
	Digest      string              `json:"digest"`
	OS          string              `json:"os"`
	Platform    string              `json:"platform"`
	Size        int64               `json:"size"`
	WastedBytes int64               `json:"wasted_bytes"`
	Efficiency  float64             `json:"efficiency"`
	Config      Config              `json:"config"`
	History     []History           `json:"history"`
	Layers      []finding.LayerInfo `json:"layers"`
	// Files maps every path of the final filesystem to its metadata.
	Files map[string]File `json:"files"`
}

// Config is the image config's runtime part.
type Config struct {
	User         string            `json:"user"`
	Env          map[string]string `json:"env"`
	Labels       map[string]string `json:"labels"`
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	WorkingDir   string            `json:"working_dir"`
	ExposedPorts []string          `json:"exposed_ports"`
	Volumes      []string          `json:"volumes"`
	StopSignal   string            `json:"stop_signal"`
	Healthcheck  []string          `json:"healthcheck"`
	Author       string            `json:"author"`
	Created      string            `json:"created"`
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
}

// History is one history entry, traced to its Dockerfile line when known.
type History struct {
	CreatedBy string `json:"created_by"`
	// Layer is the index of the layer the entry made, -1 for none.
	Layer          int    `json:"layer"`
	Dockerfile     string `json:"dockerfile"`
	DockerfileLine int    `json:"dockerfile_line"`
}

// File is one path of the final filesystem.
type File struct {
	// Type is "file", "dir", "symlink", "hardlink" or "other".
	Type string `json:"type"`
	Size int64  `json:"size"`
	// Mode is the permission bits (e.g. 493 for 0755); Setuid, Setgid
	// and Sticky are the special bits.
	Mode   int    `json:"mode"`
	Setuid bool   `json:"setuid"`
	Setgid bool   `json:"setgid"`
	Sticky bool   `json:"sticky"`
	UID    int32  `json:"uid"`
	GID    int32  `json:"gid"`
	Link   string `json:"link"`
	// Layer is the index of the layer that wrote the path last.
	Layer int `json:"layer"`
}

// Subjects are what a scan hands to NewInput: the report and whatever
// models the scanners built (nil when absent).
type Subjects struct {
	Dockerfile *dockerfile.File
	Image      *imagescan.Result
}

// NewInput builds the policy input for a scan. rep is the report after
// suppressions; its findings are copied.
func NewInput(rep *finding.Report, s Subjects) *Input {
	in := &Input{
		Kind: rep.TargetKind, Target: rep.Target, OS: rep.OS,
		Packages: rep.Packages,
		Report:   Report{Findings: rep.Findings, Summary: rep.Summary},
	}
	if in.Packages == nil {
		in.Packages = []inventory.Package{}
	}
	if in.Report.Findings == nil {
		in.Report.Findings = []finding.Finding{}
	}
	if s.Dockerfile != nil {
		in.Dockerfile = FromDockerfile(s.Dockerfile)
	}
	if s.Image != nil {
		in.Image = FromImage(s.Image)
	}
	return in
}

// FromDockerfile converts the parsed Dockerfile.
func FromDockerfile(f *dockerfile.File) *Dockerfile {
	out := &Dockerfile{Path: f.Path, Syntax: f.Syntax, GlobalArgs: []*Instruction{}, Stages: []*Stage{}, Instructions: []*Instruction{}}
	conv := map[*dockerfile.Instruction]*Instruction{}
	get := func(in *dockerfile.Instruction) *Instruction {
		if c, ok := conv[in]; ok {
			return c
		}
		c := fromInstruction(in)
		conv[in] = c
		return c
	}
	for _, in := range f.GlobalArgs {
		out.GlobalArgs = append(out.GlobalArgs, get(in))
	}
	for _, in := range f.Instructions {
		out.Instructions = append(out.Instructions, get(in))
	}
	for i, s := range f.Stages {
		st := &Stage{
			Index: s.Index, Name: s.Name, Platform: s.Platform, BaseStage: -1,
			Final: i == len(f.Stages)-1, CopiesFrom: []int{}, Args: s.Args,
			Base:         ImageRef(s.Base),
			Instructions: []*Instruction{},
		}
		if st.Args == nil {
			st.Args = map[string]string{}
		}
		if s.BaseStage != nil {
			st.BaseStage = s.BaseStage.Index
		}
		for _, c := range s.CopiesFrom {
			st.CopiesFrom = append(st.CopiesFrom, c.Index)
		}
		if s.From != nil {
			st.From = get(s.From)
		}
		for _, in := range s.Instructions {
			st.Instructions = append(st.Instructions, get(in))
		}
		out.Stages = append(out.Stages, st)
	}
	return out
}

func fromInstruction(in *dockerfile.Instruction) *Instruction {
	out := &Instruction{
		Cmd: in.Cmd, Args: nonNil(in.Args), Flags: nonNil(in.Flags), JSON: in.JSON,
		Original: in.Original, StartLine: in.StartLine, EndLine: in.EndLine,
		KeyValues: []KeyValue{}, Stage: -1,
	}
	if in.Stage != nil {
		out.Stage = in.Stage.Index
	}
	for _, kv := range in.KeyValues {
		out.KeyValues = append(out.KeyValues, KeyValue(kv))
	}
	for _, h := range in.Heredocs {
		out.Heredocs = append(out.Heredocs, Heredoc{Name: h.Name, Content: h.Content})
	}
	if in.Script != nil {
		for _, c := range in.Script.Commands {
			out.Commands = append(out.Commands, nonNil(c.Args))
		}
	}
	if in.OnBuild != nil {
		out.OnBuild = fromInstruction(in.OnBuild)
	}
	return out
}

// FromImage converts an image scan's result. Files is empty when the
// scan has no merged view (an image-cache hit: the CLI turns that cache
// off when policies run).
func FromImage(r *imagescan.Result) *Image {
	out := &Image{History: []History{}, Layers: []finding.LayerInfo{}, Files: map[string]File{}}
	if info := r.Report.Image; info != nil {
		out.Reference, out.Digest, out.OS, out.Platform = info.Reference, info.Digest, info.OS, info.Platform
		out.Size, out.WastedBytes, out.Efficiency = info.Size, info.WastedBytes, info.Efficiency
		out.Layers = append(out.Layers, info.Layers...)
	}
	if r.Source != nil && r.Source.Config != nil {
		out.Config = fromConfig(r.Source.Config)
	} else {
		out.Config = Config{Env: map[string]string{}, Labels: map[string]string{}, Entrypoint: []string{}, Cmd: []string{}, ExposedPorts: []string{}, Volumes: []string{}}
	}
	for _, st := range r.Steps {
		out.History = append(out.History, History{CreatedBy: st.CreatedBy, Layer: st.Layer, Dockerfile: st.Dockerfile, DockerfileLine: st.Line})
	}
	if r.Merged != nil {
		for p, st := range r.Merged.Files() {
			out.Files[p] = fromEntry(st)
		}
	}
	return out
}

func fromConfig(cf *v1.ConfigFile) Config {
	c := cf.Config
	out := Config{
		User: c.User, Env: map[string]string{}, Labels: map[string]string{},
		Entrypoint: nonNil(c.Entrypoint), Cmd: nonNil(c.Cmd), WorkingDir: c.WorkingDir,
		ExposedPorts: sortedKeys(c.ExposedPorts), Volumes: sortedKeys(c.Volumes),
		StopSignal: c.StopSignal, Author: cf.Author, Architecture: cf.Architecture, OS: cf.OS,
	}
	if !cf.Created.IsZero() {
		out.Created = cf.Created.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		out.Env[k] = v
	}
	for k, v := range c.Labels {
		out.Labels[k] = v
	}
	if c.Healthcheck != nil {
		out.Healthcheck = nonNil(c.Healthcheck.Test)
	}
	return out
}

func fromEntry(st layerfs.FileState) File {
	m := st.Mode
	return File{
		Type: entryType(st.Type), Size: st.Size, Mode: int(m.Perm()),
		Setuid: m&fs.ModeSetuid != 0, Setgid: m&fs.ModeSetgid != 0, Sticky: m&fs.ModeSticky != 0,
		UID: st.UID, GID: st.GID, Link: st.Linkname, Layer: st.Layer,
	}
}

func entryType(t layerfs.EntryType) string {
	switch t {
	case layerfs.TypeFile:
		return "file"
	case layerfs.TypeDir:
		return "dir"
	case layerfs.TypeSymlink:
		return "symlink"
	case layerfs.TypeHardlink:
		return "hardlink"
	}
	return "other"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
