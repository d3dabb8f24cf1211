package cli

import (
	"context"
	"errors"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
)

// scanImage scans an image (archive, layout, registry) or a rootfs folder.
func scanImage(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*finding.Report, error) {
	return nil, errors.New("image scanning: not wired yet")
}
