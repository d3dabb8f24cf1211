package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func loadAll(t *testing.T, path string) ([]*Workload, *Stats) {
	t.Helper()
	var ws []*Workload
	st, err := LoadFile(context.Background(), path, Options{}, func(w *Workload) error { ws = append(ws, w); return nil })
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ws, st
}

func TestKubernetesStream(t *testing.T) {
	ws, st := loadAll(t, "testdata/k8s-multi.yaml")
	if len(ws) != 2 || st.Objects != 2 || len(st.Skips) != 1 || st.Skips[0].Kind != "ConfigMap" || st.Skips[0].Line != 6 {
		t.Fatalf("workloads %d, stats %+v", len(ws), st)
	}
	d := ws[0]
	if d.Kind != "Deployment" || d.Name != "web" || d.Line != 13 {
		t.Errorf("deployment %s %s line %d", d.Kind, d.Name, d.Line)
	}
	if !d.HostNetwork.V || d.HostNetwork.Line != 19 {
		t.Errorf("hostNetwork %+v", d.HostNetwork)
	}
	if len(d.HostMounts) != 1 || d.HostMounts[0].HostPath != "/var/run/docker.sock" || d.HostMounts[0].Line != 25 {
		t.Errorf("mounts %+v", d.HostMounts)
	}
	c := d.Containers[0]
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"image", c.Image, Str{true, "nginx:1.27", 28}},
		{"privileged", c.Privileged, Bool{true, true, 30}},
		{"runAsNonRoot inherited", c.RunAsNonRoot, Bool{true, true, 21}},
		{"cap drop", fmt.Sprint(c.CapDrop), fmt.Sprint([]Str{{true, "ALL", 32}})},
		{"cap add", fmt.Sprint(c.CapAdd), fmt.Sprint([]Str{{true, "NET_ADMIN", 33}})},
		{"env", fmt.Sprint(c.Env), fmt.Sprint([]Env{{"DB_PASSWORD", "hunter2hunter2", false, 36}, {"TOKEN", "", true, 37}})},
		{"ports", fmt.Sprint(c.Ports), fmt.Sprint([]Port{{2222, 22, "", 42}})},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s: got %+v, want %+v", ck.what, ck.got, ck.want)
		}
	}
	cj := ws[1]
	if cj.Kind != "CronJob" || len(cj.Containers) != 1 || cj.Containers[0].Image.V != "busybox" || cj.Containers[0].Image.Line != 56 {
		t.Errorf("cronjob %+v", cj)
	}
}

func TestComposeExtendsInterpolation(t *testing.T) {
	ws, st := loadAll(t, "testdata/compose-extends.yaml")
	if st.Format != FormatCompose || len(ws) != 2 {
		t.Fatalf("format %s, %d workloads", st.Format, len(ws))
	}
	web := ws[1]
	if web.Name != "web" || web.Line != 9 {
		t.Fatalf("second service %s line %d", web.Name, web.Line)
	}
	c := web.Containers[0]
	// Interpolated default, and taken from the extended service (its line).
	if c.Image.V != "registry.example/app:1.0" || c.Image.Line != 5 {
		t.Errorf("image %+v", c.Image)
	}
	if !c.Privileged.V || c.Privileged.Line != 6 {
		t.Errorf("privileged through extends %+v", c.Privileged)
	}
	if len(c.CapAdd) != 1 || c.CapAdd[0].V != "SYS_ADMIN" || c.CapAdd[0].Line != 8 {
		t.Errorf("cap_add %+v", c.CapAdd)
	}
	if c.User.V != "1000" || c.User.Line != 12 || !c.ReadOnlyRootFS.V || c.ReadOnlyRootFS.Line != 13 {
		t.Errorf("user %+v read_only %+v", c.User, c.ReadOnlyRootFS)
	}
	if c.AllowPrivilegeEscalation.V || !c.AllowPrivilegeEscalation.Set || c.AllowPrivilegeEscalation.Line != 15 {
		t.Errorf("no-new-privileges %+v", c.AllowPrivilegeEscalation)
	}
	if c.Seccomp.V != "unconfined" || c.Seccomp.Line != 16 {
		t.Errorf("seccomp %+v", c.Seccomp)
	}
	if fmt.Sprint(c.Env) != fmt.Sprint([]Env{{"API_KEY", "abcdefghijklmnop", false, 18}, {"FROM_HOST", "", true, 19}}) {
		t.Errorf("env %+v", c.Env)
	}
	if len(c.Ports) != 1 || c.Ports[0].Host != 80 || c.Ports[0].Container != 8080 || c.Ports[0].Line != 21 {
		t.Errorf("ports %+v", c.Ports)
	}
	if len(web.HostMounts) != 1 || web.HostMounts[0].HostPath != "/var/run/docker.sock" || web.HostMounts[0].Line != 23 {
		t.Errorf("mounts %+v", web.HostMounts)
	}
	if c.CPULimit.V != "0.5" || c.CPULimit.Line != 27 || c.MemoryLimit.V != "268435456" || c.MemoryLimit.Line != 28 {
		t.Errorf("limits %+v %+v", c.CPULimit, c.MemoryLimit)
	}
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "TAG") {
		t.Errorf("notes %q", st.Notes)
	}
}

func TestKnative(t *testing.T) {
	ws, _ := loadAll(t, "testdata/knative.yaml")
	if len(ws) != 1 || ws[0].Format != FormatKnative {
		t.Fatalf("%+v", ws)
	}
	w := ws[0]
	if w.Annotations["run.googleapis.com/ingress"] != (Str{true, "all", 6}) || w.TemplateAnnotations["run.googleapis.com/vpc-access-egress"] != (Str{true, "all-traffic", 11}) {
		t.Errorf("annotations %+v %+v", w.Annotations, w.TemplateAnnotations)
	}
	if w.ContainerConcurrency != (Str{true, "80", 13}) || w.ServiceAccount.Line != 14 || w.AnnotationsLine != 5 || w.TemplateAnnotationsLine != 10 {
		t.Errorf("concurrency %+v sa %+v lines %d %d", w.ContainerConcurrency, w.ServiceAccount, w.AnnotationsLine, w.TemplateAnnotationsLine)
	}
}

// TestBadInput: every bad input is an *Error naming the file, quickly.
func TestBadInput(t *testing.T) {
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	cases := []struct {
		name, in, want string
	}{
		{"not yaml", "apiVersion: v1\nkind: Pod\n  bad: [\n", "not valid YAML"},
		{"billion laughs k8s", "apiVersion: v1\nkind: Pod\n" + bomb, "YAML bomb"},
		{"billion laughs compose", "services:\n  a: {image: x}\n" + bomb, "YAML bomb"},
		{"plain text", "hello world\n", ErrNotManifest.Error()},
		{"big document", "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: \"" + strings.Repeat("x", DefaultMaxDocumentBytes) + "\"\n", "limit"},
		{"self alias", "apiVersion: v1\nkind: Pod\nspec: &a\n  x: *a\n", "refers to itself"},
		{"compose invalid", "services:\n  web:\n    image: [1, 2]\n    ports: {a: b}\n", "compose file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(context.Background(), "in.yaml", strings.NewReader(c.in), Options{}, func(*Workload) error { return nil })
			var me *Error
			if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "in.yaml") {
				t.Fatalf("got %v, want *Error with %q", err, c.want)
			}
		})
	}
}

// genStream writes n small Deployments as one multi-document stream.
func genStream(w io.Writer, n int) {
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example/app:%d
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
          resources:
            limits: {cpu: 500m, memory: 128Mi}
`, i, i)
	}
}

// TestLargeStream reads a ~50 MB stream generated on the fly: every object
// arrives, with file-absolute lines.
func TestLargeStream(t *testing.T) {
	if testing.Short() {
		t.Log("short mode: 5 MB instead of 50 MB")
	}
	n := 150_000
	if testing.Short() {
		n = 15_000
	}
	pr, pw := io.Pipe()
	go func() { genStream(pw, n); pw.Close() }()
	count, lastLine := 0, 0
	st, err := Load(context.Background(), "big.yaml", pr, Options{}, func(w *Workload) error {
		count++
		lastLine = w.Line
		return nil
	})
	if err != nil || count != n || st.Documents != n {
		t.Fatalf("err %v, %d objects of %d, %d documents", err, count, n, st.Documents)
	}
	if want := (n-1)*16 + 5; lastLine != want {
		t.Errorf("last object at line %d, want %d", lastLine, want)
	}
}

// TestComposeVersionLine: the obsolete top-level version is blanked before
// compose-go sees it (no warning on stderr); lines stay.
func TestComposeVersionLine(t *testing.T) {
	var ws []*Workload
	_, err := Load(context.Background(), "c.yaml", strings.NewReader("version: \"3.8\"\nservices:\n  web:\n    image: a:1\n"), Options{}, func(w *Workload) error { ws = append(ws, w); return nil })
	if err != nil || len(ws) != 1 || ws[0].Line != 3 || ws[0].Containers[0].Image.Line != 4 {
		t.Fatalf("err %v, %+v", err, ws)
	}
	if got := string(blankLine([]byte("a\nb\nc"), 2)); got != "a\n#\nc" {
		t.Errorf("blankLine: %q", got)
	}
}
