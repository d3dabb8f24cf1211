// Package manifest loads runtime and deployment manifests — Docker Compose
// files, Kubernetes workload objects and Knative/Cloud Run services — into
// one small model of workloads and containers whose every value keeps the
// file line of the key it came from, so runtime rules can name file:line.
//
// Kubernetes streams are decoded one document at a time (memory is flat in
// the number of documents); every document is bounded in size and in alias
// expansion, so YAML bombs are refused with an error naming the input.
package manifest

// Format is the kind of manifest a workload was read from.
type Format string

// Manifest formats.
const (
	FormatCompose    Format = "compose"
	FormatKubernetes Format = "kubernetes"
	FormatKnative    Format = "knative" // serving.knative.dev Service (Cloud Run)
)

// Str is a string value with the line of its key (Line 0: unknown).
type Str struct {
	Set  bool
	V    string
	Line int
}

// Bool is a boolean value with the line of its key.
type Bool struct {
	Set  bool
	V    bool
	Line int
}

// Env is one environment variable of a container.
type Env struct {
	Name  string
	Value string
	// FromRef is true when the value comes from a secret or config
	// reference (secretKeyRef, configMapKeyRef, fieldRef...), not a literal.
	FromRef bool
	Line    int
}

// Port is a port a container publishes or declares.
type Port struct {
	// Host is the published host port (compose `ports`, k8s hostPort);
	// 0 when none is published.
	Host int
	// Container is the container-side port (0 when unknown, e.g. a range).
	Container int
	Protocol  string
	Line      int
}

// Mount is a host filesystem path mounted into a workload.
type Mount struct {
	HostPath string
	Target   string // mount path in the container, when known
	ReadOnly bool
	Line     int
}

// Container is one container of a workload (a compose service is one).
type Container struct {
	Name string
	Line int
	Init bool // a Kubernetes init container

	Image Str
	// Built is true when compose builds the image (`build:`): Image is
	// then the local tag the build produces, not a pulled reference.
	Built bool
	// User is the user the process runs as: compose `user`, k8s
	// runAsUser (pod-level value inherited when the container sets none).
	User         Str
	RunAsNonRoot Bool
	Privileged   Bool
	// AllowPrivilegeEscalation is false when the manifest forbids it
	// (k8s allowPrivilegeEscalation: false, compose
	// security_opt no-new-privileges:true).
	AllowPrivilegeEscalation Bool
	ReadOnlyRootFS           Bool
	// CapDrop and CapAdd hold capability names without the CAP_ prefix,
	// upper-cased; CapsLine is the line of the capabilities block, if any.
	CapDrop  []Str
	CapAdd   []Str
	CapsLine int
	// Seccomp is the seccomp profile: "RuntimeDefault", "Unconfined",
	// "Localhost", or for compose the security_opt value (unconfined or a
	// profile path).
	Seccomp     Str
	CPULimit    Str
	MemoryLimit Str
	// ResourcesLine is the line of the resources block (0: none).
	ResourcesLine int
	Env           []Env
	Ports         []Port
	// MountPaths are the container paths something is mounted on
	// (volumes, binds, tmpfs; k8s volumeMounts).
	MountPaths []Str
	// Probe is set when the container has a liveness or readiness probe
	// (compose: a healthcheck); V is false when it is explicitly disabled.
	Probe Bool
}

// Workload is one runnable object: a compose service, a Kubernetes workload
// (Pod, Deployment, ...), or a Knative/Cloud Run Service.
type Workload struct {
	File   string
	Format Format
	Kind   string // "service" for compose, else the object kind
	Name   string
	// Line is the line of the object's name (compose: the service key;
	// k8s: metadata.name, else kind).
	Line int
	// SpecLine is the line of the pod spec (k8s) or the service (compose),
	// where pod-level fixes go.
	SpecLine int

	HostNetwork Bool // compose network_mode: host
	HostPID     Bool
	HostIPC     Bool
	HostMounts  []Mount
	Containers  []Container

	ServiceAccount Str
	// Annotations are metadata.annotations; TemplateAnnotations those of
	// spec.template.metadata (Knative revision template).
	Annotations         map[string]Str
	TemplateAnnotations map[string]Str
	// AnnotationsLine and TemplateAnnotationsLine are the lines of the
	// metadata (or annotations) blocks, where a missing annotation goes.
	AnnotationsLine         int
	TemplateAnnotationsLine int
	ContainerConcurrency    Str
}

// Skip records an object or file kensa read but does not check.
type Skip struct {
	File   string
	Line   int
	Kind   string
	Reason string
}
