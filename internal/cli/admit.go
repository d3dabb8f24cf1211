package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kensa-sec/kensa/internal/admission"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/trust"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

func init() {
	extraCommands = append(extraCommands, newAdmitCmd)
}

type admitFlags struct {
	trustFlags
	Manifests     []string
	MaxAge        time.Duration
	MaxSeverity   string
	RequireDigest bool
	Serve         string
	TLSCert       string
	TLSKey        string
	FailOpen      bool
	Timeout       time.Duration
	CacheTTL      time.Duration

	// ready, when set, receives the listener's address (tests).
	ready chan<- string
}

func newAdmitCmd() *cobra.Command {
	o := &admitFlags{}
	cmd := &cobra.Command{
		Use:   "admit [IMAGE...]",
		Short: "Admission check: allow only signed images with a fresh, passing kensa scan attestation",
		Long: `admit decides, per image, whether it may run: the reference is digest-pinned
or resolved to a digest, a trusted key or identity signed that digest, and a
kensa scan attestation (kensa attest) signed by a trusted key names that
digest, is younger than max_age and reports no finding above max_severity.
It prints allow/deny with the reason per image and exits 1 on any deny.
  kensa admit registry.example/app@sha256:... --key cosign.pub
  kensa admit -f deploy.yaml                      images of Kubernetes workloads
  kensa admit --serve :8443 --tls-cert tls.crt --tls-key tls.key
With --serve it is a Kubernetes ValidatingAdmissionWebhook
(admission.k8s.io/v1 AdmissionReview at any path), fail-closed unless
--fail-open. Trusted keys, identities and the limits come from kensa.yaml's
trust: section; flags override it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			return runAdmit(cmd, o, args)
		},
	}
	f := cmd.Flags()
	addTrustFlags(f, &o.trustFlags)
	f.StringSliceVarP(&o.Manifests, "manifest", "m", nil, "Kubernetes YAML file(s) whose workloads' images to check (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, ...)")
	f.DurationVar(&o.MaxAge, "max-age", 0, "oldest acceptable scan attestation (default trust.admit.max_age, else 168h)")
	f.StringVar(&o.MaxSeverity, "max-severity", "", "highest severity an attested finding may have (default trust.admit.max_severity, else HIGH)")
	f.BoolVar(&o.RequireDigest, "require-digest", false, "deny tag references instead of resolving them")
	f.StringVar(&o.Serve, "serve", "", "serve the admission webhook on this address (e.g. :8443)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "webhook TLS certificate (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "webhook TLS private key (PEM)")
	f.BoolVar(&o.FailOpen, "fail-open", false, "webhook: allow when kensa itself fails (registry down, timeout); policy denials still deny")
	f.DurationVar(&o.Timeout, "timeout", 0, "webhook: budget per review (default trust.admit.timeout, else 8s)")
	f.DurationVar(&o.CacheTTL, "cache-ttl", 0, "webhook: how long a digest's decision is reused (default trust.admit.cache_ttl, else 5m)")
	return cmd
}

// policy builds the admission policy from kensa.yaml and the flags.
func (o *admitFlags) policy(cmd *cobra.Command) (*trust.AdmitPolicy, admission.Options, error) {
	var wo admission.Options
	cfg, err := o.config()
	if err != nil {
		return nil, wo, err
	}
	vo, err := o.options(cfg, true)
	if err != nil {
		return nil, wo, err
	}
	if len(vo.Keys) == 0 {
		return nil, wo, inputErrorf("admit needs a trusted key (--key or trust.keys): kensa attestations are verified with keys")
	}
	// One registry client for every decision: the webhook's cache misses
	// skip the ping and token exchange after the first.
	if vo.Registry, err = vo.Registry.Shared(); err != nil {
		return nil, wo, err
	}
	a := cfg.Trust.Admit
	p := &trust.AdmitPolicy{Verify: vo, MaxAge: a.MaxAgeOrDefault(), MaxSeverity: a.MaxSeverityOrDefault(), RequireDigest: a.RequireDigest || o.RequireDigest}
	if cmd.Flags().Changed("max-age") {
		if o.MaxAge <= 0 {
			return nil, wo, inputErrorf("--max-age %s: must be positive", o.MaxAge)
		}
		p.MaxAge = o.MaxAge
	}
	if o.MaxSeverity != "" {
		if p.MaxSeverity, err = finding.ParseSeverity(o.MaxSeverity); err != nil {
			return nil, wo, inputErrorf("--max-severity: %v", err)
		}
	}
	wo = admission.Options{Timeout: a.TimeoutOrDefault(), CacheTTL: a.CacheTTLOrDefault(), FailOpen: a.FailOpen || o.FailOpen}
	if cmd.Flags().Changed("timeout") {
		wo.Timeout = o.Timeout
	}
	if cmd.Flags().Changed("cache-ttl") {
		wo.CacheTTL = o.CacheTTL
	}
	if wo.Timeout < 0 || wo.CacheTTL < 0 {
		return nil, wo, inputErrorf("--timeout and --cache-ttl must not be negative")
	}
	return p, wo, nil
}

func runAdmit(cmd *cobra.Command, o *admitFlags, images []string) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Format == "sarif" {
		return inputErrorf("admit --format: table or json")
	}
	p, wo, err := o.policy(cmd)
	if err != nil {
		return err
	}
	if o.Serve != "" {
		if len(images) > 0 || len(o.Manifests) > 0 {
			return inputErrorf("--serve takes no images or manifests: the API server sends them")
		}
		return serveAdmit(ctx, o, admission.NewWebhook(p, wo), cmd.ErrOrStderr())
	}
	var targets []admission.Image
	for _, img := range images {
		targets = append(targets, admission.Image{Image: img})
	}
	for _, m := range o.Manifests {
		ims, err := manifestImages(m)
		if err != nil {
			return &InputError{Err: err}
		}
		targets = append(targets, ims...)
	}
	if len(targets) == 0 {
		return inputErrorf("admit needs IMAGE arguments, --manifest files or --serve")
	}
	type row struct {
		Path string `json:"path,omitempty"`
		trust.Decision
	}
	var rows []row
	denied := false
	for _, t := range targets {
		var d trust.Decision
		if wo.Timeout > 0 {
			c, cancel := context.WithTimeout(ctx, wo.Timeout)
			d = p.Check(c, t.Image)
			cancel()
		} else {
			d = p.Check(ctx, t.Image)
		}
		denied = denied || !d.Allowed
		rows = append(rows, row{Path: t.Path, Decision: d})
	}
	out := cmd.OutOrStdout()
	if o.Format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"decisions": rows}); err != nil {
			return err
		}
	} else {
		for _, r := range rows {
			verdict := "DENY "
			if r.Allowed {
				verdict = "ALLOW"
			}
			where := r.Image
			if r.Path != "" {
				where = r.Path + " " + r.Image
			}
			if r.Digest != "" && r.Digest != digestOf(r.Image) {
				where += " (" + r.Digest + ")"
			}
			fmt.Fprintf(out, "%s %s: %s\n", verdict, where, r.Reason())
		}
	}
	if denied {
		return &exitError{code: 1}
	}
	return nil
}

func digestOf(image string) string {
	for i := len(image) - 1; i >= 0; i-- {
		if image[i] == '@' {
			return image[i+1:]
		}
	}
	return ""
}

// manifestImages reads the workload images of a Kubernetes YAML file (one
// or more documents; List items included).
func manifestImages(path string) ([]admission.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--manifest: %w", err)
	}
	if len(data) > admission.MaxReviewBytes*4 {
		return nil, fmt.Errorf("--manifest %s: larger than %d bytes", path, admission.MaxReviewBytes*4)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []admission.Image
	for doc := 1; ; doc++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--manifest %s: document %d: %w", path, doc, err)
		}
		objs := []map[string]any{obj}
		if items, ok := obj["items"].([]any); ok && obj["kind"] == "List" {
			objs = nil
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					objs = append(objs, m)
				}
			}
		}
		for _, o := range objs {
			if o == nil {
				continue
			}
			kind, _ := o["kind"].(string)
			name := ""
			if md, ok := o["metadata"].(map[string]any); ok {
				name, _ = md["name"].(string)
			}
			js, err := json.Marshal(o)
			if err != nil {
				return nil, fmt.Errorf("--manifest %s: document %d: %w", path, doc, err)
			}
			ims, _, err := admission.Images(kind, js)
			if err != nil {
				return nil, fmt.Errorf("--manifest %s: document %d: %w", path, doc, err)
			}
			for _, im := range ims {
				im.Path = fmt.Sprintf("%s:%s/%s %s", path, kind, name, im.Path)
				out = append(out, im)
			}
		}
	}
	return out, nil
}

// serveAdmit runs the webhook over HTTPS until the context ends or the
// process gets SIGINT/SIGTERM.
func serveAdmit(ctx context.Context, o *admitFlags, h http.Handler, stderr io.Writer) error {
	if o.TLSCert == "" || o.TLSKey == "" {
		return inputErrorf("--serve needs --tls-cert and --tls-key: the API server calls webhooks over HTTPS only")
	}
	ln, err := net.Listen("tcp", o.Serve)
	if err != nil {
		return &InputError{Err: fmt.Errorf("--serve %s: %w", o.Serve, err)}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey) }()
	fmt.Fprintf(stderr, "kensa: admission webhook listening on https://%s\n", ln.Addr())
	if o.ready != nil {
		o.ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return &InputError{Err: fmt.Errorf("--serve: %w", err)}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
