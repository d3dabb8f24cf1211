package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newServerHealthCmd is `kensa server healthcheck`: a container health
// check for images without a shell or curl (deploy/compose.yaml).
func newServerHealthCmd() *cobra.Command {
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when kensa server's /healthz answers ok (its database is reachable)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := bindEnv(c); err != nil {
				return &InputError{Err: err}
			}
			u, err := url.Parse(strings.TrimRight(addr, "/"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return inputErrorf("--url %q: want http(s)://host:port", addr)
			}
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			return serverHealth(ctx, u.String()+"/healthz", c.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "url", "http://127.0.0.1:8080", "kensa server's base URL")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

func serverHealth(ctx context.Context, u string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	fmt.Fprintln(out, strings.TrimSpace(string(b)))
	return nil
}
