// Package runtime holds the KS-RT-* checks: how a compose service,
// Kubernetes workload or Knative/Cloud Run service will run its containers
// (user, privileges, capabilities, filesystem, namespaces, mounts, limits,
// image pinning, credentials, ports, seccomp, probes) and, across the
// Cloud Run services of one scan, whether their ingress and egress settings
// let the calls between them through.
package runtime

import (
	"fmt"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/manifest"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/kensa-sec/kensa/internal/secret"
)

// Options configure the checks.
type Options struct {
	// IsTrusted reports whether an image comes from a trusted registry
	// (policy.Policy.Trusted); nil: KS-RT-013 does not run.
	IsTrusted func(image string) bool
	// TrustedRegistries is the configured list, for messages.
	TrustedRegistries []string
	// ProfileFor returns the hardened profile of the image a container
	// runs, when that image was scanned too (nil: KS-RT-025/026 do not run).
	ProfileFor func(image string) *Profile
}

// Profile is what an image needs at run time (see internal/harden): the
// seam between the image pipeline and the manifest checks.
type Profile struct {
	Image    string // the image it was derived from (for messages)
	UID, GID int
	// ImageUser is true when the image's config already runs it as
	// UID:GID, so a compose service without `user:` is not root.
	ImageUser bool
	// Writable are the paths a read-only root needs mounted writable.
	Writable []string
	// CapAdd are the capabilities the image needs after dropping ALL.
	CapAdd []string
	// Ports are the container ports the image exposes.
	Ports []int
}

// Checker runs the checks over workloads one at a time (so a stream of
// manifests is never held whole) and keeps only the Cloud Run services for
// the cross-service checks of Finish.
type Checker struct {
	opts     Options
	findings []finding.Finding
	services []*manifest.Workload
}

// New returns a Checker.
func New(o Options) *Checker { return &Checker{opts: o} }

// Check runs the per-workload checks on w.
func (c *Checker) Check(w *manifest.Workload) {
	if w.Format == manifest.FormatKnative {
		c.services = append(c.services, w)
		c.checkCloudRun(w)
		for i := range w.Containers {
			c.checkImage(w, &w.Containers[i])
			c.checkEnv(w, &w.Containers[i])
		}
		return
	}
	c.checkWorkload(w)
	for i := range w.Containers {
		ct := &w.Containers[i]
		c.checkContainer(w, ct)
		c.checkImage(w, ct)
		c.checkEnv(w, ct)
	}
}

// Finish runs the cross-service checks and returns every finding.
func (c *Checker) Finish() []finding.Finding {
	c.checkCalls()
	out := c.findings
	c.findings, c.services = nil, nil
	return out
}

func (c *Checker) add(id string, w *manifest.Workload, line int, msg, fix string) *finding.Finding {
	r := rules.MustLookup(id)
	if line < 1 {
		line = w.Line
	}
	f := r.NewFinding(msg, finding.Location{Path: w.File, Line: line})
	if fix != "" {
		f.Fix = fix
	}
	c.findings = append(c.findings, f)
	return &c.findings[len(c.findings)-1]
}

// snippet returns the fix for w's format: compose or Kubernetes YAML.
func snippet(w *manifest.Workload, compose, kube string) string {
	if w.Format == manifest.FormatCompose {
		return compose
	}
	return kube
}

func who(w *manifest.Workload, ct *manifest.Container) string {
	if w.Format == manifest.FormatCompose || ct == nil || ct.Name == "" {
		return w.Describe()
	}
	return fmt.Sprintf("%s container %s", w.Describe(), ct.Name)
}

// checkWorkload runs the pod/service-level checks.
func (c *Checker) checkWorkload(w *manifest.Workload) {
	for _, ns := range []struct {
		b             manifest.Bool
		compose, kube string
	}{
		{w.HostNetwork, "network_mode: host", "hostNetwork: true"},
		{w.HostPID, "pid: host", "hostPID: true"},
		{w.HostIPC, "ipc: host", "hostIPC: true"},
	} {
		if ns.b.Set && ns.b.V {
			what := snippet(w, ns.compose, ns.kube)
			c.add("KS-RT-007", w, ns.b.Line, fmt.Sprintf("%s shares the host's namespace (`%s`)", w.Describe(), what),
				fmt.Sprintf("Delete `%s`%s.", what, snippet(w, " and publish the ports the service needs (`ports: [\"8080:8080\"]`)", " and expose the pod through a Service")))
		}
	}
	for _, m := range w.HostMounts {
		if isRuntimeSocket(m.HostPath) {
			c.add("KS-RT-009", w, m.Line, fmt.Sprintf("%s mounts the container-runtime socket %s", w.Describe(), m.HostPath),
				"Delete this mount. A container that must talk to the runtime should go through an API proxy that allows only the calls it needs (e.g. tecnativa/docker-socket-proxy with `CONTAINERS=1`), never the raw socket.")
			continue
		}
		ro := ""
		if m.ReadOnly {
			ro = " (read-only)"
		}
		c.add("KS-RT-008", w, m.Line, fmt.Sprintf("%s mounts host path %s%s", w.Describe(), m.HostPath, ro),
			snippet(w, "Use a named volume:\n```yaml\n    volumes:\n      - appdata:"+orDefault(m.Target, "/data")+"\nvolumes:\n  appdata: {}\n```\n(or, if the host path is needed, mount it read-only: `"+m.HostPath+":"+orDefault(m.Target, "/data")+":ro`).",
				"Replace the hostPath volume:\n```yaml\nvolumes:\n  - name: data\n    emptyDir: {}   # or persistentVolumeClaim: {claimName: data}\n```"))
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// isRuntimeSocket reports whether a host path is a container-runtime socket.
func isRuntimeSocket(p string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, s := range []string{"docker.sock", "containerd.sock", "crio.sock", "podman.sock", "cri-dockerd.sock"} {
		if strings.HasSuffix(p, "/"+s) || p == s {
			return true
		}
	}
	return p == "/var/run/docker" || p == "/run/containerd" || p == "/var/run/containerd"
}

// dangerousCaps are capabilities that give near-root power.
var dangerousCaps = map[string]bool{
	"ALL": true, "SYS_ADMIN": true, "NET_ADMIN": true, "SYS_PTRACE": true, "SYS_MODULE": true,
	"SYS_RAWIO": true, "SYS_BOOT": true, "SYS_TIME": true, "DAC_READ_SEARCH": true, "DAC_OVERRIDE": true,
	"SETFCAP": true, "MAC_ADMIN": true, "MAC_OVERRIDE": true, "BPF": true, "PERFMON": true,
	"SYSLOG": true, "NET_RAW": true, "LINUX_IMMUTABLE": true,
}

// probeKinds are the kinds whose containers serve traffic (jobs do not
// need probes).
var probeKinds = map[string]bool{"service": true, "Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true}

// isRootUser reports whether a user value names root ("0", "root", "0:0").
func isRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	return name == "0" || name == "root"
}

// checkContainer runs the container-level checks.
func (c *Checker) checkContainer(w *manifest.Workload, ct *manifest.Container) {
	name := who(w, ct)
	compose := w.Format == manifest.FormatCompose

	var prof *Profile
	if c.opts.ProfileFor != nil && ct.Image.Set {
		prof = c.opts.ProfileFor(ct.Image.V)
	}

	// KS-RT-001: root.
	switch {
	case ct.User.Set && isRootUser(ct.User.V):
		c.add("KS-RT-001", w, ct.User.Line, fmt.Sprintf("%s runs as root (%s %s)", name, snippet(w, "user:", "runAsUser:"), ct.User.V),
			snippet(w, "```yaml\n    user: \"10001:10001\"\n```", "```yaml\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n```"))
	case compose && !ct.User.Set && !(prof != nil && prof.ImageUser && prof.UID != 0):
		// (With the image scanned too, its config User is known.)
		c.add("KS-RT-001", w, w.Line, fmt.Sprintf("%s sets no user: it runs as the image's USER, root unless the image sets one", name),
			"```yaml\n    user: \"10001:10001\"\n```\n(`kensa harden IMAGE` prints the image's non-root uid:gid)")
	case !compose && !(ct.RunAsNonRoot.Set && ct.RunAsNonRoot.V) && !(ct.User.Set && ct.User.V != "" && !isRootUser(ct.User.V)):
		line := ct.Line
		what := "neither runAsNonRoot: true nor a non-zero runAsUser is set"
		if ct.RunAsNonRoot.Set {
			line, what = ct.RunAsNonRoot.Line, "runAsNonRoot is false"
		}
		c.add("KS-RT-001", w, line, fmt.Sprintf("%s may run as root: %s", name, what),
			"```yaml\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n```")
	}

	if prof != nil {
		c.checkProfile(w, ct, prof)
	}

	// KS-RT-002: privileged.
	if ct.Privileged.Set && ct.Privileged.V {
		c.add("KS-RT-002", w, ct.Privileged.Line, fmt.Sprintf("%s is privileged", name),
			snippet(w, "Delete `privileged: true`; add only what the service needs:\n```yaml\n    cap_drop: [ALL]\n    cap_add: [NET_BIND_SERVICE]\n```",
				"```yaml\nsecurityContext:\n  privileged: false\n  capabilities:\n    drop: [\"ALL\"]\n```"))
	}
	// KS-RT-003: privilege escalation.
	if !(ct.AllowPrivilegeEscalation.Set && !ct.AllowPrivilegeEscalation.V) && !(ct.Privileged.Set && ct.Privileged.V) {
		line := ct.Line
		if ct.AllowPrivilegeEscalation.Set {
			line = ct.AllowPrivilegeEscalation.Line
		}
		c.add("KS-RT-003", w, line, fmt.Sprintf("%s does not forbid privilege escalation (%s)", name, snippet(w, "no `no-new-privileges:true` in security_opt", "allowPrivilegeEscalation is not false")),
			snippet(w, "```yaml\n    security_opt:\n      - no-new-privileges:true\n```", "```yaml\nsecurityContext:\n  allowPrivilegeEscalation: false\n```"))
	}
	// KS-RT-004 / 005: capabilities.
	dropsAll := false
	for _, d := range ct.CapDrop {
		if d.V == "ALL" {
			dropsAll = true
		}
	}
	if !dropsAll && !(ct.Privileged.Set && ct.Privileged.V) {
		line := ct.CapsLine
		if line == 0 {
			line = ct.Line
		}
		c.add("KS-RT-004", w, line, fmt.Sprintf("%s keeps the default capabilities (ALL is not dropped)", name),
			snippet(w, "```yaml\n    cap_drop: [ALL]\n    cap_add: [NET_BIND_SERVICE]   # only if it binds a port below 1024\n```",
				"```yaml\nsecurityContext:\n  capabilities:\n    drop: [\"ALL\"]\n```"))
	}
	for _, a := range ct.CapAdd {
		if dangerousCaps[a.V] {
			c.add("KS-RT-005", w, a.Line, fmt.Sprintf("%s adds capability %s", name, a.V),
				fmt.Sprintf("Remove %s from %s; keep `drop: [ALL]` and add back only narrow capabilities such as NET_BIND_SERVICE.", a.V, snippet(w, "cap_add", "capabilities.add")))
		}
	}
	// KS-RT-006: writable root filesystem.
	if !(ct.ReadOnlyRootFS.Set && ct.ReadOnlyRootFS.V) {
		line := ct.Line
		if ct.ReadOnlyRootFS.Set {
			line = ct.ReadOnlyRootFS.Line
		}
		c.add("KS-RT-006", w, line, fmt.Sprintf("%s has a writable root filesystem", name),
			snippet(w, "```yaml\n    read_only: true\n    tmpfs:\n      - /tmp\n      - /run\n```\n(`kensa harden IMAGE --format compose` lists the paths the image writes)",
				"```yaml\nsecurityContext:\n  readOnlyRootFilesystem: true\nvolumeMounts:\n  - {name: tmp, mountPath: /tmp}\n# and in the pod spec: volumes: [{name: tmp, emptyDir: {}}]\n```"))
	}
	// KS-RT-010: limits.
	if !ct.Init && (!ct.CPULimit.Set || !ct.MemoryLimit.Set) {
		var missing []string
		if !ct.CPULimit.Set {
			missing = append(missing, "CPU")
		}
		if !ct.MemoryLimit.Set {
			missing = append(missing, "memory")
		}
		line := ct.ResourcesLine
		if line == 0 {
			line = ct.Line
		}
		c.add("KS-RT-010", w, line, fmt.Sprintf("%s has no %s limit", name, strings.Join(missing, " or ")),
			snippet(w, "```yaml\n    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n          memory: 256M\n```",
				"```yaml\nresources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\n```"))
	}
	// KS-RT-015: ports.
	for _, p := range ct.Ports {
		var why string
		switch {
		case p.Container == 22 || p.Host == 22:
			why = "SSH port 22"
		case p.Container > 0 && p.Container < 1024:
			why = fmt.Sprintf("privileged container port %d (needs root or NET_BIND_SERVICE)", p.Container)
		case p.Host > 0 && p.Host < 1024 && !compose:
			why = fmt.Sprintf("privileged hostPort %d", p.Host)
		default:
			continue
		}
		c.add("KS-RT-015", w, p.Line, fmt.Sprintf("%s publishes %s", name, why),
			snippet(w, "Serve on an unprivileged port inside the container and map it:\n```yaml\n    ports:\n      - \"80:8080\"\n```\n(remove SSH servers; use `docker compose exec`)",
				"Serve on an unprivileged port and let a Service map it:\n```yaml\nports:\n  - containerPort: 8080\n# Service: port: 80, targetPort: 8080\n```"))
	}
	// KS-RT-016 / 017: seccomp.
	switch {
	case ct.Seccomp.Set && strings.EqualFold(ct.Seccomp.V, "unconfined"):
		c.add("KS-RT-016", w, ct.Seccomp.Line, fmt.Sprintf("%s runs without a seccomp filter (%s)", name, ct.Seccomp.V),
			snippet(w, "Delete `seccomp=unconfined` from security_opt (Docker then applies its default profile), or give a profile: `seccomp=./seccomp.json`.",
				"```yaml\nsecurityContext:\n  seccompProfile:\n    type: RuntimeDefault\n```"))
	case !compose && !ct.Seccomp.Set && !ct.Init:
		c.add("KS-RT-017", w, ct.Line, fmt.Sprintf("%s sets no seccomp profile (Kubernetes runs it Unconfined unless the kubelet's SeccompDefault is on)", name),
			"```yaml\n# pod spec\nsecurityContext:\n  seccompProfile:\n    type: RuntimeDefault\n```")
	}
	// KS-RT-018: probes.
	if probeKinds[w.Kind] && !ct.Init && !(ct.Probe.Set && ct.Probe.V) {
		line, what := ct.Line, snippet(w, "no healthcheck (unless the image defines HEALTHCHECK)", "no readiness or liveness probe")
		if ct.Probe.Set {
			line, what = ct.Probe.Line, "its healthcheck is disabled"
		}
		c.add("KS-RT-018", w, line, fmt.Sprintf("%s has %s", name, what),
			snippet(w, "```yaml\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-qO-\", \"http://localhost:8080/healthz\"]\n      interval: 30s\n      timeout: 5s\n      retries: 3\n```",
				"```yaml\nreadinessProbe:\n  httpGet: {path: /healthz, port: 8080}\nlivenessProbe:\n  httpGet: {path: /healthz, port: 8080}\n  periodSeconds: 20\n```"))
	}
}

// splitImage returns an image reference's tag ("" when none) and whether
// it has a digest.
func splitImage(ref string) (tag string, digest bool) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], true
	}
	last := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		last = ref[i+1:]
	}
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	return tag, digest
}

// checkImage runs KS-RT-011..013 on a container's image.
func (c *Checker) checkImage(w *manifest.Workload, ct *manifest.Container) {
	img := strings.TrimSpace(ct.Image.V)
	if !ct.Image.Set || img == "" || strings.Contains(img, "$") || ct.Built {
		return
	}
	name := who(w, ct)
	tag, digest := splitImage(img)
	switch {
	case !digest && (tag == "" || tag == "latest"):
		c.add("KS-RT-011", w, ct.Image.Line, fmt.Sprintf("%s uses image %s (%s)", name, img, map[bool]string{true: "no tag: latest", false: "tag latest"}[tag == ""]),
			fmt.Sprintf("```yaml\nimage: %s:<version>@sha256:<digest>\n```\n(`crane digest %s:<version>` prints the digest)", strings.TrimSuffix(img, ":latest"), strings.TrimSuffix(img, ":latest")))
	case !digest:
		c.add("KS-RT-012", w, ct.Image.Line, fmt.Sprintf("%s uses image %s without a digest", name, img),
			fmt.Sprintf("```yaml\nimage: %s@sha256:<digest>\n```\n(`crane digest %s` prints it; let Renovate or Dependabot keep it current)", img, img))
	}
	if c.opts.IsTrusted != nil && !c.opts.IsTrusted(img) {
		c.add("KS-RT-013", w, ct.Image.Line, fmt.Sprintf("%s uses image %s, outside the trusted registries (%s)", name, img, strings.Join(c.opts.TrustedRegistries, ", ")),
			"Use an image from "+strings.Join(c.opts.TrustedRegistries, " or ")+", or add its registry to `trusted_registries` in kensa.yaml after review.")
	}
}

// checkEnv runs KS-RT-014: credentials in literal environment values.
func (c *Checker) checkEnv(w *manifest.Workload, ct *manifest.Container) {
	for _, e := range ct.Env {
		if e.FromRef || e.Value == "" || strings.Contains(e.Value, "${") {
			continue
		}
		ms := secret.ScanKeyValue(e.Name, e.Value)
		if len(ms) == 0 {
			continue
		}
		m := ms[0]
		fix := snippet(w, fmt.Sprintf("Move the value into a compose secret and read it from /run/secrets:\n```yaml\nservices:\n  %s:\n    secrets: [%s]\n    environment:\n      %s_FILE: /run/secrets/%s\nsecrets:\n  %s:\n    file: ./secrets/%s.txt   # not in version control\n```\nand rotate the exposed value.", w.Name, secretName(e.Name), e.Name, secretName(e.Name), secretName(e.Name), secretName(e.Name)),
			fmt.Sprintf("```yaml\nenv:\n  - name: %s\n    valueFrom:\n      secretKeyRef:\n        name: %s\n        key: %s\n```\nand rotate the exposed value.", e.Name, secretName(e.Name), map[bool]string{true: "latest", false: "value"}[w.Format == manifest.FormatKnative]))
		f := c.add("KS-RT-014", w, e.Line, fmt.Sprintf("%s: environment variable %s holds a credential (%s: %s)", who(w, ct), e.Name, strings.TrimPrefix(m.RuleID, "KS-SE-"), m.Redacted), fix)
		f.Severity = maxSev(f.Severity, m.Severity)
	}
}

func maxSev(a, b finding.Severity) finding.Severity {
	if b > a {
		return b
	}
	return a
}

// secretName turns an env name into a secret name (DB_PASSWORD → db-password).
func secretName(env string) string {
	return strings.ToLower(strings.ReplaceAll(env, "_", "-"))
}

// checkProfile runs KS-RT-025 and KS-RT-026 against the image's profile.
func (c *Checker) checkProfile(w *manifest.Workload, ct *manifest.Container, p *Profile) {
	name := who(w, ct)
	compose := w.Format == manifest.FormatCompose
	user := fmt.Sprintf("%d:%d", p.UID, p.GID)
	if p.UID != 0 {
		root := ct.User.Set && isRootUser(ct.User.V)
		if compose && !ct.User.Set && !p.ImageUser {
			root = true
		}
		if root {
			line := ct.User.Line
			if !ct.User.Set {
				line = w.Line
			}
			c.add("KS-RT-025", w, line, fmt.Sprintf("%s runs %s as root, but the image runs as %s", name, p.Image, user),
				snippet(w, fmt.Sprintf("```yaml\n    user: \"%s\"\n```", user), fmt.Sprintf("```yaml\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: %d\n  runAsGroup: %d\n```", p.UID, p.GID)))
		}
	}
	need := map[string]bool{}
	for _, cp := range p.CapAdd {
		need[manifest.NormalizeCap(cp)] = true
	}
	for _, a := range ct.CapAdd {
		if !need[a.V] && !dangerousCaps[a.V] { // dangerous ones are KS-RT-005
			c.add("KS-RT-025", w, a.Line, fmt.Sprintf("%s adds capability %s, which %s does not need (it needs: %s)", name, a.V, p.Image, orDefault(strings.Join(p.CapAdd, ", "), "none")),
				fmt.Sprintf("Remove %s from %s.", a.V, snippet(w, "cap_add", "capabilities.add")))
		}
	}
	exposed := map[int]bool{}
	for _, pt := range p.Ports {
		exposed[pt] = true
	}
	for _, pt := range ct.Ports {
		if pt.Container > 0 && len(p.Ports) > 0 && !exposed[pt.Container] {
			c.add("KS-RT-025", w, pt.Line, fmt.Sprintf("%s publishes container port %d, which %s does not expose (it exposes %s)", name, pt.Container, p.Image, joinInts(p.Ports)),
				"Publish only the ports the image exposes, or EXPOSE the port in the Dockerfile if the app really listens there.")
		}
	}
	if ct.ReadOnlyRootFS.Set && ct.ReadOnlyRootFS.V {
		var missing []string
		for _, wp := range p.Writable {
			covered := false
			for _, m := range ct.MountPaths {
				if under(wp, m.V) {
					covered = true
					break
				}
			}
			if !covered {
				missing = append(missing, wp)
			}
		}
		if len(missing) > 0 {
			var fix strings.Builder
			if compose {
				fix.WriteString("```yaml\n    tmpfs:\n")
				for _, m := range missing {
					fmt.Fprintf(&fix, "      - %s:mode=1777\n", m)
				}
			} else {
				fix.WriteString("```yaml\nvolumeMounts:\n")
				for _, m := range missing {
					fmt.Fprintf(&fix, "  - {name: %s, mountPath: %s}\n", volName(m), m)
				}
				fix.WriteString("# pod spec:\nvolumes:\n")
				for _, m := range missing {
					fmt.Fprintf(&fix, "  - {name: %s, emptyDir: {}}\n", volName(m))
				}
			}
			fix.WriteString("```")
			c.add("KS-RT-026", w, ct.ReadOnlyRootFS.Line, fmt.Sprintf("%s has a read-only root but nothing writable on %s, where %s writes: it will fail at start", name, strings.Join(missing, ", "), p.Image), fix.String())
		}
	}
}

func under(p, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == ""
}

func volName(p string) string {
	s := strings.Trim(strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(p), "-")
	if s == "" {
		return "root"
	}
	return s
}

func joinInts(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprint(n))
	}
	return strings.Join(out, ", ")
}
