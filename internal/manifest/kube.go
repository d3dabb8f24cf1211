package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// podSpecPaths says where each supported kind keeps its pod template:
// the keys to the pod spec and to the template metadata.
var podSpecPaths = map[string]struct{ spec, meta []string }{
	"Pod":         {[]string{"spec"}, []string{"metadata"}},
	"Deployment":  {[]string{"spec", "template", "spec"}, []string{"spec", "template", "metadata"}},
	"StatefulSet": {[]string{"spec", "template", "spec"}, []string{"spec", "template", "metadata"}},
	"DaemonSet":   {[]string{"spec", "template", "spec"}, []string{"spec", "template", "metadata"}},
	"ReplicaSet":  {[]string{"spec", "template", "spec"}, []string{"spec", "template", "metadata"}},
	"Job":         {[]string{"spec", "template", "spec"}, []string{"spec", "template", "metadata"}},
	"CronJob":     {[]string{"spec", "jobTemplate", "spec", "template", "spec"}, []string{"spec", "jobTemplate", "spec", "template", "metadata"}},
}

// isKubeObject reports whether a document's root is a mapping with
// apiVersion and kind.
func isKubeObject(root *yaml.Node) bool {
	_, a := lookup(root, "apiVersion")
	_, k := lookup(root, "kind")
	return a != nil && k != nil
}

// kubeObjects converts one document into workloads (a List yields its
// items), calling fn for each; unsupported objects become skips.
func kubeObjects(file string, root *yaml.Node, off int, st *Stats, fn func(*Workload) error) error {
	root = deref(root)
	if root == nil || root.Kind != yaml.MappingNode {
		st.Skips = append(st.Skips, Skip{File: file, Line: off + lineOf(root), Reason: "YAML document is not a mapping"})
		return nil
	}
	if !isKubeObject(root) {
		st.Skips = append(st.Skips, Skip{File: file, Line: off + root.Line, Reason: "not a Kubernetes object (no apiVersion/kind)"})
		return nil
	}
	kind := scalar(pathV(root, "kind"))
	api := scalar(pathV(root, "apiVersion"))
	if strings.HasSuffix(kind, "List") {
		for _, it := range items(pathV(root, "items")) {
			if err := kubeObjects(file, it, off, st, fn); err != nil {
				return err
			}
		}
		return nil
	}
	w := &Workload{File: file, Format: FormatKubernetes, Kind: kind}
	nk, nv := path(root, "metadata", "name")
	w.Name = scalar(nv)
	w.Line = off + root.Line
	if nk != nil {
		w.Line = off + nk.Line
	}
	var spec, meta *yaml.Node
	var specKey *yaml.Node
	switch {
	case kind == "Service" && strings.HasPrefix(api, "serving.knative.dev/"):
		w.Format = FormatKnative
		specKey, spec = path(root, "spec", "template", "spec")
		_, meta = path(root, "spec", "template", "metadata")
		mk, mv := path(root, "metadata")
		w.Annotations, w.AnnotationsLine = annotations(mv, off)
		if w.AnnotationsLine == 0 && mk != nil {
			w.AnnotationsLine = off + mk.Line
		}
		w.ContainerConcurrency = strAt(spec, off, "containerConcurrency")
		if meta == nil {
			tk, _ := path(root, "spec", "template")
			if tk != nil {
				w.TemplateAnnotationsLine = off + tk.Line
			}
		}
	default:
		p, ok := podSpecPaths[kind]
		if !ok {
			st.Skips = append(st.Skips, Skip{File: file, Line: w.Line, Kind: kind, Reason: "kind not checked"})
			return nil
		}
		specKey, spec = path(root, p.spec...)
		_, meta = path(root, p.meta...)
	}
	if meta != nil {
		var l int
		w.TemplateAnnotations, l = annotations(meta, off)
		if l == 0 {
			l = off + meta.Line
		}
		w.TemplateAnnotationsLine = l
	}
	if spec == nil || spec.Kind != yaml.MappingNode {
		st.Skips = append(st.Skips, Skip{File: file, Line: w.Line, Kind: kind, Reason: "no pod spec"})
		return nil
	}
	st.Objects++
	w.SpecLine = off + spec.Line
	if specKey != nil {
		w.SpecLine = off + specKey.Line
	}
	readPodSpec(w, spec, off)
	return fn(w)
}

func pathV(n *yaml.Node, keys ...string) *yaml.Node {
	_, v := path(n, keys...)
	return v
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 1
	}
	return n.Line
}

// annotations reads metadata.annotations; the line is the annotations key's.
func annotations(meta *yaml.Node, off int) (map[string]Str, int) {
	k, v := lookup(meta, "annotations")
	if k == nil {
		return nil, 0
	}
	out := map[string]Str{}
	pairs(v, func(kk, vv *yaml.Node) {
		out[kk.Value] = Str{Set: true, V: scalar(vv), Line: off + kk.Line}
	})
	return out, off + k.Line
}

// readPodSpec fills w from a pod spec mapping.
func readPodSpec(w *Workload, spec *yaml.Node, off int) {
	w.HostNetwork = boolAt(spec, off, "hostNetwork")
	w.HostPID = boolAt(spec, off, "hostPID")
	w.HostIPC = boolAt(spec, off, "hostIPC")
	w.ServiceAccount = strAt(spec, off, "serviceAccountName")
	if !w.ServiceAccount.Set {
		w.ServiceAccount = strAt(spec, off, "serviceAccount")
	}
	podUser := strAt(spec, off, "securityContext", "runAsUser")
	podNonRoot := boolAt(spec, off, "securityContext", "runAsNonRoot")
	podSeccomp := strAt(spec, off, "securityContext", "seccompProfile", "type")
	if !podSeccomp.Set {
		// The pre-1.19 annotation, still common in Helm charts.
		if a, ok := w.TemplateAnnotations["seccomp.security.alpha.kubernetes.io/pod"]; ok {
			podSeccomp = Str{Set: true, V: legacySeccomp(a.V), Line: a.Line}
		}
	}
	for _, vol := range items(pathV(spec, "volumes")) {
		hk, hv := lookup(vol, "hostPath")
		if hk == nil {
			continue
		}
		p := strAt(hv, off, "path")
		m := Mount{HostPath: p.V, Line: off + hk.Line}
		if p.Set {
			m.Line = p.Line
		}
		w.HostMounts = append(w.HostMounts, m)
	}
	for _, group := range []struct {
		key  string
		init bool
	}{{"initContainers", true}, {"containers", false}} {
		for _, cn := range items(pathV(spec, group.key)) {
			c := readContainer(cn, off)
			c.Init = group.init
			if !c.User.Set {
				c.User = podUser
			}
			if !c.RunAsNonRoot.Set {
				c.RunAsNonRoot = podNonRoot
			}
			if !c.Seccomp.Set {
				c.Seccomp = podSeccomp
			}
			w.Containers = append(w.Containers, c)
		}
	}
}

func legacySeccomp(v string) string {
	switch {
	case v == "runtime/default" || v == "docker/default":
		return "RuntimeDefault"
	case v == "unconfined":
		return "Unconfined"
	case strings.HasPrefix(v, "localhost/"):
		return "Localhost"
	}
	return v
}

// readContainer reads one container mapping.
func readContainer(cn *yaml.Node, off int) Container {
	c := Container{Name: scalar(pathV(cn, "name")), Line: off + lineOf(cn)}
	c.Image = strAt(cn, off, "image")
	sc := pathV(cn, "securityContext")
	c.User = strAt(sc, off, "runAsUser")
	c.RunAsNonRoot = boolAt(sc, off, "runAsNonRoot")
	c.Privileged = boolAt(sc, off, "privileged")
	c.AllowPrivilegeEscalation = boolAt(sc, off, "allowPrivilegeEscalation")
	c.ReadOnlyRootFS = boolAt(sc, off, "readOnlyRootFilesystem")
	c.Seccomp = strAt(sc, off, "seccompProfile", "type")
	if ck, cv := lookup(sc, "capabilities"); ck != nil {
		c.CapsLine = off + ck.Line
		c.CapDrop = capList(pathV(cv, "drop"), off)
		c.CapAdd = capList(pathV(cv, "add"), off)
	}
	if rk, _ := lookup(cn, "resources"); rk != nil {
		c.ResourcesLine = off + rk.Line
	}
	c.CPULimit = strAt(cn, off, "resources", "limits", "cpu")
	c.MemoryLimit = strAt(cn, off, "resources", "limits", "memory")
	for _, e := range items(pathV(cn, "env")) {
		nk, nv := lookup(e, "name")
		if nk == nil {
			continue
		}
		env := Env{Name: scalar(nv), Line: off + nk.Line}
		if vk, vv := lookup(e, "value"); vk != nil {
			env.Value = scalar(vv)
			env.Line = off + vk.Line
		}
		if vk, _ := lookup(e, "valueFrom"); vk != nil {
			env.FromRef = true
		}
		c.Env = append(c.Env, env)
	}
	for _, p := range items(pathV(cn, "ports")) {
		port := Port{Line: off + p.Line, Protocol: scalar(pathV(p, "protocol"))}
		port.Container, _ = strconv.Atoi(scalar(pathV(p, "containerPort")))
		if hk, hv := lookup(p, "hostPort"); hk != nil {
			port.Host, _ = strconv.Atoi(scalar(hv))
			port.Line = off + hk.Line
		} else if ck, _ := lookup(p, "containerPort"); ck != nil {
			port.Line = off + ck.Line
		}
		c.Ports = append(c.Ports, port)
	}
	for _, vm := range items(pathV(cn, "volumeMounts")) {
		if mp := strAt(vm, off, "mountPath"); mp.Set {
			c.MountPaths = append(c.MountPaths, mp)
		}
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		if pk, _ := lookup(cn, probe); pk != nil {
			c.Probe = Bool{Set: true, V: true, Line: off + pk.Line}
			break
		}
	}
	return c
}

// capList reads a capabilities list, normalising names (CAP_ prefix off,
// upper case).
func capList(n *yaml.Node, off int) []Str {
	var out []Str
	for _, it := range items(n) {
		if it == nil || it.Kind != yaml.ScalarNode {
			continue
		}
		out = append(out, Str{Set: true, V: NormalizeCap(it.Value), Line: off + it.Line})
	}
	return out
}

// NormalizeCap returns a capability name upper-cased without CAP_.
func NormalizeCap(s string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "CAP_")
}

// Describe names a workload for messages, e.g. "Deployment web".
func (w *Workload) Describe() string {
	if w.Name == "" {
		return w.Kind
	}
	return fmt.Sprintf("%s %s", w.Kind, w.Name)
}
