package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/report"
	"github.com/kensa-sec/kensa/internal/trust"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	extraCommands = append(extraCommands, newVerifyCmd, newSignCmd)
}

// trustFlags are the flags that say whom to trust (verify, admit).
type trustFlags struct {
	Keys           []string
	Identity       string
	IdentityRegexp string
	Issuer         string
	IssuerRegexp   string
	TrustedRoot    string
	Offline        bool
	Config         string
	Insecure       bool
	Format         string
}

func addTrustFlags(f *pflag.FlagSet, t *trustFlags) {
	f.StringSliceVar(&t.Keys, "key", nil, "trusted cosign public key (PEM), repeatable; added to trust.keys of kensa.yaml")
	f.StringVar(&t.Identity, "certificate-identity", "", "trusted keyless signer: certificate subject (email or workflow URI)")
	f.StringVar(&t.IdentityRegexp, "certificate-identity-regexp", "", "trusted keyless signer: regular expression for the certificate subject")
	f.StringVar(&t.Issuer, "certificate-oidc-issuer", "", "OIDC issuer of the trusted keyless signer")
	f.StringVar(&t.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "regular expression for the OIDC issuer")
	f.StringVar(&t.TrustedRoot, "trusted-root", "", "sigstore trusted_root.json that anchors keyless signatures (verified offline)")
	f.BoolVar(&t.Offline, "offline", false, "never fetch trust material: keyless needs --trusted-root (kensa fetches none in any case)")
	f.StringVarP(&t.Config, "config", "c", "", "config file with a trust: section (default kensa.yaml in the working directory, if present)")
	f.BoolVar(&t.Insecure, "insecure", false, "allow plain-HTTP registries")
	f.StringVarP(&t.Format, "format", "f", "table", "output format: table, json (verify also: sarif)")
}

// trustConfig loads kensa.yaml (explicit or in the working directory).
func (t *trustFlags) config() (*policy.Config, error) {
	p, err := policyFile(t.Config, "", defaultConfigName)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--config: %w", err)}
	}
	if p == "" {
		return &policy.Config{}, nil
	}
	cfg, err := policy.LoadConfig(p)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	return cfg, nil
}

// options builds the verification options from the flags and cfg.
// needTrust makes "nothing trusted" an error.
func (t *trustFlags) options(cfg *policy.Config, needTrust bool) (trust.VerifyOptions, error) {
	o := trust.VerifyOptions{Registry: trust.Registry{Insecure: t.Insecure}}
	if t.Format != "table" && t.Format != "json" && t.Format != "sarif" {
		return o, inputErrorf("--format %q: want table, json or sarif", t.Format)
	}
	for _, k := range cfg.Trust.Keys {
		pk, err := trust.LoadPublicKey(cfg.Trust.Path(k.Path))
		if err != nil {
			return o, &InputError{Err: fmt.Errorf("trust.keys: %w", err)}
		}
		if k.Name != "" {
			pk.Name = k.Name
		}
		o.Keys = append(o.Keys, pk)
	}
	for _, p := range t.Keys {
		pk, err := trust.LoadPublicKey(p)
		if err != nil {
			return o, &InputError{Err: fmt.Errorf("--key: %w", err)}
		}
		o.Keys = append(o.Keys, pk)
	}
	for _, id := range cfg.Trust.Identities {
		o.Identities = append(o.Identities, trust.Identity(id))
	}
	if t.Identity != "" || t.IdentityRegexp != "" || t.Issuer != "" || t.IssuerRegexp != "" {
		id := trust.Identity{Subject: t.Identity, SubjectRegexp: t.IdentityRegexp, Issuer: t.Issuer, IssuerRegexp: t.IssuerRegexp}
		if (id.Subject == "") == (id.SubjectRegexp == "") || (id.Issuer == "") == (id.IssuerRegexp == "") {
			return o, inputErrorf("keyless: give one of --certificate-identity/--certificate-identity-regexp and one of --certificate-oidc-issuer/--certificate-oidc-issuer-regexp")
		}
		o.Identities = append(o.Identities, id)
	}
	rootPath := t.TrustedRoot
	if rootPath == "" && cfg.Trust.TrustedRoot != "" {
		rootPath = cfg.Trust.Path(cfg.Trust.TrustedRoot)
	}
	if rootPath != "" {
		tr, err := root.NewTrustedRootFromPath(rootPath)
		if err != nil {
			return o, &InputError{Err: fmt.Errorf("--trusted-root %s: %w", rootPath, err)}
		}
		o.TrustedMaterial = tr
	}
	if len(o.Identities) > 0 && o.TrustedMaterial == nil {
		return o, inputErrorf("keyless identities need a sigstore trusted root (--trusted-root or trust.trusted_root): kensa verifies bundles offline and fetches no trust material")
	}
	if needTrust && len(o.Keys) == 0 && len(o.Identities) == 0 {
		return o, inputErrorf("nothing is trusted: give --key cosign.pub or --certificate-identity and --certificate-oidc-issuer, or configure trust.keys / trust.identities in kensa.yaml")
	}
	return o, nil
}

type verifyFlags struct {
	trustFlags
	Dockerfile string
	VerifyBase bool
	Bundle     string
}

func newVerifyCmd() *cobra.Command {
	o := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify IMAGE...",
		Short: "Verify an image's cosign signatures and sigstore bundles against trusted keys and identities",
		Long: `verify finds each IMAGE's signatures (cosign's sha256-<digest>.sig tag and
OCI 1.1 referrers holding sigstore bundles), checks them against the trusted
keys and keyless identities, and checks that the signed payload names
exactly the digest the image resolves to. Exit 1 when an image is not
trusted (findings KS-TR-001..003), 2 on bad input.
  kensa verify registry.example/app:1.2 --key cosign.pub
  kensa verify registry.example/app@sha256:... --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json
  kensa verify --bundle app.sigstore.json --offline registry.example/app@sha256:... --certificate-identity ... --trusted-root ...
  kensa verify --dockerfile Dockerfile [--verify-base] --key publisher.pub    check the FROM images
With --dockerfile, CI files next to it (.github/workflows, .gitlab-ci.yml,
Jenkinsfile, ...) that set DOCKER_CONTENT_TRUST are reported (KS-TR-007,
INFO): Docker Content Trust is deprecated; kensa has no Notary client.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			return runVerify(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	addTrustFlags(f, &o.trustFlags)
	f.StringVar(&o.Dockerfile, "dockerfile", "", "check this Dockerfile's base images (tag-only, trusted_registries; signatures with --verify-base)")
	f.BoolVar(&o.VerifyBase, "verify-base", false, "with --dockerfile: also verify each digest-pinned base image's signatures")
	f.StringVar(&o.Bundle, "bundle", "", "verify this sigstore bundle file for IMAGE@sha256:<digest> without contacting the registry")
	return cmd
}

// verifyOutput is verify's JSON output.
type verifyOutput struct {
	Images   []*trust.Verification `json:"images"`
	Findings []finding.Finding     `json:"findings"`
}

func runVerify(ctx context.Context, o *verifyFlags, images []string, stdout io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(images) == 0 && o.Dockerfile == "" {
		return inputErrorf("verify needs an IMAGE or --dockerfile")
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	// Base images checked only for tags and registries need no keys.
	vo, err := o.options(cfg, len(images) > 0 || o.VerifyBase)
	if err != nil {
		return err
	}
	out := verifyOutput{Images: []*trust.Verification{}, Findings: []finding.Finding{}}
	for _, img := range images {
		ref, err := vo.Registry.ParseReference(img)
		if err != nil {
			return &InputError{Err: err}
		}
		var v *trust.Verification
		if o.Bundle != "" {
			v, err = verifyBundleFile(o.Bundle, img, vo)
		} else {
			v, err = trust.Verify(ctx, ref, vo)
		}
		if err != nil {
			return err
		}
		out.Images = append(out.Images, v)
		out.Findings = append(out.Findings, v.Findings()...)
	}
	if o.Dockerfile != "" {
		df, err := dockerfile.ParseFile(o.Dockerfile)
		if err != nil {
			return &InputError{Err: fmt.Errorf("--dockerfile %s: %w", o.Dockerfile, err)}
		}
		pol := &policy.Policy{Config: cfg}
		fs, err := trust.CheckBases(ctx, df, trust.BaseOptions{TrustedRegistry: pol.Trusted, VerifySignatures: o.VerifyBase, Verify: vo})
		if err != nil {
			return err
		}
		out.Findings = append(out.Findings, fs...)
		// CI files next to the Dockerfile that rely on Docker Content Trust.
		dct, err := trust.ContentTrust(filepath.Dir(o.Dockerfile))
		if err != nil {
			return err
		}
		out.Findings = append(out.Findings, dct...)
	}
	finding.Sort(out.Findings)
	if o.Format == "sarif" {
		target := strings.Join(images, " ")
		if o.Dockerfile != "" {
			target = strings.TrimSpace(target + " " + o.Dockerfile)
		}
		rep := finding.NewReport(target, "trust")
		rep.Findings = out.Findings
		rep.Finalize()
		w, err := report.New("sarif", writerOptions(&scanOptions{}))
		if err != nil {
			return err
		}
		if err := w.Write(stdout, rep); err != nil {
			return err
		}
	} else if o.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		writeVerifyTable(stdout, out)
	}
	// INFO findings (Docker Content Trust) inform; the rest fail.
	for _, f := range out.Findings {
		if f.Severity > finding.SeverityInfo {
			return &exitError{code: 1}
		}
	}
	return nil
}

// verifyBundleFile verifies a local sigstore bundle for a digest reference.
func verifyBundleFile(path, image string, vo trust.VerifyOptions) (*trust.Verification, error) {
	at := strings.LastIndex(image, "@")
	if at < 0 {
		return nil, inputErrorf("--bundle: %s: give the image by digest (IMAGE@sha256:...): offline there is no registry to resolve a tag", image)
	}
	digest := image[at+1:]
	st, err := os.Stat(path)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--bundle: %w", err)}
	}
	if st.Size() > 4<<20 {
		return nil, inputErrorf("--bundle %s: larger than 4 MiB", path)
	}
	b, err := bundle.LoadJSONFromPath(path)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--bundle %s: %w", path, err)}
	}
	v := &trust.Verification{Reference: image[:at], Digest: digest}
	v.Signatures = append(v.Signatures, trust.VerifyEntity("bundle "+path, b, digest, vo))
	return v, nil
}

func writeVerifyTable(w io.Writer, out verifyOutput) {
	for _, v := range out.Images {
		state := "NOT TRUSTED"
		if v.Trusted() {
			state = "TRUSTED"
		}
		fmt.Fprintf(w, "%s@%s: %s (%s)\n", v.Reference, v.Digest, state, v.Reason())
		for _, s := range v.Signatures {
			who := s.Signer
			if who == "" {
				who = "unknown signer"
			}
			if s.Issuer != "" {
				who += " (issuer " + s.Issuer + ")"
			}
			fmt.Fprintf(w, "  - %s [%s] %s: %s\n", s.Source, s.Kind, s.Status, who)
			if s.KeyID != "" {
				fmt.Fprintf(w, "      key %s\n", s.KeyID)
			}
			if s.SignedDigest != "" {
				fmt.Fprintf(w, "      signed %s %s\n", s.SignedReference, s.SignedDigest)
			}
			if s.Time != nil {
				fmt.Fprintf(w, "      time %s from %s\n", s.Time.Format(time.RFC3339), s.TimeSource)
			}
			rekor := s.Rekor
			if rekor == "" {
				rekor = "no transparency-log entry"
			}
			fmt.Fprintf(w, "      rekor: %s\n", rekor)
			if s.Problem != "" {
				fmt.Fprintf(w, "      problem: %s\n", s.Problem)
			}
		}
	}
	for _, f := range out.Findings {
		loc := f.Location.Path
		if f.Location.Line > 0 {
			loc = fmt.Sprintf("%s:%d", loc, f.Location.Line)
		}
		fmt.Fprintf(w, "%s %s %s: %s\n", f.Severity, f.ID, loc, f.Message)
	}
}

// keyPassword is the private key password: KENSA_PASSWORD, else
// COSIGN_PASSWORD (cosign's variable), else none.
func keyPassword() []byte {
	if p, ok := os.LookupEnv("KENSA_PASSWORD"); ok {
		return []byte(p)
	}
	return []byte(os.Getenv("COSIGN_PASSWORD"))
}

func newSignCmd() *cobra.Command {
	var key string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "sign IMAGE",
		Short: "Sign an image digest with a cosign key, in cosign's format (sha256-<digest>.sig)",
		Long: `sign resolves IMAGE to its digest and appends a cosign simple-signing
signature to its sha256-<digest>.sig tag. The key is cosign's encrypted
format (password from KENSA_PASSWORD or COSIGN_PASSWORD) or plain PKCS#8.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			if key == "" {
				return inputErrorf("sign needs --key cosign.key")
			}
			pk, err := trust.LoadPrivateKey(key, keyPassword())
			if err != nil {
				return &InputError{Err: err}
			}
			reg := trust.Registry{Insecure: insecure}
			ref, err := reg.ParseReference(args[0])
			if err != nil {
				return &InputError{Err: err}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			d, err := reg.Resolve(ctx, ref)
			if err != nil {
				return err
			}
			if err := trust.Sign(ctx, d, pk, trust.SignOptions{Registry: reg}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s with %s\n", d, pk.Public.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key (PEM)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain-HTTP registries")
	return cmd
}
