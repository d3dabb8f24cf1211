package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/kensa-sec/kensa/internal/harden"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newHardenCmd) }

// newHardenCmd builds `kensa harden IMAGE --format compose|k8s|docker-run|cloudrun`.
func newHardenCmd() *cobra.Command {
	o := &scanOptions{}
	format := "compose"
	cmd := &cobra.Command{
		Use:   "harden IMAGE",
		Short: "Print the locked-down runtime settings an image needs (compose, k8s, docker run, Cloud Run)",
		Long: `harden reads the image once and prints the settings that let it run locked
down: the non-root uid:gid to run as (config User, /etc/passwd, or the owner
of the app's files), a read-only root filesystem with tmpfs/emptyDir mounts
only where the image writes (declared VOLUMEs, /tmp, /run, known package
paths such as nginx's cache, log and temp folders, empty folders the
runtime user owns), cap_drop ALL plus the capabilities it proves it needs
(NET_BIND_SERVICE for a port below 1024 as non-root), no-new-privileges,
the default seccomp profile, and its exposed ports:
  kensa harden app.tar                       compose service (default)
  kensa harden registry.example/app:1.2 --format k8s
  kensa harden app.tar --format docker-run   docker/podman run flags
  kensa harden app.tar --format cloudrun     Knative Service for Cloud Run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return runHarden(cmd.Context(), o, target, format, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", format, "output: compose, k8s, docker-run, cloudrun")
	f.StringVarP(&o.Output, "output", "o", "", "write to this file instead of stdout")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	addImageSourceFlags(f, o)
	return cmd
}

// hardenProfile opens an image target and derives its profile.
func hardenProfile(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (*harden.Profile, error) {
	kind, err := detectTarget(o, target)
	if err != nil {
		return nil, err
	}
	if kind != targetImage && kind != targetRootfs {
		return nil, inputErrorf("%s: harden needs an image (archive, OCI layout, registry reference or --rootfs), not a %s", target, kind)
	}
	src, err := openImageSource(ctx, o, kind, target, stderr)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// The merged view is needed, so no image cache (it keeps findings only).
	res, err := imagescan.Scan(ctx, src, target, imagescan.Options{Scanners: imagescan.Scanners{Misconfig: true}, MaxFileSize: o.MaxFile})
	if err != nil {
		var ie *imagescan.InputError
		if errors.As(err, &ie) {
			return nil, &InputError{Err: err}
		}
		return nil, err
	}
	if res.Merged == nil {
		return nil, fmt.Errorf("%s: no merged filesystem view", target)
	}
	name := target
	if kind == targetRootfs {
		name = o.Rootfs
	} else if len(src.Names) > 0 {
		name = src.Names[0]
	}
	return harden.Derive(name, src.Config, harden.MergedFS{Image: res.Merged})
}

func runHarden(ctx context.Context, o *scanOptions, target, format string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !slices.Contains(harden.Formats, format) {
		_, err := harden.Render(&harden.Profile{}, format)
		return &InputError{Err: fmt.Errorf("--format: %w", err)}
	}
	p, err := hardenProfile(ctx, o, target, stderr)
	if err != nil {
		return err
	}
	out, err := harden.Render(p, format)
	if err != nil {
		return &InputError{Err: err}
	}
	if o.Output != "" {
		if err := os.WriteFile(o.Output, []byte(out), 0o644); err != nil {
			return &InputError{Err: fmt.Errorf("--output: %w", err)}
		}
		return nil
	}
	_, err = io.WriteString(stdout, out)
	return err
}
