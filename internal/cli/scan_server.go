package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/spf13/pflag"
)

// addServerFlags registers the thin-client flags of `kensa scan`.
func addServerFlags(f *pflag.FlagSet, o *scanOptions) {
	f.StringVar(&o.Server, "server", "", "scan through kensa server at this URL (http(s)://host:port) instead of locally; the image is pulled by the server")
	f.StringVar(&o.Token, "token", "", "kensa server API token (prefer the KENSA_TOKEN environment variable)")
}

// serverPoll is how often the client asks for the job's state.
var serverPoll = 300 * time.Millisecond

// scanViaServer submits target (an image reference) to kensa server,
// waits for the job and writes its report as a local scan would: the
// server runs every scanner, and --scanners, --ignore-unfixed, --vex,
// ignore files, --severity and --exit-code apply here.
func scanViaServer(ctx context.Context, o *scanOptions, target string, stdout, stderr io.Writer) error {
	if target == "" || o.Rootfs != "" {
		return inputErrorf("--server scans an image reference: give one (not --rootfs)")
	}
	if o.Dockerfile != "" {
		return inputErrorf("--dockerfile is not supported with --server")
	}
	base, err := url.Parse(strings.TrimRight(o.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return inputErrorf("--server %q: want http(s)://host[:port]", o.Server)
	}
	if _, _, err := prepareOutput(o); err != nil {
		return err
	}
	if _, err := loadPolicy(o, ""); err != nil {
		return err
	}
	vx, err := policy.LoadVEX(o.VEX)
	if err != nil {
		return &InputError{Err: err}
	}
	c := &serverClient{base: base.String(), token: o.Token, http: &http.Client{Timeout: time.Minute}}
	body, _ := json.Marshal(map[string]string{"image": target})
	var job struct {
		ID     int64  `json:"id"`
		State  string `json:"state"`
		Error  string `json:"error"`
		ScanID int64  `json:"scan_id"`
	}
	if err := c.call(ctx, "POST", "/v1/scans", bytes.NewReader(body), &job); err != nil {
		return err
	}
	if !o.Quiet {
		fmt.Fprintf(stderr, "kensa: submitted %s to %s (job %d)\n", target, o.Server, job.ID)
	}
	for job.State != "done" && job.State != "failed" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(serverPoll):
		}
		if err := c.call(ctx, "GET", fmt.Sprintf("/v1/scans/%d", job.ID), nil, &job); err != nil {
			return err
		}
	}
	if job.State == "failed" {
		return &InputError{Err: fmt.Errorf("server scan of %s failed: %s", target, job.Error)}
	}
	rep := &finding.Report{}
	if err := c.call(ctx, "GET", fmt.Sprintf("/v1/scans/%d/report?format=json", job.ID), nil, rep); err != nil {
		return err
	}
	keep := rep.Findings[:0]
	for _, f := range rep.Findings {
		switch {
		case f.Kind == finding.KindVuln && (!o.scannerEnabled("vuln") || (o.IgnoreUnfixed && f.Package != nil && f.Package.FixedVersion == "")):
		case f.Kind == finding.KindSecret && !o.scannerEnabled("secret"):
		case f.Kind == finding.KindMisconfig && !o.scannerEnabled("misconfig"):
		default:
			keep = append(keep, f)
		}
	}
	rep.Findings = keep
	if !o.scannerEnabled("vuln") && !o.scannerEnabled("inventory") {
		rep.Packages = nil
	}
	vx.Apply(rep)
	rep.Summary = finding.Summary{}
	return finishScan(o, rep, stdout)
}

// serverClient calls kensa server's API.
type serverClient struct {
	base, token string
	http        *http.Client
}

func (c *serverClient) call(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("kensa server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return fmt.Errorf("kensa server: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		err := fmt.Errorf("kensa server: %s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
		if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 400 {
			return &InputError{Err: err}
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kensa server: %s %s: %w", method, path, err)
	}
	return nil
}
