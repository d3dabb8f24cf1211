package manifest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// isCompose reports whether a document's root looks like a compose file: a
// mapping with a `services` mapping and no apiVersion/kind.
func isCompose(root *yaml.Node) bool {
	if isKubeObject(root) {
		return false
	}
	_, s := lookup(root, "services")
	return s != nil && s.Kind == yaml.MappingNode
}

// loadCompose loads a compose file with compose-go (interpolation from
// opts.Env, `extends`, canonical forms) and maps every value back to the
// line of its key in the raw YAML.
func loadCompose(ctx context.Context, file string, data []byte, raw *yaml.Node, opts Options, st *Stats, fn func(*Workload) error) error {
	dir := opts.WorkingDir
	if dir == "" {
		dir = filepath.Dir(file)
	}
	var unset []string
	seen := map[string]bool{}
	lookupEnv := func(k string) (string, bool) {
		if v, ok := opts.Env[k]; ok {
			return v, true
		}
		if !seen[k] {
			seen[k] = true
			unset = append(unset, k)
		}
		return "", true // read as empty, so ${X:-default} takes its default
	}
	// compose-go logs a warning for the obsolete top-level `version` on the
	// process's stderr; blank that line (line numbers stay) instead.
	if k, v := lookup(raw, "version"); k != nil && v != nil && v.Kind == yaml.ScalarNode && v.Line == k.Line && k.Column == 1 {
		data = blankLine(data, k.Line)
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: data}},
		Environment: types.Mapping{},
	}
	base := func(o *loader.Options) {
		o.SetProjectName("kensa", true)
		o.SkipResolveEnvironment = true // env_file contents are not the manifest's
		o.SkipConsistencyCheck = true
		o.ResolvePaths = false
		o.SkipInclude = true
		o.Interpolate.LookupValue = lookupEnv
	}
	proj, err := safeLoad(ctx, details, base)
	if err != nil {
		// Read it as written: no interpolation or validation. The note
		// says so; a file that fails this way too is an error.
		first := err
		proj, err = safeLoad(ctx, details, base, func(o *loader.Options) {
			o.SkipInterpolation = true
			o.SkipValidation = true
		})
		if err != nil {
			return &Error{File: file, Msg: "compose file: " + first.Error()}
		}
		st.Notes = append(st.Notes, fmt.Sprintf("%s: compose-go could not load it as interpolated (%v): checked as written, without variable substitution", file, first))
	}
	if len(unset) > 0 {
		sort.Strings(unset)
		st.Notes = append(st.Notes, fmt.Sprintf("%s: variables not set, read as empty: %s", file, strings.Join(unset, ", ")))
	}
	_, rawSvcs := lookup(raw, "services")
	cl := composeLines{svcs: rawSvcs}
	names := make([]string, 0, len(proj.Services))
	for n := range proj.Services {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		li, lj := cl.line(names[i]), cl.line(names[j])
		if li != lj {
			return li < lj
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		st.Objects++
		w := composeWorkload(file, proj.Services[n], cl)
		if err := fn(w); err != nil {
			return err
		}
	}
	return nil
}

// safeLoad runs compose-go, turning a panic inside it (seen with fuzzed
// input, e.g. a null network) into an error.
func safeLoad(ctx context.Context, details types.ConfigDetails, opts ...func(*loader.Options)) (p *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("compose-go failed on this file: %v", r)
		}
	}()
	return loader.LoadWithContext(ctx, details, opts...)
}

// composeLines finds the line of a service's keys in the raw YAML.
type composeLines struct{ svcs *yaml.Node }

// svc returns the raw service key and mapping.
func (cl composeLines) svc(name string) (*yaml.Node, *yaml.Node) { return lookup(cl.svcs, name) }

// line returns the line of services.<name>.<keys...>, looking through a
// same-file `extends` base, else the nearest enclosing key; with no keys,
// the service key's line.
func (cl composeLines) line(name string, keys ...string) int {
	k, _ := cl.find(name, keys...)
	if k != nil {
		return k.Line
	}
	best := 1
	if sk, _ := cl.svc(name); sk != nil {
		best = sk.Line
	}
	for i := len(keys) - 1; i > 0; i-- {
		if k, _ := cl.find(name, keys[:i]...); k != nil {
			return k.Line
		}
	}
	return best
}

// find looks keys up in the service, then in its same-file extends base.
func (cl composeLines) find(name string, keys ...string) (*yaml.Node, *yaml.Node) {
	for hop := 0; hop < 8 && name != ""; hop++ {
		_, s := cl.svc(name)
		if s == nil {
			return nil, nil
		}
		if len(keys) == 0 {
			return nil, s
		}
		if k, v := path(s, keys...); k != nil {
			return k, v
		}
		_, ext := lookup(s, "extends")
		if ext == nil {
			return nil, nil
		}
		if ext.Kind == yaml.ScalarNode {
			name = ext.Value
			continue
		}
		if _, f := lookup(ext, "file"); f != nil {
			return nil, nil // another file: no line there
		}
		name = scalar(pathV(ext, "service"))
	}
	return nil, nil
}

// itemLine returns the line of the first item of services.<name>.<key>
// that match accepts, else the key's line.
func (cl composeLines) itemLine(name, key string, match func(*yaml.Node) bool) int {
	_, v := cl.find(name, key)
	if v != nil {
		for _, it := range items(v) {
			if it != nil && match(it) {
				return it.Line
			}
		}
		var hit int
		pairs(v, func(k, val *yaml.Node) {
			if hit == 0 && (match(k) || match(val)) {
				hit = k.Line
			}
		})
		if hit != 0 {
			return hit
		}
	}
	return cl.line(name, key)
}

func composeWorkload(file string, s types.ServiceConfig, cl composeLines) *Workload {
	name := s.Name
	ln := func(keys ...string) int { return cl.line(name, keys...) }
	has := func(keys ...string) bool { k, _ := cl.find(name, keys...); return k != nil }
	w := &Workload{File: file, Format: FormatCompose, Kind: "service", Name: name, Line: ln(), SpecLine: ln()}
	w.HostNetwork = Bool{Set: s.NetworkMode != "", V: s.NetworkMode == "host", Line: ln("network_mode")}
	w.HostPID = Bool{Set: s.Pid != "", V: s.Pid == "host", Line: ln("pid")}
	w.HostIPC = Bool{Set: s.Ipc != "", V: s.Ipc == "host", Line: ln("ipc")}
	var mountPaths []Str
	for _, v := range s.Volumes {
		if v.Target != "" {
			mountPaths = append(mountPaths, Str{Set: true, V: v.Target, Line: ln("volumes")})
		}
	}
	for _, t := range s.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		line := cl.itemLine(name, "tmpfs", func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, target) })
		mountPaths = append(mountPaths, Str{Set: true, V: target, Line: line})
	}
	for i, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		src := v.Source
		line := cl.itemLine(name, "volumes", func(n *yaml.Node) bool {
			if n.Kind == yaml.ScalarNode {
				return strings.Contains(n.Value, v.Target) && strings.Contains(n.Value, filepath.Base(src))
			}
			return scalar(pathV(n, "target")) == v.Target
		})
		_ = i
		w.HostMounts = append(w.HostMounts, Mount{HostPath: src, Target: v.Target, ReadOnly: v.ReadOnly, Line: line})
	}
	c := Container{Name: name, Line: ln(), MountPaths: mountPaths}
	c.Built = s.Build != nil
	if s.Image != "" {
		c.Image = Str{Set: true, V: s.Image, Line: ln("image")}
	}
	if s.User != "" {
		c.User = Str{Set: true, V: s.User, Line: ln("user")}
	}
	if s.Privileged || has("privileged") {
		c.Privileged = Bool{Set: true, V: s.Privileged, Line: ln("privileged")}
	}
	if s.ReadOnly || has("read_only") {
		c.ReadOnlyRootFS = Bool{Set: true, V: s.ReadOnly, Line: ln("read_only")}
	}
	for _, opt := range s.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if !strings.Contains(opt, "=") {
			k, v, _ = strings.Cut(opt, ":")
		}
		line := cl.itemLine(name, "security_opt", func(n *yaml.Node) bool { return n.Value == opt })
		switch strings.TrimSpace(k) {
		case "no-new-privileges":
			on := v == "" || v == "true"
			c.AllowPrivilegeEscalation = Bool{Set: true, V: !on, Line: line}
		case "seccomp":
			c.Seccomp = Str{Set: true, V: v, Line: line}
		}
	}
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		c.CapsLine = ln("cap_drop")
		if !has("cap_drop") {
			c.CapsLine = ln("cap_add")
		}
	}
	caps := func(key string, list []string) []Str {
		var out []Str
		for _, cp := range list {
			line := cl.itemLine(name, key, func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && NormalizeCap(n.Value) == NormalizeCap(cp) })
			out = append(out, Str{Set: true, V: NormalizeCap(cp), Line: line})
		}
		return out
	}
	c.CapDrop = caps("cap_drop", s.CapDrop)
	c.CapAdd = caps("cap_add", s.CapAdd)
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		c.ResourcesLine = ln("deploy", "resources")
		if l.NanoCPUs != 0 {
			c.CPULimit = Str{Set: true, V: strconv.FormatFloat(float64(l.NanoCPUs), 'f', -1, 32), Line: ln("deploy", "resources", "limits", "cpus")}
		}
		if l.MemoryBytes != 0 {
			c.MemoryLimit = Str{Set: true, V: strconv.FormatInt(int64(l.MemoryBytes), 10), Line: ln("deploy", "resources", "limits", "memory")}
		}
	}
	if !c.CPULimit.Set && s.CPUS != 0 {
		c.CPULimit = Str{Set: true, V: strconv.FormatFloat(float64(s.CPUS), 'f', -1, 32), Line: ln("cpus")}
	}
	if !c.MemoryLimit.Set && s.MemLimit != 0 {
		c.MemoryLimit = Str{Set: true, V: strconv.FormatInt(int64(s.MemLimit), 10), Line: ln("mem_limit")}
	}
	envNames := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		envNames = append(envNames, k)
	}
	sort.Strings(envNames)
	for _, k := range envNames {
		v := s.Environment[k]
		line := cl.itemLine(name, "environment", func(n *yaml.Node) bool {
			return n.Kind == yaml.ScalarNode && (n.Value == k || strings.HasPrefix(n.Value, k+"="))
		})
		e := Env{Name: k, Line: line}
		if v == nil {
			e.FromRef = true // taken from the host environment at run time
		} else {
			e.Value = *v
		}
		c.Env = append(c.Env, e)
	}
	for i, p := range s.Ports {
		line := ln("ports")
		if _, pv := cl.find(name, "ports"); pv != nil {
			if its := items(pv); len(its) == len(s.Ports) && its[i] != nil {
				line = its[i].Line
			}
		}
		port := Port{Container: int(p.Target), Protocol: p.Protocol, Line: line}
		if p.Published != "" {
			first, _, _ := strings.Cut(p.Published, "-")
			port.Host, _ = strconv.Atoi(first)
		}
		c.Ports = append(c.Ports, port)
	}
	if s.HealthCheck != nil {
		c.Probe = Bool{Set: true, V: !s.HealthCheck.Disable, Line: ln("healthcheck")}
	}
	w.Containers = []Container{c}
	return w
}

// blankLine returns a copy of data with line n (1-based) replaced by "#".
func blankLine(data []byte, n int) []byte {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data[start:], '\n')
		if j < 0 {
			return data
		}
		start += j + 1
	}
	end := len(data)
	if j := bytes.IndexByte(data[start:], '\n'); j >= 0 {
		end = start + j
	}
	out := make([]byte, 0, len(data))
	out = append(out, data[:start]...)
	out = append(out, '#')
	return append(out, data[end:]...)
}
