package cli

import (
	"context"
	"errors"
	"slices"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/policy/rego"
)

// regoRun holds a scan's compiled --policy rules and the models the
// scanners built for them. A nil *regoRun (no --policy) does nothing.
type regoRun struct {
	engine   *rego.Engine
	subjects rego.Subjects
}

// loadRegoPolicies compiles --policy once, before scanning; a bad policy
// is an *InputError naming its file and line.
func loadRegoPolicies(ctx context.Context, o *scanOptions) error {
	if o.PolicyDir == "" || o.regoPolicies != nil {
		return nil
	}
	e, err := rego.Load(ctx, o.PolicyDir)
	if err != nil {
		return &InputError{Err: err}
	}
	o.regoPolicies = &regoRun{engine: e}
	return nil
}

// noteDockerfile hands the linted Dockerfile to the policies.
func (r *regoRun) noteDockerfile(f *dockerfile.File) {
	if r != nil && r.subjects.Dockerfile == nil {
		r.subjects.Dockerfile = f
	}
}

// noteImage hands the image scan (and the Dockerfile that built it, when
// known) to the policies.
func (r *regoRun) noteImage(res *imagescan.Result, df *dockerfile.File) {
	if r == nil {
		return
	}
	r.subjects.Image = res
	if df != nil {
		r.noteDockerfile(df)
	}
}

// evalRegoPolicies evaluates the policies over the report as the user
// will see it (after ignores, VEX and config) and adds their findings to
// rep, which finishScan then runs through the same policy and gate.
func evalRegoPolicies(o *scanOptions, rep *finding.Report, p *policy.Policy) error {
	r := o.regoPolicies
	if r == nil {
		return nil
	}
	view := *rep
	view.Findings = slices.Clone(rep.Findings)
	view.Suppressed = slices.Clone(rep.Suppressed)
	view.Notes = nil
	policy.Apply(&view, p, o.clock())
	fs, err := r.engine.Eval(context.Background(), rego.NewInput(&view, r.subjects))
	if err != nil {
		var pe *rego.Error
		if errors.As(err, &pe) {
			return &InputError{Err: err}
		}
		return err
	}
	if r.subjects.Image != nil {
		r.subjects.Image.Attribute(fs)
	}
	rep.Findings = append(rep.Findings, fs...)
	return nil
}
