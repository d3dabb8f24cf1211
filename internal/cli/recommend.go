package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/baseimage"
	"github.com/kensa-sec/kensa/internal/bytesize"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newRecommendCmd)
}

// recommendOptions are `kensa recommend`'s own flags.
type recommendOptions struct {
	scan       scanOptions
	Candidates []string
}

func newRecommendCmd() *cobra.Command {
	ro := &recommendOptions{scan: scanOptions{Trivy: trivyOptions{VulnTypes: vulnTypes}}}
	o := &ro.scan
	cmd := &cobra.Command{
		Use:   "recommend IMAGE|Dockerfile",
		Short: "Compare candidate base images: vulnerabilities, size, what changes, whether the app's layers still apply",
		Long: `recommend finds the base image of IMAGE (its Dockerfile's FROM, --base, or the
org.opencontainers.image.base.name label) or of a Dockerfile's final stage,
scans it and each candidate base, and ranks them: fewest critical, high,
medium and low vulnerabilities first, then size. Candidates are --candidates
(archives, OCI layouts or references), else the other tags of the current
base's repository with the same major version (slim, alpine and other
variants included), listed from its registry. Layers already scanned come
from the layer cache, so candidates that share layers are cheap.
  kensa recommend app.tar --base debian-12.tar --candidates debian-12-slim.tar,alpine-3.20.tar
  kensa recommend Dockerfile                 candidates from the FROM image's registry`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			return runRecommend(cmd.Context(), ro, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&ro.Candidates, "candidates", nil, "candidate base images (archives, OCI layouts or references), comma-separated")
	f.StringVar(&o.Base, "base", "", "the current base image, when the target does not name one kensa can open")
	f.StringVar(&o.Dockerfile, "dockerfile", "", "Dockerfile that built IMAGE (its final FROM names the current base)")
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table, json")
	f.StringVar(&o.DBPath, "db", "", "vulnerability database file (default <cache-dir>/db/kensa.db)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	addImageSourceFlags(f, o)
	return cmd
}

// runRecommend scans the current base and the candidates and prints the
// ranking.
func runRecommend(ctx context.Context, ro *recommendOptions, target string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	o := &ro.scan
	if o.Format != "table" && o.Format != "json" {
		return inputErrorf("--format %q: recommend writes table or json", o.Format)
	}
	currentRef, err := currentBase(ctx, o, target, stderr)
	if err != nil {
		return err
	}
	var notes []string
	var current *baseimage.Scanned
	if currentRef != "" {
		if current, err = scanBase(ctx, o, currentRef, stderr); err != nil {
			if o.Base != "" {
				return err
			}
			notes = append(notes, fmt.Sprintf("current base %s not scanned (%v): give it with --base ARCHIVE", currentRef, err))
			current = nil
		}
	}
	cands := ro.Candidates
	if len(cands) == 0 {
		if cands, err = listCandidates(ctx, o, currentRef); err != nil {
			return err
		}
	}
	var scanned []*baseimage.Scanned
	for _, c := range cands {
		s, err := scanBase(ctx, o, c, stderr)
		if err != nil {
			return err
		}
		scanned = append(scanned, s)
	}
	rows := baseimage.Recommend(current, scanned)
	if o.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"target": target, "current": currentRef, "candidates": rows, "notes": notes})
	}
	return writeRecommendTable(stdout, rows, notes)
}

// currentBase names the base to compare against: --base, else the final
// FROM of a Dockerfile target, else the base an image scan finds.
func currentBase(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (string, error) {
	if o.Base != "" {
		return o.Base, nil
	}
	kind, err := detectTarget(o, target)
	if err != nil {
		return "", err
	}
	switch kind {
	case targetDockerfile:
		p := target
		if dp, ok := findDockerfile(target); ok {
			p = dp
		}
		df, err := dockerfile.ParseFile(p)
		if err != nil {
			return "", &InputError{Err: err}
		}
		if st := df.FinalStage(); st != nil && !st.Root().Base.Scratch {
			return st.Root().Base.Resolved, nil
		}
		return "", nil
	case targetImage:
		side := *o
		side.Scanners = []string{"inventory"}
		res, err := runImageScan(ctx, &side, kind, target, stderr)
		if err != nil {
			return "", err
		}
		if b := res.Report.Image.Base; b != nil {
			return b.Name, nil
		}
		return "", nil
	}
	return "", inputErrorf("%s: recommend takes an image or a Dockerfile", target)
}

// scanBase scans one base image for packages and vulnerabilities. A
// missing database is an error: a ranking without it would be empty.
func scanBase(ctx context.Context, o *scanOptions, ref string, stderr io.Writer) (*baseimage.Scanned, error) {
	side := *o
	side.Scanners, side.scannersSet = []string{"vuln"}, true
	side.Dockerfile, side.Base = "", ""
	res, err := runImageScan(ctx, &side, targetImage, ref, stderr)
	if err != nil {
		return nil, fmt.Errorf("candidate %s: %w", ref, err)
	}
	res.Report.Finalize()
	return &baseimage.Scanned{Ref: ref, Report: res.Report}, nil
}

// listCandidates lists the current base's repository's tags and picks
// the candidates among them.
func listCandidates(ctx context.Context, o *scanOptions, currentRef string) ([]string, error) {
	if currentRef == "" {
		return nil, inputErrorf("no current base image found: give --candidates (and --base)")
	}
	var opts []name.Option
	if o.Insecure {
		opts = append(opts, name.Insecure)
	}
	tag, err := name.NewTag(currentRef, opts...)
	if err != nil {
		return nil, inputErrorf("current base %s is not a registry tag to list candidates from: give --candidates", currentRef)
	}
	tags, err := remote.List(tag.Context(), remote.WithContext(ctx))
	if err != nil {
		return nil, inputErrorf("list tags of %s: %v; give --candidates", tag.Context(), err)
	}
	picked := baseimage.CandidateTags(tag.TagStr(), tags)
	if len(picked) == 0 {
		return nil, inputErrorf("%s has no other tags of the same version line: give --candidates", tag.Context())
	}
	out := make([]string, len(picked))
	for i, t := range picked {
		out[i] = tag.Context().Tag(t).String()
	}
	return out, nil
}

func writeRecommendTable(w io.Writer, rows []baseimage.Row, notes []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tBASE\tCRITICAL\tHIGH\tMEDIUM\tLOW\tTOTAL\tPACKAGES\tSIZE\tOS\tCHANGES\tAPP LAYERS")
	for i, r := range rows {
		ref := r.Ref
		if r.Current {
			ref += " (current)"
		}
		changes := "-"
		if !r.Current {
			var parts []string
			if n := len(r.Removed); n > 0 {
				parts = append(parts, fmt.Sprintf("-%d pkgs (%s)", n, short(r.Removed)))
			}
			if n := len(r.Added); n > 0 {
				parts = append(parts, fmt.Sprintf("+%d pkgs (%s)", n, short(r.Added)))
			}
			if len(parts) > 0 {
				changes = strings.Join(parts, " ")
			}
		}
		app := "yes"
		if !r.Compatible {
			app = "no: " + r.Why
		} else if r.Why != "" {
			app = "yes: " + r.Why
		}
		if r.Current {
			app = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", i+1, ref,
			r.Vulns[finding.SeverityCritical.String()], r.Vulns[finding.SeverityHigh.String()],
			r.Vulns[finding.SeverityMedium.String()], r.Vulns[finding.SeverityLow.String()],
			r.Total, r.Packages, bytesize.Format(r.Size), r.OS, changes, app)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) > 0 && !rows[0].Current {
		best := rows[0]
		line := fmt.Sprintf("\nBest: %s, %d vulnerabilities", best.Ref, best.Total)
		for _, r := range rows {
			if r.Current {
				line += fmt.Sprintf(" (current %s: %d)", r.Ref, r.Total)
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	return nil
}

// short lists up to three names.
func short(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:3], ", ") + ", …"
}
