package cli

import (
	"context"
	"errors"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
)

// scanDockerfile lints a Dockerfile or a folder holding one and its build context.
func scanDockerfile(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (*finding.Report, error) {
	return nil, errors.New("dockerfile scanning: not wired yet")
}
