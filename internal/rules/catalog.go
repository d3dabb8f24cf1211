// Package rules is the catalogue of kensa's stable rule IDs: for each rule its
// default severity, title, the practice it enforces and a fix hint. Checks
// live in the scanner packages and look their metadata up here, so `kensa
// rules`, SARIF rule descriptors and findings always agree.
package rules

import (
	"slices"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
)

// Rule describes one check. IDs are stable: never renumbered, never reused.
type Rule struct {
	ID       string
	Severity finding.Severity
	Kind     finding.Kind
	Title    string
	// Help explains the practice and why it matters (SARIF help text).
	Help string
	// Fix is the default concrete fix hint.
	Fix string
}

// NewFinding returns a finding for this rule with its default severity,
// title and fix; the caller sets Message and Location.
func (r Rule) NewFinding(msg string, loc finding.Location) finding.Finding {
	return finding.Finding{Kind: r.Kind, ID: r.ID, Severity: r.Severity, Title: r.Title, Message: msg, Location: loc, Fix: r.Fix}
}

const (
	sevC = finding.SeverityCritical
	sevH = finding.SeverityHigh
	sevM = finding.SeverityMedium
	sevL = finding.SeverityLow
	sevI = finding.SeverityInfo
)

// catalog is every family's rules. A new family lives in its own file
// (catalog_<family>.go) as a []Rule variable listed here.
var catalog = slices.Concat(coreRules, runtimeRules, trustRules, hostileRules)

// coreRules are the Dockerfile, build-context and image rules.
var coreRules = []Rule{
	// Dockerfile.
	{"KS-DF-001", sevH, finding.KindMisconfig, "Final stage runs as root",
		"A container whose process runs as root turns any code-execution bug into root in the container and widens the blast radius of a breakout. The final stage should switch to a non-root user.",
		"Create an unprivileged user and add `USER <name>` (or `USER 10001`) as the last USER instruction of the final stage."},
	{"KS-DF-002", sevM, finding.KindMisconfig, "Base image uses latest or no tag",
		"An untagged or `latest` base image changes under you: builds are not reproducible and may silently pick up breaking or vulnerable versions.",
		"Pin the base image to an explicit version tag, e.g. `FROM debian:12.7-slim`."},
	{"KS-DF-003", sevL, finding.KindMisconfig, "Base image not pinned by digest",
		"Tags are mutable; only a digest guarantees the bytes you tested are the bytes you build on.",
		"Append the digest: `FROM image:tag@sha256:<digest>` (get it with `crane digest image:tag`), and let a bot such as Renovate update it."},
	{"KS-DF-004", sevH, finding.KindMisconfig, "Base image from an untrusted registry",
		"Base images should come only from registries and namespaces your organisation trusts (configured under `trusted_registries`).",
		"Use a base image from a trusted registry, or add the registry to `trusted_registries` in kensa.yaml after review."},
	{"KS-DF-005", sevL, finding.KindMisconfig, "ADD used where COPY does the same",
		"ADD also fetches URLs and auto-extracts archives; using it for plain files hides that magic and surprises readers. COPY is explicit.",
		"Replace `ADD` with `COPY`; for URLs, download with curl/wget in a RUN and verify a checksum; for archives, keep ADD only when extraction is intended."},
	{"KS-DF-006", sevL, finding.KindMisconfig, "apt-get install without --no-install-recommends",
		"Recommended packages inflate the image and its attack surface with software the app never uses.",
		"Add `--no-install-recommends` to `apt-get install`."},
	{"KS-DF-007", sevL, finding.KindMisconfig, "apt lists not removed after apt-get install",
		"Package lists left in /var/lib/apt/lists add tens of MB to the layer. They must be removed in the same RUN, or they stay in the layer.",
		"End the same RUN with `&& rm -rf /var/lib/apt/lists/*`, or use `RUN --mount=type=cache,target=/var/lib/apt/lists`."},
	{"KS-DF-008", sevL, finding.KindMisconfig, "apk add without --no-cache",
		"apk keeps its index cache in /var/cache/apk unless told not to; it bloats the layer.",
		"Use `apk add --no-cache ...`."},
	{"KS-DF-009", sevL, finding.KindMisconfig, "Package-manager cache left in the layer",
		"pip, npm and yarn caches left in a layer are dead weight shipped to every node.",
		"Use `pip install --no-cache-dir`, `npm ci && npm cache clean --force`, `yarn install && yarn cache clean` in the same RUN, or a `--mount=type=cache` mount."},
	{"KS-DF-010", sevC, finding.KindSecret, "Credential in ENV, ARG or LABEL",
		"ENV, ARG and LABEL values are stored in the image config and history: anyone who can pull the image can read them.",
		"Remove the value; pass it at build time with `RUN --mount=type=secret,id=<name>` or inject it at runtime (orchestrator secret, env from a secret store)."},
	{"KS-DF-011", sevH, finding.KindSecret, "Credential-looking file copied into the image",
		"Keys, .env files and package-manager credentials copied into an image ship to everyone who pulls it.",
		"Do not copy the file; use `RUN --mount=type=secret` for build-time use or mount it at runtime, and exclude it in .dockerignore."},
	{"KS-DF-012", sevH, finding.KindSecret, "File added then deleted in a later layer",
		"Deleting a file in a later RUN does not remove it from the earlier layer: it is still in the image and extractable.",
		"Do not add the file in its own step: use `RUN --mount=type=bind` or `--mount=type=secret` for files needed only while building, or add and remove it within the same RUN, or use a multi-stage build."},
	{"KS-DF-013", sevH, finding.KindMisconfig, "Remote script piped to a shell",
		"`curl | sh` runs whatever the server returns at build time, unverified.",
		"Download to a file, verify its checksum or signature, then run it: `curl -fsSLo x.sh URL && echo '<sha256>  x.sh' | sha256sum -c - && sh x.sh`."},
	{"KS-DF-014", sevM, finding.KindMisconfig, "sudo used in RUN",
		"Build steps already run as the current USER; sudo adds a setuid binary and unpredictable TTY/env behaviour.",
		"Remove sudo: switch with `USER root` for the privileged steps and back to the app user afterwards."},
	{"KS-DF-015", sevL, finding.KindMisconfig, "Final stage has no HEALTHCHECK",
		"Without a HEALTHCHECK, the runtime cannot tell a hung process from a healthy one.",
		"Add `HEALTHCHECK CMD <probe>` (or `HEALTHCHECK NONE` to state that the orchestrator probes it)."},
	{"KS-DF-016", sevI, finding.KindMisconfig, "Final stage lacks OCI labels",
		"OCI labels (org.opencontainers.image.source, .version, .revision) let scanners and people trace an image to its code.",
		"Add `LABEL org.opencontainers.image.source=<repo URL> org.opencontainers.image.version=<version>`."},
	{"KS-DF-017", sevM, finding.KindMisconfig, "Whole context copied before dependency install",
		"Copying all sources before installing dependencies invalidates the dependency layer on every source change, making builds slow.",
		"Copy only the dependency manifests first (e.g. `COPY package.json package-lock.json ./`), install, then `COPY . .`."},
	{"KS-DF-018", sevM, finding.KindMisconfig, "Single-stage image installs build toolchains",
		"Compilers, headers and build tools left in the runtime image add size and attack surface.",
		"Use a multi-stage build: compile in a builder stage and `COPY --from=builder` only the artifacts into a slim final stage."},
	{"KS-DF-019", sevM, finding.KindMisconfig, "apt-get update without install in the same RUN",
		"A lone `apt-get update` layer is cached; later installs use stale lists and can fail or install old versions.",
		"Combine them: `RUN apt-get update && apt-get install -y --no-install-recommends ... && rm -rf /var/lib/apt/lists/*`."},
	{"KS-DF-020", sevL, finding.KindMisconfig, "OS packages installed without version pins",
		"Unpinned packages make builds non-reproducible.",
		"Pin versions (`apt-get install pkg=1.2.3-1`, `apk add pkg=1.2.3-r0`, `yum install pkg-1.2.3`), or pin the base image digest and accept the distro's updates deliberately."},
	{"KS-DF-021", sevM, finding.KindMisconfig, "SSH exposed or SSH server installed",
		"An SSH server in a container is an extra, usually unmonitored, way in. Use `docker exec`/`kubectl exec` instead.",
		"Remove the SSH server and `EXPOSE 22`."},
	{"KS-DF-022", sevM, finding.KindMisconfig, "World-writable permissions",
		"World-writable files let any process in the container rewrite them.",
		"Grant the least permission needed: `chown app:app` and `chmod 755`/`644`, or `COPY --chown`."},
	{"KS-DF-023", sevL, finding.KindMisconfig, "Relative WORKDIR or cd in RUN",
		"A relative WORKDIR depends on the previous one; `cd` in RUN does not persist and hides where commands run.",
		"Use absolute `WORKDIR /path` instructions instead of `cd`."},
	{"KS-DF-024", sevL, finding.KindMisconfig, "Shell-form CMD or ENTRYPOINT",
		"Shell form wraps the process in `/bin/sh -c`: it runs as a child of the shell and does not receive SIGTERM, so containers stop slowly and uncleanly.",
		"Use exec form: `CMD [\"executable\", \"arg\"]`."},
	{"KS-DF-025", sevL, finding.KindMisconfig, "yum/dnf/zypper cache not cleaned",
		"RPM package-manager caches left in the layer add size.",
		"End the same RUN with `&& yum clean all && rm -rf /var/cache/yum` (dnf: `dnf clean all`; zypper: `zypper clean -a`)."},
	{"KS-DF-026", sevI, finding.KindMisconfig, "Full OS base where a minimal base would do",
		"A static binary needs no shell, package manager or libc: a distroless or scratch base removes most of the attack surface.",
		"Use `gcr.io/distroless/static` (or `scratch`) as the final stage's base."},
	{"KS-DF-027", sevM, finding.KindMisconfig, "Files copied into a non-root stage without --chown",
		"Files copied without --chown belong to root; an app running as a non-root user cannot write them, which leads people to run as root or chmod 777.",
		"Use `COPY --chown=<user>:<group>` (or `--chmod`) for files the app writes."},
	{"KS-DF-028", sevH, finding.KindMisconfig, "USER names a user nothing creates",
		"A USER that neither a RUN (useradd/adduser) nor a known base image creates makes the build or container start fail.",
		"Create the user first (`RUN useradd --system --uid 10001 app`) or use a numeric UID."},
	{"KS-DF-029", sevL, finding.KindMisconfig, "Distribution upgrade inside the image",
		"`apt-get upgrade`/`apk upgrade` in a Dockerfile makes builds non-reproducible and hides an out-of-date base.",
		"Rebuild on an updated base image instead of upgrading inside it."},
	{"KS-DF-030", sevM, finding.KindSecret, "ARG passes a credential to RUN",
		"Build arguments used by RUN are recorded in the image history (`docker history`), readable by anyone who pulls the image.",
		"Use `RUN --mount=type=secret,id=<name>` and read the secret from /run/secrets/<name>."},

	// Build context.
	{"KS-CX-001", sevM, finding.KindMisconfig, "No .dockerignore",
		"Without .dockerignore the whole folder (VCS metadata, secrets, build outputs) is sent to the builder and may be copied into the image.",
		"Add a .dockerignore excluding at least `.git`, `.env*`, keys and build outputs."},
	{"KS-CX-002", sevH, finding.KindSecret, "Sensitive file would be sent into the image",
		"A secret file in the build context that is not excluded ends up in the image when a COPY/ADD covers it.",
		"Add the path to .dockerignore (and rotate the secret if an image with it was ever pushed)."},
	{"KS-CX-003", sevL, finding.KindMisconfig, "Costly .dockerignore",
		"Many patterns and `!` exceptions force the builder to walk and match every file in the context, slowing every build.",
		"Reduce patterns: exclude whole folders, avoid `!` re-inclusions, or move the build context to a smaller folder."},
	{"KS-CX-004", sevM, finding.KindMisconfig, "Large build context",
		"Large contexts (node_modules, .git, build outputs) are slow to send and risk leaking into the image.",
		"Exclude dependency folders, VCS metadata and build outputs in .dockerignore."},
	{"KS-CX-005", sevH, finding.KindMisconfig, "COPY source excluded by .dockerignore",
		"A COPY/ADD source that .dockerignore excludes is not sent to the builder: the build fails or copies nothing.",
		"Remove the exclusion from .dockerignore (or add a `!` exception), or fix the COPY source path."},

	// Image.
	{"KS-IM-001", sevH, finding.KindMisconfig, "Image runs as root",
		"The image config has no user, or root/0: containers run as root unless the runtime overrides it.",
		"Set a non-root `USER` in the final stage of the Dockerfile."},
	{"KS-IM-002", sevC, finding.KindSecret, "Credential in image config Env",
		"Config environment variables are readable by anyone who can pull the image (`docker inspect`).",
		"Remove the ENV; inject the value at runtime from a secret store."},
	{"KS-IM-003", sevC, finding.KindSecret, "Credential in image history",
		"Build arguments and commands are recorded in the image history (`docker history --no-trunc`).",
		"Use `RUN --mount=type=secret` instead of ARG/ENV for credentials, rotate the leaked value, and rebuild."},
	{"KS-IM-004", sevC, finding.KindSecret, "Credential file in the final filesystem",
		"A credential file in the image ships to everyone who pulls it.",
		"Remove the file from the image (exclude it in .dockerignore, mount it at runtime) and rotate it."},
	{"KS-IM-005", sevC, finding.KindSecret, "Deleted credential file still in an earlier layer",
		"A file removed by a later layer remains in the layer that added it; anyone can extract it with `docker save`.",
		"Rebuild without ever adding the file (use `RUN --mount=type=secret`), rotate the credential, and delete the pushed image."},
	{"KS-IM-006", sevM, finding.KindMisconfig, "setuid/setgid file",
		"setuid/setgid binaries are privilege-escalation paths.",
		"Remove the bit in the Dockerfile: `RUN chmod a-s <path>` (or remove the binary)."},
	{"KS-IM-007", sevM, finding.KindMisconfig, "World-writable path without sticky bit",
		"World-writable files and folders let any process in the container tamper with them.",
		"Fix permissions in the Dockerfile (`chmod o-w <path>`), or add the sticky bit to shared folders (`chmod +t`)."},
	{"KS-IM-008", sevL, finding.KindMisconfig, "No healthcheck in the image config",
		"Without a healthcheck the runtime cannot detect a hung process.",
		"Add a `HEALTHCHECK` instruction to the Dockerfile."},
	{"KS-IM-009", sevL, finding.KindMisconfig, "Package-manager cache left in the image",
		"apt lists, apk, pip and npm caches are shipped as dead weight.",
		"Clean the cache in the same RUN that fills it, or use `--mount=type=cache`."},
	{"KS-IM-010", sevI, finding.KindMisconfig, "Shell or package manager present",
		"A shell and package manager in the runtime image help attackers more than operators.",
		"Use a distroless or scratch base for the final stage."},
	{"KS-IM-011", sevM, finding.KindMisconfig, "SSH or privileged port exposed",
		"Exposing SSH (22) or a privileged port (<1024) needs root or extra capabilities and widens the attack surface.",
		"Serve on an unprivileged port (e.g. 8080) and map it at runtime; remove SSH."},
	{"KS-IM-012", sevL, finding.KindMisconfig, "Layer waste",
		"Bytes written by one layer and deleted or overwritten by a later one still ship in the image.",
		"Create and remove temporary files in the same RUN, or use a multi-stage build."},
	{"KS-IM-013", sevH, finding.KindMisconfig, "Operating system past end of life",
		"An end-of-life OS release gets no security fixes.",
		"Rebase on a supported release of the distribution."},
}

var byID = func() map[string]Rule {
	m := make(map[string]Rule, len(catalog))
	for _, r := range catalog {
		m[r.ID] = r
	}
	return m
}()

// All returns every catalogued rule in ID order.
func All() []Rule {
	out := append([]Rule(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the rule with the given ID.
func Lookup(id string) (Rule, bool) {
	r, ok := byID[id]
	return r, ok
}

// MustLookup returns the rule with the given ID and panics if it is not
// catalogued; use it only with constant IDs (a typo fails every test).
func MustLookup(id string) Rule {
	r, ok := byID[id]
	if !ok {
		panic("rules: unknown rule " + id)
	}
	return r
}

// WithPrefix returns catalogued rules whose ID starts with prefix (e.g. "KS-DF-").
func WithPrefix(prefix string) []Rule {
	var out []Rule
	for _, r := range All() {
		if strings.HasPrefix(r.ID, prefix) {
			out = append(out, r)
		}
	}
	return out
}
