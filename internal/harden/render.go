package harden

import (
	"fmt"
	"path"
	"strings"

	"github.com/kensa-sec/kensa/internal/layerfs"
)

// Formats Render writes.
var Formats = []string{"compose", "k8s", "docker-run", "cloudrun"}

// Render writes the profile in format (compose, k8s, docker-run, cloudrun).
func Render(p *Profile, format string) (string, error) {
	switch format {
	case "compose":
		return p.compose(), nil
	case "k8s", "kubernetes":
		return p.kube(), nil
	case "docker-run", "docker", "podman":
		return p.dockerRun(), nil
	case "cloudrun":
		return p.cloudRun(), nil
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// header lists why each setting is there, as YAML comments.
func (p *Profile) header(prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s hardened runtime profile of %s (kensa harden)\n", prefix, p.Image)
	fmt.Fprintf(&b, "%s user %s: %s\n", prefix, p.User(), p.UserWhy)
	for _, w := range p.Writable {
		fmt.Fprintf(&b, "%s writable %s: %s\n", prefix, w.Path, w.Why)
	}
	for _, c := range p.CapAdd {
		fmt.Fprintf(&b, "%s cap %s: %s\n", prefix, c.Name, c.Why)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "%s note: %s\n", prefix, n)
	}
	return b.String()
}

// serviceName is a DNS-label name for the image's service.
func (p *Profile) serviceName() string {
	n := p.Image
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	n = strings.TrimSuffix(n, path.Ext(n)) // app.tar
	if i := strings.IndexAny(n, ":@"); i >= 0 {
		n = n[:i]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(n) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "app"
	}
	return s
}

// volName turns a path into a volume name (/var/cache/nginx → var-cache-nginx).
func volName(p string) string {
	s := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-")
	s = strings.ReplaceAll(s, ".", "-")
	s = strings.ReplaceAll(s, "_", "-")
	if s == "" {
		return "root"
	}
	return strings.ToLower(s)
}

func (p *Profile) compose() string {
	var b strings.Builder
	b.WriteString(p.header("#"))
	fmt.Fprintf(&b, "services:\n  %s:\n    image: %s\n", p.serviceName(), p.Image)
	fmt.Fprintf(&b, "    user: \"%s\"\n    read_only: true\n", p.User())
	if len(p.Writable) > 0 {
		b.WriteString("    tmpfs:\n")
		for _, w := range p.Writable {
			fmt.Fprintf(&b, "      - %s:mode=1777\n", w.Path)
		}
	}
	b.WriteString("    cap_drop: [ALL]\n")
	if len(p.CapAdd) > 0 {
		b.WriteString("    cap_add: [" + p.capNames() + "]\n")
	}
	b.WriteString("    security_opt:\n      - no-new-privileges:true\n")
	b.WriteString("    deploy:\n      resources:\n        limits: {cpus: \"0.5\", memory: 256M}\n")
	if len(p.Ports) > 0 {
		b.WriteString("    ports:\n")
		for _, pt := range p.Ports {
			fmt.Fprintf(&b, "      - \"%d:%d/%s\"\n", pt.Port, pt.Port, pt.Proto)
		}
	}
	return b.String()
}

func (p *Profile) capNames() string {
	var n []string
	for _, c := range p.CapAdd {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

func (p *Profile) kube() string {
	var b strings.Builder
	b.WriteString(p.header("#"))
	name := p.serviceName()
	fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: %d
        runAsGroup: %d
        fsGroup: %d
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: %s
          image: %s
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
`, name, name, name, p.UID, p.GID, p.GID, name, p.Image)
	if len(p.CapAdd) > 0 {
		fmt.Fprintf(&b, "              add: [%s]\n", p.capNames())
	}
	if len(p.Ports) > 0 {
		b.WriteString("          ports:\n")
		for _, pt := range p.Ports {
			fmt.Fprintf(&b, "            - containerPort: %d\n              protocol: %s\n", pt.Port, strings.ToUpper(pt.Proto))
		}
	}
	b.WriteString("          resources:\n            limits: {cpu: 500m, memory: 256Mi}\n")
	if len(p.Writable) > 0 {
		b.WriteString("          volumeMounts:\n")
		for _, w := range p.Writable {
			fmt.Fprintf(&b, "            - {name: %s, mountPath: %s}\n", volName(w.Path), w.Path)
		}
		b.WriteString("      volumes:\n")
		for _, w := range p.Writable {
			fmt.Fprintf(&b, "        - {name: %s, emptyDir: {}}\n", volName(w.Path))
		}
	}
	return b.String()
}

func (p *Profile) dockerRun() string {
	var b strings.Builder
	b.WriteString(p.header("#"))
	args := []string{"docker run --rm", "--user " + p.User(), "--read-only"}
	for _, w := range p.Writable {
		args = append(args, "--tmpfs "+w.Path+":mode=1777")
	}
	args = append(args, "--cap-drop ALL")
	for _, c := range p.CapAdd {
		args = append(args, "--cap-add "+c.Name)
	}
	args = append(args, "--security-opt no-new-privileges")
	for _, pt := range p.Ports {
		args = append(args, fmt.Sprintf("-p %d:%d/%s", pt.Port, pt.Port, pt.Proto))
	}
	args = append(args, p.Image)
	b.WriteString(strings.Join(args, " \\\n  "))
	b.WriteString("\n")
	return b.String()
}

// cloudRun writes a Knative Service: Cloud Run runs the image's own USER
// and has no read-only root or capability settings, so the profile's user
// becomes a note, writable paths in-memory emptyDir volumes, and the
// ingress the internal default.
func (p *Profile) cloudRun() string {
	var b strings.Builder
	b.WriteString(p.header("#"))
	fmt.Fprintf(&b, "# Cloud Run runs the image's USER: build the image with `USER %s`.\n", p.User())
	name := p.serviceName()
	fmt.Fprintf(&b, `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  annotations:
    run.googleapis.com/ingress: internal-and-cloud-load-balancing
spec:
  template:
    metadata:
      annotations:
        run.googleapis.com/execution-environment: gen2
        run.googleapis.com/vpc-access-egress: all-traffic
        run.googleapis.com/network-interfaces: '[{"network":"default","subnetwork":"default"}]'
    spec:
      serviceAccountName: %s@PROJECT_ID.iam.gserviceaccount.com
      containerConcurrency: 80
      containers:
        - image: %s
`, name, name, p.Image)
	if len(p.Ports) > 0 {
		fmt.Fprintf(&b, "          ports:\n            - containerPort: %d\n", p.Ports[0].Port)
	}
	b.WriteString("          resources:\n            limits: {cpu: \"1\", memory: 512Mi}\n")
	if len(p.Writable) > 0 {
		b.WriteString("          volumeMounts:\n")
		for _, w := range p.Writable {
			fmt.Fprintf(&b, "            - {name: %s, mountPath: %s}\n", volName(w.Path), w.Path)
		}
		b.WriteString("      volumes:\n")
		for _, w := range p.Writable {
			fmt.Fprintf(&b, "        - name: %s\n          emptyDir: {medium: Memory, sizeLimit: 64Mi}\n", volName(w.Path))
		}
	}
	return b.String()
}

// MergedFS adapts the image-scan merged view to FS.
type MergedFS struct{ Image *layerfs.Image }

func node(e layerfs.Entry) Node {
	return Node{Dir: e.Type == layerfs.TypeDir, Symlink: e.Type == layerfs.TypeSymlink, Linkname: e.Linkname, UID: int(e.UID), GID: int(e.GID), Mode: e.Mode}
}

// Stat returns p's final state.
func (m MergedFS) Stat(p string) (Node, bool) {
	st, ok := m.Image.File(p)
	if !ok {
		return Node{}, false
	}
	return node(st.Entry), true
}

// ReadFile returns a kept small file's content.
func (m MergedFS) ReadFile(p string) ([]byte, bool) { return m.Image.FileContent(p) }

// Walk calls fn for every final path in path order.
func (m MergedFS) Walk(fn func(string, Node) bool) {
	for p, st := range m.Image.Files() {
		if !fn(p, node(st.Entry)) {
			return
		}
	}
}
