package manifest

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): `)

// errLine returns the 1-based line a yaml.v3 error names, or 1.
func errLine(err error) int {
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		if n, e := strconv.Atoi(m[1]); e == nil {
			return n
		}
	}
	return 1
}

// stripLine removes yaml.v3's "yaml: line N: " prefix.
func stripLine(err error) string {
	s := err.Error()
	if m := yamlErrLine.FindStringSubmatch(s); m != nil {
		return s[len(m[0]):]
	}
	return strings.TrimPrefix(s, "yaml: ")
}

// deref follows aliases (bounded) and document nodes.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 32; i++ {
		switch {
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return n
		}
	}
	return n
}

// lookup returns the key and value nodes of key in mapping m (nil, nil
// when m is not a mapping or lacks the key). Merge keys (<<) are followed.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var merge *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], deref(m.Content[i+1])
		}
		if m.Content[i].Value == "<<" && m.Content[i].Tag == "!!merge" {
			merge = m.Content[i+1]
		}
	}
	if merge != nil {
		merge = deref(merge)
		if merge.Kind == yaml.SequenceNode {
			for _, c := range merge.Content {
				if k, v := lookupNoMerge(c, key); k != nil {
					return k, v
				}
			}
			return nil, nil
		}
		return lookupNoMerge(merge, key)
	}
	return nil, nil
}

func lookupNoMerge(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], deref(m.Content[i+1])
		}
	}
	return nil, nil
}

// path follows keys from n and returns the last key and value nodes.
func path(n *yaml.Node, keys ...string) (k, v *yaml.Node) {
	v = n
	for _, key := range keys {
		k, v = lookup(v, key)
		if v == nil {
			return nil, nil
		}
	}
	return k, v
}

// scalar returns the value of a scalar node ("" otherwise).
func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// items returns a sequence's elements (nil otherwise), aliases followed.
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

// pairs calls fn for every key/value of a mapping.
func pairs(n *yaml.Node, fn func(k, v *yaml.Node)) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i], deref(n.Content[i+1]))
	}
}

// strAt reads key of m as a Str at offset off.
func strAt(m *yaml.Node, off int, keys ...string) Str {
	k, v := path(m, keys...)
	if k == nil || v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return Str{}
	}
	return Str{Set: true, V: v.Value, Line: k.Line + off}
}

// boolAt reads key of m as a Bool at offset off (non-boolean: unset).
func boolAt(m *yaml.Node, off int, keys ...string) Bool {
	k, v := path(m, keys...)
	if k == nil || v == nil || v.Kind != yaml.ScalarNode {
		return Bool{}
	}
	b, ok := parseBool(v.Value)
	if !ok {
		return Bool{}
	}
	return Bool{Set: true, V: b, Line: k.Line + off}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}
